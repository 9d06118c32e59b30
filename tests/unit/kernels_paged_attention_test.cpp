// Paged attention (kernels/cpu/paged_attention.h) against the contiguous reference (kernels/cpu/attention.h).
// Tolerance: none for the invariant kernel — it computes the reference's operations in the reference's order, so its
// outputs are asserted BITWISE equal, and bitwise unchanged by the other rows of a batch, by the block table holding
// the same data, by the thread count and by the path (AVX2 / scalar). The split-KV kernel of Mode::Fast is checked
// within 2e-6 times max |v| (outputs are convex combinations of v rows).
//
// bf16 caches (cpu_kv bf16): every test above runs on a bf16 copy of the cache too, against the reference on K and V
// rounded to bf16 — bitwise, every path, as the fp32 cache. And the bf16 cache's output against the fp32 reference on
// the unrounded K and V, on fresh random inputs each run (seed printed; VERBATIM_TEST_SEED reproduces it), within the
// error bound that rounding K and V to bf16 (relative error <= 2^-9 each) allows:
//   |score error| <= d = 2^-9 * sum_i |q_i k_i| / sqrt(head_dim)   (+ fp32 rounding)
//   |out error|   <= max|v| (1 + 2^-9) (exp(2 max_t d_t) - 1) + 2^-9 max|v|  (the weights move by at most
//                    exp(2 d) - 1 in L1; the rounded v by 2^-9 |v|), plus slack for fp32 rounding
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/paged_attention_split.h"
#include "support/test_support.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

struct Config {
  int block_size, n_heads, n_kv_heads, head_dim;
};
// GQA 4:1, MHA, MQA; head_dim 6 .. 130 (past 64: two passes over V; not a multiple of 8: masked tails; odd: the bf16
// cache's scalar fallback); block sizes that are and are not multiples of the 8-lane vector (odd ones: the bf16
// cache's chunks that end a block at an odd length take the scalar path).
const Config kConfigs[] = {{16, 8, 2, 16}, {5, 4, 4, 8},  {1, 2, 1, 24}, {8, 6, 3, 72},
                           {3, 4, 2, 130}, {12, 2, 2, 6}, {4, 2, 1, 7}};

using verbatim::testing::test_seed;

// Which copy of the cache a run reads: the fp32 one, or the bf16 one (paged_kv_write's rounding of the same data).
enum class Kv { F32, Bf16 };
const Kv kKvs[] = {Kv::F32, Kv::Bf16};
const char* kv_name(Kv kv) {
  return kv == Kv::Bf16 ? "bf16" : "fp32";
}

std::vector<float> random_vec(size_t n, std::mt19937_64& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// One layer's paged cache and the sequences stored in it, in fp32 and (the same writes) in bf16.
struct Cache {
  PagedKvLayout l;
  int num_blocks;
  std::vector<float> k, v;       // [num_blocks][block floats]
  std::vector<uint16_t> kb, vb;  // the bf16 cache, the same layout
  std::vector<int32_t> free;     // block ids not yet given out, shuffled
  Cache(const Config& c, int blocks, std::mt19937_64& rng)
      : l{.block_size = c.block_size, .n_kv_heads = c.n_kv_heads, .head_dim = c.head_dim}, num_blocks(blocks) {
    k.assign(static_cast<size_t>(blocks * l.block_floats()), std::nanf(""));  // unwritten slots are never read
    v = k;
    kb.assign(k.size(), f32_to_bf16(std::nanf("")));
    vb = kb;
    free.resize(blocks);
    std::iota(free.begin(), free.end(), 0);
    std::shuffle(free.begin(), free.end(), rng);
  }
};

struct Sequence {
  std::vector<float> k, v;    // [n_ctx, kv_dim] contiguous, as the reference reads them
  std::vector<float> kr, vr;  // k, v rounded to bf16 (what the bf16 cache holds), as fp32
  std::vector<int32_t> blocks;
  int64_t n_ctx = 0;
};

// A sequence of n_ctx random positions, written into `cache` through paged_kv_write, one step of all rows.
Sequence store(Cache& cache, int64_t n_ctx, std::mt19937_64& rng, int threads = 1) {
  Sequence s;
  s.n_ctx = n_ctx;
  s.k = random_vec(static_cast<size_t>(n_ctx * cache.l.kv_dim()), rng);
  s.v = random_vec(s.k.size(), rng, 3.0f);
  const int64_t n_blocks = (n_ctx + cache.l.block_size - 1) / cache.l.block_size;
  for (int64_t b = 0; b < n_blocks; ++b) {
    s.blocks.push_back(cache.free.back());
    cache.free.pop_back();
  }
  std::vector<int32_t> pos(n_ctx);
  std::iota(pos.begin(), pos.end(), 0);
  std::vector<const int32_t*> tables(n_ctx, s.blocks.data());
  const PagedRows rows{.n_rows = n_ctx, .positions = pos.data(), .blocks = tables.data()};
  paged_kv_write(s.k.data(), s.v.data(), rows, cache.k.data(), cache.v.data(), cache.l, threads);
  paged_kv_write(s.k.data(), s.v.data(), rows, cache.kb.data(), cache.vb.data(), cache.l, threads);
  s.kr = s.k;
  s.vr = s.v;
  for (float& x : s.kr) x = bf16_to_f32(f32_to_bf16(x));
  for (float& x : s.vr) x = bf16_to_f32(f32_to_bf16(x));
  return s;
}

// The contiguous reference on the sequence's K/V as stored in the `kv` cache (bf16: rounded).
std::vector<float> reference(const Config& c, const Sequence& s, const float* q, int64_t pos, Kv kv = Kv::F32) {
  std::vector<float> out(static_cast<size_t>(c.n_heads) * c.head_dim), scores(pos + 1);
  const std::vector<float>& k = kv == Kv::Bf16 ? s.kr : s.k;
  const std::vector<float>& v = kv == Kv::Bf16 ? s.vr : s.v;
  attention(q, k.data(), v.data(), scores.data(), out.data(),
            {.n_heads = c.n_heads,
             .n_kv_heads = c.n_kv_heads,
             .head_dim = c.head_dim,
             .n_ctx = pos + 1,
             .kv_stride = static_cast<int64_t>(c.n_kv_heads) * c.head_dim});
  return out;
}

// Rows (sequence, position) with their queries, run through paged_attention (splits > 0: paged_attention_split)
// over the `kv` copy of the cache.
std::vector<float> run(const Config& c, const Cache& cache, const std::vector<const Sequence*>& seqs,
                       const std::vector<int32_t>& positions, const std::vector<float>& q, int threads, AttnPath path,
                       int splits = 0, Kv kv = Kv::F32) {
  const int64_t n = static_cast<int64_t>(seqs.size());
  std::vector<const int32_t*> tables(n);
  for (int64_t r = 0; r < n; ++r) tables[r] = seqs[r]->blocks.data();
  const PagedRows rows{.n_rows = n, .positions = positions.data(), .blocks = tables.data()};
  std::vector<float> out(q.size(), -7.0f);
  const int64_t max_pos = *std::max_element(positions.begin(), positions.end());
  if (splits == 0) {
    std::vector<float> scratch(paged_attention_scratch_floats(max_pos, threads));
    const PagedAttentionParams p{.n_heads = c.n_heads, .kv = cache.l, .threads = threads, .path = path};
    if (kv == Kv::Bf16) {
      paged_attention(q.data(), cache.kb.data(), cache.vb.data(), rows, out.data(), scratch.data(), scratch.size(), p);
    } else {
      paged_attention(q.data(), cache.k.data(), cache.v.data(), rows, out.data(), scratch.data(), scratch.size(), p);
    }
  } else {
    const SplitAttentionParams sp{.n_heads = c.n_heads, .kv = cache.l, .threads = threads, .splits = splits};
    std::vector<float> scratch(paged_attention_split_scratch_floats(n, max_pos, sp));
    if (kv == Kv::Bf16) {
      paged_attention_split(q.data(), cache.kb.data(), cache.vb.data(), rows, out.data(), scratch.data(),
                            scratch.size(), sp);
    } else {
      paged_attention_split(q.data(), cache.k.data(), cache.v.data(), rows, out.data(), scratch.data(), scratch.size(),
                            sp);
    }
  }
  return out;
}

bool same_bits(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

TEST(KernelsPagedAttention, ReportsItsPath) {
  std::printf("paged attention path: %s (avx512 %s, avx2 %s; the bitwise tests run every available path)\n",
              paged_attention_path(), attention_path_available(AttnPath::Avx512) ? "yes" : "no",
              attention_path_available(AttnPath::Avx2) ? "yes" : "no");
}

TEST(KernelsPagedAttention, BitwiseEqualToContiguousReference) {
  std::mt19937_64 rng(1);
  for (const Config& c : kConfigs) {
    for (int64_t n_ctx : {1, 2, 9, 37, 100}) {
      Cache cache(c, static_cast<int>(n_ctx / c.block_size + 2), rng);
      const Sequence s = store(cache, n_ctx, rng);
      const int width = c.n_heads * c.head_dim;
      // Every position of the sequence as one row each (a one-shot prefill), against the reference row by row.
      std::vector<const Sequence*> seqs(n_ctx, &s);
      std::vector<int32_t> pos(n_ctx);
      std::iota(pos.begin(), pos.end(), 0);
      const std::vector<float> q = random_vec(static_cast<size_t>(n_ctx * width), rng, 2.0f);
      for (Kv kv : kKvs) {
        for (AttnPath path : {AttnPath::Auto, AttnPath::Scalar, AttnPath::Avx2, AttnPath::Avx512}) {
          if (!attention_path_available(path)) continue;  // (ReportsItsPath prints which the CPU has)
          const std::vector<float> out = run(c, cache, seqs, pos, q, 2, path, 0, kv);
          for (int64_t p = 0; p < n_ctx; ++p) {
            const std::vector<float> want = reference(c, s, q.data() + p * width, p, kv);
            ASSERT_TRUE(same_bits(out.data() + p * width, want.data(), width))
                << "bs " << c.block_size << " heads " << c.n_heads << "/" << c.n_kv_heads << " hd " << c.head_dim
                << " pos " << p << " path " << static_cast<int>(path) << " kv " << kv_name(kv);
          }
        }
      }
    }
  }
}

TEST(KernelsPagedAttention, RowIsUnchangedByBatchBlockTableAndThreads) {
  std::mt19937_64 rng(2);
  for (const Config& c : kConfigs) {
    for (Kv kv : kKvs) {
      const int width = c.n_heads * c.head_dim;
      Cache cache(c, 200, rng);
      const Sequence a = store(cache, 45, rng);
      const std::vector<float> qa = random_vec(width, rng, 2.0f);
      const std::vector<float> alone = run(c, cache, {&a}, {44}, qa, 1, AttnPath::Auto, 0, kv);

      // The same data under another block table, in another cache.
      Cache other_cache(c, 200, rng);
      Sequence a2 = a;
      {
        std::mt19937_64 copy_rng(99);
        a2 = store(other_cache, 45, copy_rng);  // new blocks; then overwrite with a's data
        a2.k = a.k;
        a2.v = a.v;
        std::vector<int32_t> pos(45);
        std::iota(pos.begin(), pos.end(), 0);
        std::vector<const int32_t*> tables(45, a2.blocks.data());
        const PagedRows rows{.n_rows = 45, .positions = pos.data(), .blocks = tables.data()};
        paged_kv_write(a.k.data(), a.v.data(), rows, other_cache.k.data(), other_cache.v.data(), other_cache.l, 1);
        paged_kv_write(a.k.data(), a.v.data(), rows, other_cache.kb.data(), other_cache.vb.data(), other_cache.l, 1);
      }
      ASSERT_NE(a.blocks, a2.blocks);
      EXPECT_TRUE(
          same_bits(run(c, other_cache, {&a2}, {44}, qa, 1, AttnPath::Auto, 0, kv).data(), alone.data(), width));

      // Beside other sequences: b's decode row, a's row, c's prefill rows.
      const Sequence b = store(cache, 17, rng), d = store(cache, 60, rng);
      std::vector<const Sequence*> seqs = {&b, &a};
      std::vector<int32_t> pos = {16, 44};
      for (int p = 50; p < 60; ++p) seqs.push_back(&d), pos.push_back(p);
      std::vector<float> q = random_vec(seqs.size() * width, rng, 2.0f);
      std::copy(qa.begin(), qa.end(), q.begin() + width);  // row 1 is a's
      for (int threads : {1, 2, 3}) {
        const std::vector<float> out = run(c, cache, seqs, pos, q, threads, AttnPath::Auto, 0, kv);
        EXPECT_TRUE(same_bits(out.data() + width, alone.data(), width))
            << "threads " << threads << " kv " << kv_name(kv);
      }
    }
  }
}

TEST(KernelsPagedAttention, SplitKvStaysWithinToleranceOfReference) {
  std::mt19937_64 rng(3);
  for (const Config& c : kConfigs) {
    const int width = c.n_heads * c.head_dim;
    Cache cache(c, 100, rng);
    const Sequence s = store(cache, 70, rng);
    std::vector<const Sequence*> seqs = {&s, &s, &s};
    const std::vector<int32_t> pos = {0, 33, 69};
    const std::vector<float> q = random_vec(3 * width, rng, 2.0f);
    for (Kv kv : kKvs) {
      for (int splits : {1, 2, 3, 5}) {
        for (int threads : {1, 2}) {
          const std::vector<float> out = run(c, cache, seqs, pos, q, threads, AttnPath::Auto, splits, kv);
          for (int r = 0; r < 3; ++r) {
            const std::vector<float> want = reference(c, s, q.data() + r * width, pos[r], kv);
            for (int i = 0; i < width; ++i)
              ASSERT_NEAR(out[r * width + i], want[i], 2e-6 * 3.0)
                  << "splits " << splits << " row " << r << " i " << i << " kv " << kv_name(kv);
          }
        }
      }
    }
  }
}

TEST(KernelsPagedAttention, KvWriteLayout) {
  std::mt19937_64 rng(4);
  const Config c{4, 2, 2, 3};  // kv_dim 6
  Cache cache(c, 8, rng);
  const Sequence s = store(cache, 10, rng);
  for (int64_t p = 0; p < 10; ++p) {
    const int64_t block = s.blocks[p / 4], off = p % 4;
    for (int64_t ch = 0; ch < 6; ++ch) {
      const int64_t head = ch / 3, d = ch % 3;
      EXPECT_EQ(cache.k[block * 24 + ch * 4 + off], s.k[p * 6 + ch]);  // K block [kv_dim][block_size]
      EXPECT_EQ(cache.v[block * 24 + (head * 4 + off) * 3 + d],
                s.v[p * 6 + ch]);  // V [n_kv_heads][block_size][head_dim]
      // The bf16 cache: the same slots, each value rounded to nearest even.
      EXPECT_EQ(cache.kb[block * 24 + ch * 4 + off], f32_to_bf16(s.k[p * 6 + ch]));
      EXPECT_EQ(cache.vb[block * 24 + (head * 4 + off) * 3 + d], f32_to_bf16(s.v[p * 6 + ch]));
    }
  }
  // Round to nearest even, not truncation: a value just above a bf16 halfway point rounds up.
  std::vector<int32_t> pos0 = {0};
  std::vector<const int32_t*> tables = {s.blocks.data()};
  std::vector<float> k(6, 1.0f + 3.0f / 512.0f), v(6, -(1.0f + 3.0f / 512.0f));  // 1 + 0.75 bf16 ulp
  paged_kv_write(k.data(), v.data(), {.n_rows = 1, .positions = pos0.data(), .blocks = tables.data()}, cache.kb.data(),
                 cache.vb.data(), cache.l, 1);
  EXPECT_EQ(bf16_to_f32(cache.kb[s.blocks[0] * 24]), 1.0f + 1.0f / 128.0f);
  EXPECT_EQ(bf16_to_f32(cache.vb[s.blocks[0] * 24]), -(1.0f + 1.0f / 128.0f));
}

// The bf16 cache against the fp32 reference on the unrounded K/V: fresh random inputs each run, every path, within
// the bound of the header comment (computed from the data, per row and head), and really rounded (not all equal).
TEST(KernelsPagedAttention, Bf16CacheWithinRoundingBoundOfFp32Reference) {
  std::mt19937_64 rng(test_seed() + 11);
  int64_t compared = 0, differing = 0;
  double worst_ratio = 0.0;  // |error| / bound
  for (const Config& c : kConfigs) {
    const int width = c.n_heads * c.head_dim;
    const int group = c.n_heads / c.n_kv_heads;
    const int64_t kv_dim = static_cast<int64_t>(c.n_kv_heads) * c.head_dim;
    std::uniform_int_distribution<int64_t> ctx_len(1, 150);
    const int64_t n_ctx = ctx_len(rng);
    Cache cache(c, static_cast<int>(n_ctx / c.block_size + 2), rng);
    const Sequence s = store(cache, n_ctx, rng);
    float max_v = 0.0f;
    for (float x : s.v) max_v = std::max(max_v, std::abs(x));
    // A few rows of the sequence, the last one included.
    std::vector<const Sequence*> seqs;
    std::vector<int32_t> pos;
    for (int64_t p = n_ctx - 1; p >= 0; p -= 1 + static_cast<int64_t>(rng() % 23)) seqs.push_back(&s), pos.push_back(p);
    const std::vector<float> q = random_vec(seqs.size() * width, rng, 2.0f);
    for (AttnPath path : {AttnPath::Scalar, AttnPath::Avx2, AttnPath::Avx512}) {
      if (!attention_path_available(path)) continue;
      const std::vector<float> out = run(c, cache, seqs, pos, q, 2, path, 0, Kv::Bf16);
      for (size_t r = 0; r < seqs.size(); ++r) {
        const float* qr = q.data() + r * width;
        const std::vector<float> want = reference(c, s, qr, pos[r]);
        for (int h = 0; h < c.n_heads; ++h) {
          const int kvh = h / group;
          double d_max = 0.0;  // the largest score error bf16 K allows
          for (int64_t t = 0; t <= pos[r]; ++t) {
            double sum = 0.0;
            for (int i = 0; i < c.head_dim; ++i)
              sum += std::abs(static_cast<double>(qr[h * c.head_dim + i]) * s.k[t * kv_dim + kvh * c.head_dim + i]);
            // bf16 rounding of K (2^-9), plus slack for both sides' fp32 roundings of the dot (head_dim * 2^-23)
            const double rel = std::ldexp(1.0, -9) + c.head_dim * std::ldexp(1.0, -23);
            d_max = std::max(d_max, sum * rel / std::sqrt(static_cast<double>(c.head_dim)));
          }
          const double u = std::ldexp(1.0, -9);
          const double bound = max_v * ((1.0 + u) * std::expm1(2.0 * d_max) + u) + 1e-5 * max_v;
          for (int i = 0; i < c.head_dim; ++i) {
            const double got = out[r * width + h * c.head_dim + i], ref = want[h * c.head_dim + i];
            const double err = std::abs(got - ref);
            ++compared;
            differing += got != ref;
            worst_ratio = std::max(worst_ratio, err / bound);
            ASSERT_LE(err, bound) << "bs " << c.block_size << " hd " << c.head_dim << " pos " << pos[r] << " head " << h
                                  << " i " << i << " path " << static_cast<int>(path);
          }
        }
      }
    }
  }
  std::printf("bf16 KV cache vs fp32 reference: %lld of %lld outputs differ, worst |error| / bound = %.3f\n",
              static_cast<long long>(differing), static_cast<long long>(compared), worst_ratio);
  EXPECT_GT(differing, compared / 2);  // the rounding is really there
}

}  // namespace
}  // namespace verbatim::kernels::cpu

// The CUDA paged attention (src/kernels/cuda/paged_attention.cuh) on a real GPU: accuracy against the CPU oracle
// (kernels/cpu/paged_attention.h) on fresh random inputs, bitwise invariance of a row across launch shapes (other
// sequences, their number, row placement, max_splits, prefill chunk vs decode row, the rows-per-CTA hint), the
// too-small max_splits path, and the refusal of bad parameters. Tests that need a GPU skip, loudly, without one;
// the parameter checks run everywhere (they fail before any CUDA call).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/rope.h"
#include "kernels/cuda/paged_attention.cuh"
#include "util/error.h"
#include "util/half.h"

namespace verbatim::cuda_kernels {
namespace {

using cuda::test::fresh_seed;
#define REQUIRE_GPU() REQUIRE_GPU_FOR("CUDA paged-attention")

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("test", std::string(what) + ": " + cudaGetErrorString(e));
}

// A device buffer that frees itself.
struct Dev {
  void* p = nullptr;
  size_t bytes = 0;
  Dev() = default;
  explicit Dev(size_t n) : bytes(n) {
    if (n > 0) ck(cudaMalloc(&p, n), "cudaMalloc");
  }
  ~Dev() {
    if (p != nullptr) (void)cudaFree(p);
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  void alloc(size_t n) {
    if (p != nullptr) (void)cudaFree(p);
    p = nullptr;
    bytes = n;
    ck(cudaMalloc(&p, n), "cudaMalloc");
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

template <typename T>
void upload(Dev& d, const std::vector<T>& v) {
  if (d.bytes < v.size() * sizeof(T)) d.alloc(std::max<size_t>(v.size() * sizeof(T), 16));
  if (!v.empty()) ck(cudaMemcpy(d.p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  // cudaMemcpy from pageable memory may return before its DMA has landed, and work on a non-blocking stream is not
  // ordered after the legacy stream's copies: wait for it.
  ck(cudaDeviceSynchronize(), "upload");
}

struct Shape {
  int n_heads, n_kv_heads, head_dim, block_size;
};

// A KV cache of one layer (random bf16) holding a set of sequences, each with its own shuffled blocks, plus the
// same cache in the CPU oracle's fp32 layout.
struct World {
  Shape s;
  int num_blocks = 0;
  std::vector<int> seq_len;          // positions written per sequence
  std::vector<int32_t> table_begin;  // per sequence
  std::vector<int32_t> block_table;  // concatenated
  std::vector<uint16_t> k, v;        // CUDA layout [blk][kvh][slot][hd]
  std::vector<float> k_cpu, v_cpu;   // oracle layout: K [blk][kv_dim][bs], V [blk][kvh][bs][hd] (the CUDA one)
  Dev d_k, d_v, d_table, d_begin;

  // cpu_layout: also build the oracle's fp32 copy (only the oracle tests need it).
  World(Shape shape, const std::vector<int>& lens, std::mt19937_64& rng, bool cpu_layout = true)
      : s(shape), seq_len(lens) {
    const int bs = s.block_size;
    for (int len : lens) num_blocks += (len + bs - 1) / bs;
    num_blocks += 7;  // some blocks no sequence owns
    std::vector<int32_t> perm(num_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    int next = 0;
    for (int len : lens) {
      table_begin.push_back(static_cast<int32_t>(block_table.size()));
      for (int b = 0; b < (len + bs - 1) / bs; ++b) block_table.push_back(perm[next++]);
    }
    const int64_t kv_dim = static_cast<int64_t>(s.n_kv_heads) * s.head_dim;
    const int64_t n = num_blocks * kv_dim * bs;
    k.resize(n), v.resize(n);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (auto& x : k) x = f32_to_bf16(dist(rng));
    for (auto& x : v) x = f32_to_bf16(dist(rng));
    if (cpu_layout) k_cpu.resize(n), v_cpu.resize(n);
    for (int64_t blk = 0; cpu_layout && blk < num_blocks; ++blk) {
      for (int h = 0; h < s.n_kv_heads; ++h) {
        for (int slot = 0; slot < bs; ++slot) {
          for (int d = 0; d < s.head_dim; ++d) {
            const int64_t src = ((blk * s.n_kv_heads + h) * bs + slot) * s.head_dim + d;
            const int64_t c = static_cast<int64_t>(h) * s.head_dim + d;
            k_cpu[blk * kv_dim * bs + c * bs + slot] = bf16_to_f32(k[src]);
            v_cpu[src] = bf16_to_f32(v[src]);  // kernels/cpu/paged_attention.h: V blocks are head-major
          }
        }
      }
    }
    upload(d_k, k), upload(d_v, v), upload(d_table, block_table), upload(d_begin, table_begin);
  }
};

struct Row {
  int seq, pos;
};

struct Launch {
  std::vector<Row> rows;
  std::vector<uint16_t> q;  // [rows][n_heads * head_dim]
};

// Random q rows for `rows`.
Launch make_launch(const World& w, std::vector<Row> rows, std::mt19937_64& rng) {
  Launch l{std::move(rows), {}};
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  l.q.resize(l.rows.size() * static_cast<size_t>(w.s.n_heads) * w.s.head_dim);
  for (auto& x : l.q) x = f32_to_bf16(dist(rng));
  return l;
}

// split_min 0: one fixed split size; else grown from split_min with the kernel's default split_target.
int needed_splits(const Launch& l, int split, int split_min = 0) {
  int n = 1;
  for (const Row& r : l.rows)
    n = std::max(n, paged_attention_splits(r.pos, split, split_min, PagedAttentionParams{}.split_target));
  return n;
}

// Runs the CUDA kernel; output poisoned (NaN) first. max_splits <= 0: exactly the needed count. On a stream of its own
// (the engine's case: kernels launched as programmatic dependents, pdl.cuh), or on the legacy default stream (plain
// launches).
std::vector<uint16_t> run_gpu(const World& w, const Launch& l, int split, int max_splits, int hint,
                              bool legacy_stream = false, int split_min = 0) {
  cudaStream_t s = nullptr;
  if (!legacy_stream) ck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream");
  const int n_rows = static_cast<int>(l.rows.size());
  if (max_splits <= 0) max_splits = needed_splits(l, split, split_min);
  std::vector<int32_t> pos(n_rows), seq(n_rows);
  for (int r = 0; r < n_rows; ++r) pos[r] = l.rows[r].pos, seq[r] = l.rows[r].seq;
  Dev d_q, d_pos, d_seq;
  upload(d_q, l.q), upload(d_pos, pos), upload(d_seq, seq);
  const size_t out_bytes = l.q.size() * 2;
  Dev d_out(std::max<size_t>(out_bytes, 16));
  ck(cudaMemsetAsync(d_out.p, 0xFF, out_bytes, s), "poison");
  Dev d_ws(std::max<size_t>(paged_attention_workspace_bytes(n_rows, w.s.n_heads, w.s.head_dim, max_splits), 16));
  PagedAttentionParams p;
  p.q = d_q.as<__nv_bfloat16>();
  p.out = d_out.as<__nv_bfloat16>();
  p.k_cache = w.d_k.as<__nv_bfloat16>();
  p.v_cache = w.d_v.as<__nv_bfloat16>();
  p.positions = d_pos.as<int32_t>();
  p.row_seq = d_seq.as<int32_t>();
  p.seq_table_begin = w.d_begin.as<int32_t>();
  p.block_table = w.d_table.as<int32_t>();
  p.n_rows = n_rows;
  p.n_heads = w.s.n_heads;
  p.n_kv_heads = w.s.n_kv_heads;
  p.head_dim = w.s.head_dim;
  p.block_size = w.s.block_size;
  p.scale = 1.0f / std::sqrt(static_cast<float>(w.s.head_dim));
  p.split_size = split;
  p.split_min = split_min;
  p.max_splits = max_splits;
  p.workspace = d_ws.as<float>();
  p.rows_per_seq_hint = hint;
  paged_attention(p, s);
  ck(cudaGetLastError(), "launch");
  ck(cudaStreamSynchronize(s), "kernel");
  if (s != nullptr) ck(cudaStreamDestroy(s), "stream");
  std::vector<uint16_t> out(l.q.size());
  ck(cudaMemcpy(out.data(), d_out.p, out_bytes, cudaMemcpyDeviceToHost), "download");
  return out;
}

// The CPU oracle on the same (bf16-valued) inputs.
std::vector<float> run_cpu(const World& w, const Launch& l) {
  const int64_t n_rows = static_cast<int64_t>(l.rows.size());
  std::vector<float> q(l.q.size()), out(l.q.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = bf16_to_f32(l.q[i]);
  std::vector<int32_t> pos(n_rows);
  std::vector<const int32_t*> blocks(n_rows);
  int max_pos = 0;
  for (int64_t r = 0; r < n_rows; ++r) {
    pos[r] = l.rows[r].pos;
    blocks[r] = w.block_table.data() + w.table_begin[l.rows[r].seq];
    max_pos = std::max(max_pos, pos[r]);
  }
  kernels::cpu::PagedAttentionParams p;
  p.n_heads = w.s.n_heads;
  p.kv = {w.s.block_size, w.s.n_kv_heads, w.s.head_dim};
  p.threads = static_cast<int>(std::max(1u, std::min(16u, std::thread::hardware_concurrency())));
  std::vector<float> scratch(kernels::cpu::paged_attention_scratch_floats(max_pos, p.threads));
  kernels::cpu::PagedRows rows{n_rows, pos.data(), blocks.data()};
  kernels::cpu::paged_attention(q.data(), w.k_cpu.data(), w.v_cpu.data(), rows, out.data(), scratch.data(),
                                scratch.size(), p);
  return out;
}

// Per (row, head): ||gpu - ref|| / ||ref|| over the head's dims. The GPU output is bf16 (relative rounding error at
// most 2^-9 per element, ~2e-3), and its fp32 arithmetic differs from the oracle's only in order and in exp2 vs exp
// (~1e-6 relative): 1e-2 leaves room for the rounding and would still catch any wrong position, weight or head
// (those move the result by O(1) of its norm).
void expect_close(const World& w, const Launch& l, const std::vector<uint16_t>& gpu, const std::vector<float>& ref,
                  const char* what) {
  const int hd = w.s.head_dim;
  const int64_t n_vec = static_cast<int64_t>(l.rows.size()) * w.s.n_heads;
  double worst = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < n_vec; ++i) {
    double num = 0, den = 0;
    bool finite = true;
    for (int d = 0; d < hd; ++d) {
      const float g = bf16_to_f32(gpu[i * hd + d]);
      finite = finite && std::isfinite(g);
      const double e = static_cast<double>(g) - ref[i * hd + d];
      num += e * e, den += static_cast<double>(ref[i * hd + d]) * ref[i * hd + d];
    }
    const double rel = finite ? std::sqrt(num / std::max(den, 1e-30)) : INFINITY;
    worst = std::max(worst, rel);
    if (!(rel <= 1e-2)) {
      if (bad < 5) {
        ADD_FAILURE() << what << ": row " << i / w.s.n_heads << " (seq " << l.rows[i / w.s.n_heads].seq << " pos "
                      << l.rows[i / w.s.n_heads].pos << ") head " << i % w.s.n_heads << " rel err " << rel;
      }
      ++bad;
    }
  }
  std::printf("  %-44s %6zu rows: worst rel err %.3g, %lld bad\n", what, l.rows.size(), worst,
              static_cast<long long>(bad));
  EXPECT_EQ(bad, 0) << what;
}

// Rows: for each sequence either a prefill chunk [start, start + n) (start > 0: a chunk after a cached prefix) or
// one decode row at its last position; the rows of several sequences interleaved as an engine step lays them out.
std::vector<Row> mixed_rows(const World& w, std::mt19937_64& rng, int max_chunk) {
  std::vector<Row> rows;
  for (int sidx = 0; sidx < static_cast<int>(w.seq_len.size()); ++sidx) {
    const int len = w.seq_len[sidx];
    if (rng() % 2 == 0) {
      rows.push_back({sidx, len - 1});
    } else {
      const int n = 1 + static_cast<int>(rng() % std::min(max_chunk, len));
      const int start = len - n;
      for (int p = start; p < len; ++p) rows.push_back({sidx, p});
    }
  }
  return rows;
}

std::vector<int> random_lens(std::mt19937_64& rng, int n, int lo, int hi) {
  std::vector<int> lens(n);
  for (auto& x : lens) x = lo + static_cast<int>(rng() % (hi - lo + 1));
  return lens;
}

TEST(CudaPagedAttention, MatchesCpuOracle) {
  REQUIRE_GPU();
  const uint64_t seed = fresh_seed();
  std::printf("accuracy: seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  struct Case {
    Shape s;
    int max_len, max_chunk;
    const char* name;
  };
  const Case cases[] = {
      {{32, 8, 128, 16}, 1400, 80, "Qwen3-8B 32/8 heads, hd 128, bs 16"},
      {{8, 8, 64, 32}, 900, 70, "MHA 8 heads, hd 64, bs 32"},
      {{8, 4, 8, 16}, 700, 100, "stories260K-like hd 8, G 2"},
      {{16, 2, 256, 16}, 800, 40, "hd 256, G 8"},
      {{10, 2, 96, 8}, 700, 40, "generic hd 96, G 5, bs 8"},
      {{40, 1, 64, 16}, 600, 20, "G 40 (two head groups)"},
      {{12, 4, 200, 1}, 300, 30, "generic hd 200, bs 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::printf(" %s\n", c.name);
    World w(c.s, random_lens(rng, 6, 1, c.max_len), rng);
    const Launch l = make_launch(w, mixed_rows(w, rng, c.max_chunk), rng);
    const std::vector<float> ref = run_cpu(w, l);
    const int bs = c.s.block_size;
    const int inv_split = (512 + bs - 1) / bs * bs;
    expect_close(w, l, run_gpu(w, l, inv_split, 0, 0), ref, "invariant split 512, hint 0");
    expect_close(w, l, run_gpu(w, l, inv_split, 0, 0, true), ref, "invariant split 512, hint 0, default stream");
    expect_close(w, l, run_gpu(w, l, bs * std::max(1, 64 / bs), 0, 2), ref, "split 64, hint 2");
    expect_close(w, l, run_gpu(w, l, bs, 0, 0), ref, "split = block_size");
    // Grown splits (CudaBackendOptions::split_min): from 64 positions, doubled until a row has at most 8, up to 512.
    const int min64 = bs * std::max(1, 64 / bs);
    expect_close(w, l, run_gpu(w, l, inv_split, 0, 0, false, min64), ref, "splits grown from 64 to 512, hint 0");
    expect_close(w, l, run_gpu(w, l, inv_split, 0, 2, false, min64), ref, "splits grown from 64 to 512, hint 2");
    const int fast = fast_split_size(static_cast<int>(l.rows.size()), c.max_len, bs, 132);
    expect_close(w, l, run_gpu(w, l, fast, 0, 0), ref, "fast split");
    // Decode-only launch (hint 1): the last row of every sequence.
    std::vector<Row> dec;
    for (int s = 0; s < static_cast<int>(w.seq_len.size()); ++s) dec.push_back({s, w.seq_len[s] - 1});
    const Launch ld = make_launch(w, dec, rng);
    expect_close(w, ld, run_gpu(w, ld, inv_split, 0, 1), run_cpu(w, ld), "decode rows, hint 1");
    expect_close(w, ld, run_gpu(w, ld, inv_split, 0, 1, false, min64), run_cpu(w, ld), "decode rows, grown splits");
  }
}

// Rows of `l` (their outputs) must equal rows of `ref_l` bit for bit; map[i] = the row of ref for row i (-1: skip).
int64_t count_diff(const World& w, const std::vector<uint16_t>& out, const std::vector<uint16_t>& ref,
                   const std::vector<int>& map) {
  const int64_t rw = static_cast<int64_t>(w.s.n_heads) * w.s.head_dim;
  int64_t diff = 0;
  for (size_t i = 0; i < map.size(); ++i) {
    if (map[i] < 0) continue;
    diff += !std::equal(out.begin() + i * rw, out.begin() + (i + 1) * rw, ref.begin() + map[i] * rw);
  }
  return diff;
}

// split_min 0: splits of a fixed 512 positions (the engine's default); else grown from split_min up to 512.
void invariance_for(Shape shape, uint64_t seed, int split_min) {
  std::mt19937_64 rng(seed);
  // Sequence 0 is the target (3 splits of 512 at its end; with grown splits its 70-row chunk crosses position 1024,
  // where the split size of a row goes from 128 to 256); 1..63 are others of random lengths.
  std::vector<int> lens = random_lens(rng, 64, 1, 2000);
  lens[0] = split_min > 0 ? 1030 + static_cast<int>(rng() % 60) : 1300 + static_cast<int>(rng() % 200);
  World w(shape, lens, rng, /*cpu_layout=*/false);
  const int split = 512;
  const int tlen = lens[0];
  // The target: a prefill chunk of 70 rows ending at the sequence's end (crossing the 1024 split boundary) ...
  std::vector<Row> chunk;
  for (int p = tlen - 70; p < tlen; ++p) chunk.push_back({0, p});
  std::mt19937_64 qrng(seed ^ 0x5eed);
  const Launch target = make_launch(w, chunk, qrng);
  const int64_t rw = static_cast<int64_t>(shape.n_heads) * shape.head_dim;
  // ... each of whose rows computed alone, as a decode row, is the reference.
  std::vector<uint16_t> alone(target.q.size());
  for (size_t i = 0; i < chunk.size(); ++i) {
    Launch one{{chunk[i]}, std::vector<uint16_t>(target.q.begin() + i * rw, target.q.begin() + (i + 1) * rw)};
    const std::vector<uint16_t> o = run_gpu(w, one, split, 0, 1, false, split_min);
    std::copy(o.begin(), o.end(), alone.begin() + i * rw);
  }
  std::vector<int> ident(chunk.size());
  std::iota(ident.begin(), ident.end(), 0);
  int64_t total = 0;
  auto check = [&](const std::vector<uint16_t>& out, const std::vector<int>& map, const std::string& what) {
    const int64_t d = count_diff(w, out, alone, map);
    std::printf("  %-60s %lld differing rows\n", what.c_str(), static_cast<long long>(d));
    EXPECT_EQ(d, 0) << what;
    total += d;
  };
  // Prefill chunk as one launch, several hints (rows per CTA) and max_splits bounds.
  const int nt = needed_splits(target, split, split_min);
  for (int hint : {0, 3, 70}) {
    for (int ms : {0, nt + 1, nt + 6}) {
      check(run_gpu(w, target, split, ms, hint, false, split_min), ident,
            "chunk of 70 rows, hint " + std::to_string(hint) + ", max_splits " + std::to_string(ms));
    }
  }
  // The chunk split into sub-chunks (chunked prefill), each its own launch.
  {
    std::vector<uint16_t> out(target.q.size());
    for (size_t b = 0; b < chunk.size(); b += 17) {
      const size_t e = std::min(chunk.size(), b + 17);
      Launch sub{std::vector<Row>(chunk.begin() + b, chunk.begin() + e),
                 std::vector<uint16_t>(target.q.begin() + b * rw, target.q.begin() + e * rw)};
      const std::vector<uint16_t> o = run_gpu(w, sub, split, 0, 0, false, split_min);
      std::copy(o.begin(), o.end(), out.begin() + b * rw);
    }
    check(out, ident, "chunk as sub-chunks of 17 rows");
  }
  // Inside launches with k other sequences (decode rows or chunks), the target's rows at random places.
  for (int k : {1, 2, 5, 16, 31, 63}) {
    std::vector<int> others(63);
    std::iota(others.begin(), others.end(), 1);
    std::shuffle(others.begin(), others.end(), rng);
    others.resize(k);
    // Groups: each other sequence's rows, and the target chunk cut at a random point into two groups.
    std::vector<std::vector<Row>> groups;
    for (int o : others) {
      std::vector<Row> g;
      const int len = lens[o];
      const int n = rng() % 3 == 0 ? 1 + static_cast<int>(rng() % std::min(len, 40)) : 1;
      for (int p = len - n; p < len; ++p) g.push_back({o, p});
      groups.push_back(g);
    }
    const size_t cut = rng() % chunk.size();
    groups.emplace_back(chunk.begin(), chunk.begin() + cut);
    groups.emplace_back(chunk.begin() + cut, chunk.end());
    std::shuffle(groups.begin(), groups.end(), rng);
    std::vector<Row> rows;
    for (auto& g : groups) rows.insert(rows.end(), g.begin(), g.end());
    Launch l = make_launch(w, rows, rng);
    std::vector<int> map(rows.size(), -1);
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].seq != 0) continue;
      const int ti = rows[i].pos - (tlen - 70);
      map[i] = ti;
      std::copy(target.q.begin() + ti * rw, target.q.begin() + (ti + 1) * rw, l.q.begin() + i * rw);
    }
    const int ms = needed_splits(l, split, split_min) + static_cast<int>(rng() % 3);
    check(run_gpu(w, l, split, ms, 0, false, split_min), map,
          "with " + std::to_string(k) + " other sequences (" + std::to_string(rows.size()) + " rows), max_splits " +
              std::to_string(ms));
  }
  // Decode-only launch: the target's last row among 63 other decode rows, hint 1.
  {
    std::vector<Row> rows;
    for (int s = 1; s < 64; ++s) rows.push_back({s, lens[s] - 1});
    const size_t at = rng() % 64;
    rows.insert(rows.begin() + at, chunk.back());
    Launch l = make_launch(w, rows, rng);
    std::copy(target.q.end() - rw, target.q.end(), l.q.begin() + at * rw);
    std::vector<int> map(rows.size(), -1);
    map[at] = static_cast<int>(chunk.size()) - 1;
    check(run_gpu(w, l, split, 0, 1, false, split_min), map, "decode row among 63 others, hint 1");
  }
  EXPECT_EQ(total, 0);
  // Fast mode: the split size follows the batch, and with it (usually) the bits. Printed, not asserted.
  const int f1 = fast_split_size(1, tlen, shape.block_size, 132);
  const int f64 = fast_split_size(64, tlen, shape.block_size, 132);
  const std::vector<uint16_t> a = run_gpu(w, target, f1, 0, 0), b = run_gpu(w, target, f64, 0, 0);
  std::printf("  fast mode: split %d (1 row) vs %d (64 rows): %lld of %zu rows differ\n", f1, f64,
              static_cast<long long>(count_diff(w, a, b, ident)), chunk.size());
}

TEST(CudaPagedAttention, RowBitsInvariantAcrossLaunches) {
  REQUIRE_GPU();
  const uint64_t seed = fresh_seed();
  std::printf("invariance: seed %llu\n", static_cast<unsigned long long>(seed));
  std::printf(" Qwen3-8B shape (32/8 heads, hd 128, bs 16)\n");
  invariance_for({32, 8, 128, 16}, seed, 0);
  std::printf(" hd 64, G 1, bs 16\n");
  invariance_for({4, 4, 64, 16}, seed + 1, 0);
  std::printf(" hd 8, G 2, bs 16\n");
  invariance_for({8, 4, 8, 16}, seed + 2, 0);
  std::printf(" Qwen3-8B shape, splits grown from 128 to 512 (--cuda-split-min 128)\n");
  invariance_for({32, 8, 128, 16}, seed + 3, 128);
  std::printf(" hd 8, G 2, bs 16, splits grown from 128 to 512\n");
  invariance_for({8, 4, 8, 16}, seed + 4, 128);
}

// paged_attention_with_inputs (attention_inputs fused into a decode launch) against attention_inputs then
// paged_attention on the same inputs: the output, the q rows (fp32 and bf16) and both caches are equal bit for bit.
// Decode rows of sequences whose positions take one to three splits (fixed and grown), with and without q/k norm and
// biases, for the tensor-core head dims and groups of 1 to 16 query heads per KV head.
// scaled: the q/k/v rows carry a row scale (rms_prep.cuh: random tile partials of a 256-wide normed input).
void fused_inputs_case(Shape sh, bool norm_bias, int split_min, bool scaled, std::mt19937_64& rng) {
  std::vector<int> lens = {1, 16, 17, 600, 1500, 1025, static_cast<int>(1 + rng() % 2000)};
  std::shuffle(lens.begin(), lens.end(), rng);
  World w(sh, lens, rng, /*cpu_layout=*/false);
  const int n = static_cast<int>(lens.size()), hd = sh.head_dim, bs = sh.block_size;
  const int64_t qw = static_cast<int64_t>(sh.n_heads) * hd, kw = static_cast<int64_t>(sh.n_kv_heads) * hd;
  const int64_t total = qw + 2 * kw;
  std::vector<int32_t> pos(n), seq(n), rb(n);
  for (int r = 0; r < n; ++r) {
    seq[r] = r;
    pos[r] = lens[r] - 1;  // the row's new position: its K/V slot is written by the op
    rb[r] = w.block_table[w.table_begin[r] + pos[r] / bs];
  }
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f), wdist(0.5f, 1.5f);
  std::vector<float> qkv(static_cast<size_t>(n * total));
  for (auto& x : qkv) x = dist(rng);
  auto bf16s = [&](int64_t count, bool weight) {
    std::vector<uint16_t> v(static_cast<size_t>(count));
    for (auto& x : v) x = f32_to_bf16(weight ? wdist(rng) : dist(rng));
    return v;
  };
  const std::vector<uint16_t> qb = bf16s(qw, false), kb = bf16s(kw, false), vb = bf16s(kw, false), qn = bf16s(hd, true),
                              kn = bf16s(hd, true);
  const std::vector<float> inv = kernels::cpu::rope_inv_freq(hd, 1e6f);
  constexpr int64_t kScaledWidth = 256;
  std::uniform_real_distribution<float> ssdist(0.5f, 40.0f);
  std::vector<float> ss(static_cast<size_t>(n * kScaledWidth / 16));
  for (auto& x : ss) x = ssdist(rng);
  Dev d_ss;
  upload(d_ss, ss);
  Dev d_qkv, d_qb, d_kb, d_vb, d_qn, d_kn, d_inv, d_pos, d_seq, d_rb;
  upload(d_qkv, qkv), upload(d_qb, qb), upload(d_kb, kb), upload(d_vb, vb), upload(d_qn, qn), upload(d_kn, kn);
  upload(d_inv, inv), upload(d_pos, pos), upload(d_seq, seq), upload(d_rb, rb);
  const size_t cache_bytes = w.k.size() * 2, q32 = static_cast<size_t>(n * qw) * 4, q16 = q32 / 2;
  int max_splits = 1;
  for (const int32_t q : pos) max_splits = std::max(max_splits, paged_attention_splits(q, 512, split_min, 8));
  cudaStream_t s = nullptr;
  ck(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream");
  struct Out {
    std::vector<uint8_t> out, q_out, q_bf16, k, v;
  };
  auto run = [&](bool fused) {
    Dev kc(cache_bytes), vc(cache_bytes), dq(q32), dq16(q16), dout(q16),
        ws(std::max<size_t>(paged_attention_workspace_bytes(n, sh.n_heads, hd, max_splits), 16));
    ck(cudaMemcpy(kc.p, w.d_k.p, cache_bytes, cudaMemcpyDeviceToDevice), "copy");
    ck(cudaMemcpy(vc.p, w.d_v.p, cache_bytes, cudaMemcpyDeviceToDevice), "copy");
    for (Dev* d : {&dq, &dq16, &dout}) ck(cudaMemset(d->p, 0xFF, d->bytes), "poison");
    ck(cudaDeviceSynchronize(), "sync");
    AttentionInputsParams in;
    in.q = d_qkv.as<float>();
    in.k = d_qkv.as<float>() + qw;
    in.v = d_qkv.as<float>() + qw + kw;
    in.q_ld = in.k_ld = in.v_ld = total;
    in.q_bias = norm_bias ? d_qb.p : nullptr;
    in.k_bias = norm_bias ? d_kb.p : nullptr;
    in.v_bias = norm_bias ? d_vb.p : nullptr;
    in.q_norm = norm_bias ? d_qn.p : nullptr;
    in.k_norm = norm_bias ? d_kn.p : nullptr;
    in.inv_freq = d_inv.as<float>();
    in.positions = d_pos.as<int32_t>();
    in.row_block = d_rb.as<int32_t>();
    in.n_heads = sh.n_heads;
    in.n_kv_heads = sh.n_kv_heads;
    in.head_dim = hd;
    in.block_size = bs;
    in.q_out = dq.as<float>();
    in.q_bf16 = dq16.p;
    in.k_cache = kc.p;
    in.v_cache = vc.p;
    if (scaled) in.scale = {.ss = d_ss.as<float>(), .n = kScaledWidth, .eps = 1e-6f};
    PagedAttentionParams p;
    p.q = dq16.as<__nv_bfloat16>();
    p.out = dout.as<__nv_bfloat16>();
    p.k_cache = kc.as<__nv_bfloat16>();
    p.v_cache = vc.as<__nv_bfloat16>();
    p.positions = d_pos.as<int32_t>();
    p.row_seq = d_seq.as<int32_t>();
    p.seq_table_begin = w.d_begin.as<int32_t>();
    p.block_table = w.d_table.as<int32_t>();
    p.n_rows = n;
    p.n_heads = sh.n_heads;
    p.n_kv_heads = sh.n_kv_heads;
    p.head_dim = hd;
    p.block_size = bs;
    p.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    p.split_size = 512;
    p.split_min = split_min;
    p.max_splits = max_splits;
    p.workspace = ws.as<float>();
    p.rows_per_seq_hint = 1;
    EXPECT_TRUE(paged_attention_fuses_inputs(p, in));
    if (fused) {
      paged_attention_with_inputs(p, in, s);
    } else {
      attention_inputs(in, n, s);
      paged_attention(p, s);
    }
    ck(cudaGetLastError(), "launch");
    ck(cudaStreamSynchronize(s), "kernels");
    auto get = [](const Dev& d) {
      std::vector<uint8_t> v(d.bytes);
      ck(cudaMemcpy(v.data(), d.p, d.bytes, cudaMemcpyDeviceToHost), "download");
      return v;
    };
    // The fused launch's contract, checked where it holds: hint 0 or a head dim of the CUDA-core kernel is refused.
    PagedAttentionParams many = p;
    many.rows_per_seq_hint = 0;
    EXPECT_FALSE(paged_attention_fuses_inputs(many, in));
    EXPECT_THROW(paged_attention_with_inputs(many, in, s), Error);
    return Out{get(dout), get(dq), get(dq16), get(kc), get(vc)};
  };
  const Out a = run(false), b = run(true);
  ck(cudaStreamDestroy(s), "stream");
  const std::string what = "heads " + std::to_string(sh.n_heads) + "/" + std::to_string(sh.n_kv_heads) + " hd " +
                           std::to_string(hd) + (norm_bias ? " norm+bias" : "") + " split_min " +
                           std::to_string(split_min) + (scaled ? " row-scaled" : "");
  EXPECT_TRUE(a.out == b.out) << what << ": attention output";
  EXPECT_TRUE(a.q_out == b.q_out) << what << ": q fp32";
  EXPECT_TRUE(a.q_bf16 == b.q_bf16) << what << ": q bf16";
  EXPECT_TRUE(a.k == b.k) << what << ": K cache";
  EXPECT_TRUE(a.v == b.v) << what << ": V cache";
  std::printf("  fused inputs, %s, %d rows, %d splits at most: %s\n", what.c_str(), n, max_splits,
              a.out == b.out && a.k == b.k && a.v == b.v && a.q_bf16 == b.q_bf16 ? "equal" : "DIFFER");
}

TEST(CudaPagedAttention, FusedInputsEqualSeparateBitwise) {
  REQUIRE_GPU();
  const uint64_t seed = fresh_seed();
  std::printf("fused inputs: seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (const Shape sh : {Shape{32, 8, 128, 16}, Shape{8, 2, 64, 16}, Shape{16, 1, 256, 16}, Shape{4, 4, 128, 8}})
    for (const bool norm_bias : {true, false})
      for (const int split_min : {0, 128})
        for (const bool scaled : {false, true}) fused_inputs_case(sh, norm_bias, split_min, scaled, rng);
}

// A row needing more splits than max_splits comes out NaN (never silently wrong); the others stay right.
TEST(CudaPagedAttention, TooSmallMaxSplitsGivesNaN) {
  REQUIRE_GPU();
  std::mt19937_64 rng(fresh_seed());
  World w({8, 2, 64, 16}, {1100, 300}, rng);
  const Launch l = make_launch(w, {{0, 1099}, {1, 299}}, rng);
  const std::vector<uint16_t> out = run_gpu(w, l, 512, 2, 1);
  const int64_t rw = 8 * 64;
  for (int64_t i = 0; i < rw; ++i) EXPECT_TRUE(std::isnan(bf16_to_f32(out[i]))) << i;
  const std::vector<float> ref = run_cpu(w, l);
  for (int64_t i = rw; i < 2 * rw; ++i) EXPECT_NEAR(bf16_to_f32(out[i]), ref[i], 2e-2) << i;
}

TEST(CudaPagedAttention, FastSplitSizeFollowsBatch) {
  const int a = fast_split_size(1, 4096, 16, 132), b = fast_split_size(64, 4096, 16, 132);
  std::printf("fast_split_size(ctx 4096, 132 SMs): %d at 1 row, %d at 64 rows\n", a, b);
  EXPECT_NE(a, b);
  for (int rows : {1, 3, 64, 1000}) {
    for (int bs : {1, 16, 48}) {
      const int s = fast_split_size(rows, 3000, bs, 132);
      EXPECT_GT(s, 0);
      EXPECT_EQ(s % bs, 0) << rows << " " << bs;
    }
  }
}

// Bad parameters throw verbatim::Error before any CUDA call (so this runs without a GPU too).
TEST(CudaPagedAttention, RejectsBadParams) {
  PagedAttentionParams good;
  alignas(16) static __nv_bfloat16 dummy[64];
  static int32_t ints[4] = {0, 0, 0, 0};
  good.q = dummy, good.out = dummy + 32, good.k_cache = dummy, good.v_cache = dummy;
  good.positions = ints, good.row_seq = ints, good.seq_table_begin = ints, good.block_table = ints;
  good.n_rows = 1, good.n_heads = 4, good.n_kv_heads = 2, good.head_dim = 64, good.block_size = 16;
  good.scale = 0.125f, good.split_size = 512, good.max_splits = 1;
  auto expect_throw = [&](auto mutate, const char* what) {
    PagedAttentionParams p = good;
    mutate(p);
    EXPECT_THROW(paged_attention(p, nullptr), Error) << what;
  };
  expect_throw([](PagedAttentionParams& p) { p.head_dim = 12; }, "head_dim 12");
  expect_throw([](PagedAttentionParams& p) { p.head_dim = 264; }, "head_dim 264");
  expect_throw([](PagedAttentionParams& p) { p.head_dim = 0; }, "head_dim 0");
  expect_throw([](PagedAttentionParams& p) { p.split_size = 24; }, "split not a multiple of block_size");
  expect_throw([](PagedAttentionParams& p) { p.split_size = 0; }, "split 0");
  expect_throw([](PagedAttentionParams& p) { p.split_min = 1024; }, "split_min above split_size");
  expect_throw([](PagedAttentionParams& p) { p.split_min = 24; }, "split_min not a multiple of block_size");
  expect_throw([](PagedAttentionParams& p) { p.split_target = 1; }, "split_target 1");
  expect_throw([](PagedAttentionParams& p) { p.max_splits = 0; }, "max_splits 0");
  expect_throw([](PagedAttentionParams& p) { p.max_splits = 2; }, "max_splits 2 without workspace");
  expect_throw([](PagedAttentionParams& p) { p.n_heads = 5; }, "n_heads not a multiple of n_kv_heads");
  expect_throw([](PagedAttentionParams& p) { p.block_size = 0; }, "block_size 0");
  expect_throw([](PagedAttentionParams& p) { p.scale = 0.0f; }, "scale 0");
  expect_throw([](PagedAttentionParams& p) { p.q = nullptr; }, "null q");
  expect_throw(
      [](PagedAttentionParams& p) {
        p.k_cache = reinterpret_cast<const __nv_bfloat16*>(reinterpret_cast<const char*>(dummy) + 2);
      },
      "misaligned k_cache");
  expect_throw([](PagedAttentionParams& p) { p.out = const_cast<__nv_bfloat16*>(p.q); }, "out aliases q");
  EXPECT_THROW(fast_split_size(1, 100, 0, 132), Error);
  try {
    PagedAttentionParams p = good;
    p.head_dim = 12;
    paged_attention(p, nullptr);
  } catch (const Error& e) {
    std::printf("message: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("head_dim 12"), std::string::npos);
  }
}

}  // namespace
}  // namespace verbatim::cuda_kernels

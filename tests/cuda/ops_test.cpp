// Every CUDA op of the backend against its CPU reference (src/kernels/cpu) on fresh random inputs (seed printed;
// VERBATIM_TEST_SEED reproduces), each with a stated tolerance, and the row invariance of each op: a row computed
// in a launch of many rows equals, bit for bit, the same row computed alone. Skips loudly without a GPU.
//
// Tolerances (relative to the largest |reference| of the output, unless said):
//   embedding, gather, add, kv_write (bf16 rounding of the reference): exact
//   rmsnorm / add_rmsnorm / head_rmsnorm (fp32 out): 1e-5 (the sum of squares runs in a tree instead of sequentially)
//   rmsnorm to bf16: 1 bf16 ulp (2^-8 relative per element)
//   rope: 1e-5 absolute on unit-size inputs (CUDA's cosf/sinf are within 2 ulp of the CPU's)
//   swiglu: 1e-5 (CUDA's expf within 2 ulp)
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cuda/cuda_util.h"
#include "kernels/cpu/add.h"
#include "kernels/cpu/add_rmsnorm.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/rope_rows.h"
#include "kernels/cpu/swiglu.h"
#include "kernels/cuda/add.cuh"
#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/fetch_words.cuh"
#include "kernels/cuda/gather_rows.cuh"
#include "kernels/cuda/head_rmsnorm.cuh"
#include "kernels/cuda/kv_write.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/split_columns.cuh"
#include "kernels/cuda/swiglu.cuh"
#include "util/error.h"
#include "util/half.h"

namespace verbatim {
namespace {

namespace kc = kernels::cpu;
namespace ck = cuda_kernels;
using cuda::DeviceBuffer;

uint64_t test_seed() {
  static const uint64_t seed = [] {
    if (const char* s = std::getenv("VERBATIM_TEST_SEED")) return std::strtoull(s, nullptr, 10);
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 1000000007ull;
  }();
  return seed;
}

#define REQUIRE_GPU()                                                                              \
  do {                                                                                             \
    if (cuda::device_count_or_zero() == 0)                                                         \
      GTEST_SKIP() << "*** NO CUDA GPU FOUND: the CUDA op tests are SKIPPED, nothing was run ***"; \
    std::printf("[ seed ] %llu\n", static_cast<unsigned long long>(test_seed()));                  \
  } while (0)

std::vector<float> random_floats(size_t n, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = f32_to_bf16(v[i]);
  return b;
}

std::vector<float> from_bf16(const std::vector<uint16_t>& b) {
  std::vector<float> v(b.size());
  for (size_t i = 0; i < b.size(); ++i) v[i] = bf16_to_f32(b[i]);
  return v;
}

template <typename T>
DeviceBuffer upload(const std::vector<T>& v) {
  DeviceBuffer d(std::max<size_t>(v.size() * sizeof(T), 4));
  cuda::check_cuda(cudaMemcpy(d.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "upload");
  return d;
}

template <typename T>
std::vector<T> download(const DeviceBuffer& d, size_t n) {
  cuda::check_cuda(cudaDeviceSynchronize(), "sync");
  std::vector<T> v(n);
  cuda::check_cuda(cudaMemcpy(v.data(), d.get(), n * sizeof(T), cudaMemcpyDeviceToHost), "download");
  return v;
}

// max |a - b| / max |b| (0 when b is all zero and a equals it).
double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return den == 0 ? num : num / den;
}

bool bitwise(const void* a, const void* b, size_t bytes) {
  return std::memcmp(a, b, bytes) == 0;
}

TEST(CudaOps, Embedding) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed());
  const int64_t vocab = 1000, dim = 136, n = 37;
  const std::vector<uint16_t> table = to_bf16(random_floats(vocab * dim, rng));
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % vocab);
  std::vector<float> ref(n * dim);
  kc::embedding(table.data(), DType::BF16, tokens.data(), n, ref.data(), {.vocab = vocab, .dim = dim});
  DeviceBuffer dt = upload(table), dtok = upload(tokens), dout(n * dim * 4);
  ck::embedding(dt.get(), dtok.as<int32_t>(), n, dout.as<float>(), {.vocab = vocab, .dim = dim}, nullptr);
  const auto out = download<float>(dout, n * dim);
  EXPECT_TRUE(bitwise(out.data(), ref.data(), out.size() * 4));
}

// rmsnorm and add_rmsnorm, fp32 and bf16 outputs, vs the CPU kernels; and each row alone == in the batch.
TEST(CudaOps, RmsNormAndAddRmsNorm) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 1);
  for (int64_t width : {64, 1000, 4096}) {
    const int64_t rows = 19;
    const float eps = 1e-6f;
    const auto x = random_floats(rows * width, rng, -3, 3);
    const auto res0 = random_floats(rows * width, rng, -3, 3);
    const auto wf = random_floats(width, rng, 0.5f, 1.5f);
    const auto w = to_bf16(wf);
    const auto wr = from_bf16(w);
    // CPU references.
    std::vector<float> ref_norm(rows * width), ref_res = res0, ref_add(rows * width);
    kc::rmsnorm(x.data(), wr.data(), DType::F32, ref_norm.data(), rows, {.n = width, .eps = eps});
    kc::add_rmsnorm(ref_res.data(), x.data(), wr.data(), DType::F32, ref_add.data(), rows, {.n = width, .eps = eps}, 1);

    DeviceBuffer dx = upload(x), dw = upload(w), dres = upload(res0), dout(rows * width * 4), dout16(rows * width * 2);
    ck::add_rmsnorm(nullptr, dx.as<float>(), dw.get(), dout.get(), DType::F32, rows, {.n = width, .eps = eps}, nullptr);
    const auto norm = download<float>(dout, rows * width);
    EXPECT_LT(rel_err(norm, ref_norm), 1e-5) << "rmsnorm width " << width;
    ck::add_rmsnorm(nullptr, dx.as<float>(), dw.get(), dout16.get(), DType::BF16, rows, {.n = width, .eps = eps},
                    nullptr);
    const auto norm16 = from_bf16(download<uint16_t>(dout16, rows * width));
    for (int64_t i = 0; i < rows * width; ++i)
      ASSERT_LE(std::fabs(norm16[i] - ref_norm[i]), std::fabs(ref_norm[i]) * (1.0f / 256) + 1e-6f) << "bf16 " << i;

    ck::add_rmsnorm(dres.as<float>(), dx.as<float>(), dw.get(), dout.get(), DType::F32, rows, {.n = width, .eps = eps},
                    nullptr);
    const auto res = download<float>(dres, rows * width);
    const auto added = download<float>(dout, rows * width);
    EXPECT_TRUE(bitwise(res.data(), ref_res.data(), res.size() * 4)) << "residual add is exact";
    EXPECT_LT(rel_err(added, ref_add), 1e-5) << "add_rmsnorm width " << width;

    // Row invariance: row 7 alone gives the bits it had in the batch.
    DeviceBuffer one(width * 4);
    ck::add_rmsnorm(nullptr, dx.as<float>() + 7 * width, dw.get(), one.get(), DType::F32, 1, {.n = width, .eps = eps},
                    nullptr);
    const auto alone = download<float>(one, width);
    EXPECT_TRUE(bitwise(alone.data(), norm.data() + 7 * width, width * 4)) << "row alone != row in batch";
  }
}

TEST(CudaOps, HeadRmsNorm) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 2);
  for (int64_t hd : {8, 16, 64, 128}) {
    const int64_t rows = 13, heads = 6;
    const float eps = 1e-6f;
    auto x = random_floats(rows * heads * hd, rng, -2, 2);
    const auto w = to_bf16(random_floats(hd, rng, 0.5f, 1.5f));
    const auto wr = from_bf16(w);
    std::vector<float> ref = x;
    kc::rmsnorm(ref.data(), wr.data(), DType::F32, ref.data(), rows * heads, {.n = hd, .eps = eps});
    DeviceBuffer dx = upload(x), dw = upload(w);
    ck::head_rmsnorm(dx.as<float>(), dw.get(), rows, {.n_heads = heads, .head_dim = hd, .eps = eps}, nullptr);
    const auto out = download<float>(dx, x.size());
    EXPECT_LT(rel_err(out, ref), 1e-5) << "head_dim " << hd;
  }
}

TEST(CudaOps, Rope) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 3);
  for (int hd : {8, 64, 128}) {
    const int64_t rows = 21;
    const int heads = 5;
    auto x = random_floats(rows * heads * hd, rng);
    std::vector<int32_t> pos(rows);
    for (auto& p : pos) p = static_cast<int32_t>(rng() % 40000);
    const std::vector<float> inv = kc::rope_inv_freq(hd, 1e6f);
    std::vector<float> ref = x;
    kc::rope_rows(ref.data(), pos.data(), rows, inv.data(), {.n_heads = heads, .head_dim = hd}, 1);
    DeviceBuffer dx = upload(x), dp = upload(pos), di = upload(inv), dcopy(x.size() * 2);
    ck::rope(dx.as<float>(), dp.as<int32_t>(), rows, di.as<float>(), {.n_heads = heads, .head_dim = hd}, dcopy.get(),
             nullptr);
    const auto out = download<float>(dx, x.size());
    double worst = 0;
    for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(out[i]) - ref[i]));
    // Angles reach 4e4 radians: an fp32 angle's own rounding is the same on both sides, cos/sin differ by <= 2 ulp.
    EXPECT_LT(worst, 1e-5) << "head_dim " << hd;
    const auto copy = download<uint16_t>(dcopy, x.size());
    for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(copy[i], f32_to_bf16(out[i])) << "bf16 copy " << i;
  }
}

TEST(CudaOps, SwiGluAddBias) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 4);
  const int64_t rows = 9, cols = 1000, n = rows * cols;
  const auto g = random_floats(n, rng, -8, 8), u = random_floats(n, rng, -2, 2);
  std::vector<float> ref(n);
  kc::swiglu(g.data(), u.data(), ref.data(), n);
  DeviceBuffer dg = upload(g), du = upload(u), dout(n * 4), dout16(n * 2);
  ck::swiglu(dg.as<float>(), du.as<float>(), dout.get(), DType::F32, n, nullptr);
  EXPECT_LT(rel_err(download<float>(dout, n), ref), 1e-5);
  ck::swiglu(dg.as<float>(), du.as<float>(), dout16.get(), DType::BF16, n, nullptr);
  const auto out16 = from_bf16(download<uint16_t>(dout16, n));
  for (int64_t i = 0; i < n; ++i) ASSERT_LE(std::fabs(out16[i] - ref[i]), std::fabs(ref[i]) / 256 + 1e-6f);

  // add (exact) and add_bias (exact: one fp32 add of the bf16 bias).
  auto res = random_floats(n, rng);
  const auto bias = to_bf16(random_floats(cols, rng));
  std::vector<float> ref_add = res;
  kc::add_inplace(ref_add.data(), g.data(), n);
  DeviceBuffer dres = upload(res), db = upload(bias);
  ck::add_inplace(dres.as<float>(), dg.as<float>(), n, nullptr);
  const auto added = download<float>(dres, n);
  EXPECT_TRUE(bitwise(added.data(), ref_add.data(), n * 4));
  std::vector<float> ref_bias = added;
  kc::add_bias(ref_bias.data(), bias.data(), DType::BF16, rows, cols);
  ck::add_bias(dres.as<float>(), db.get(), rows, cols, nullptr);
  const auto biased = download<float>(dres, n);
  EXPECT_TRUE(bitwise(biased.data(), ref_bias.data(), n * 4));
}

TEST(CudaOps, GatherRows) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 5);
  const int64_t rows = 50, cols = 68;
  const auto x = to_bf16(random_floats(rows * cols, rng));
  const std::vector<int32_t> pick = {3, 7, 8, 49, 0};
  DeviceBuffer dx = upload(x), dp = upload(pick), dout(pick.size() * cols * 2);
  ck::gather_rows(dx.get(), dp.as<int32_t>(), static_cast<int64_t>(pick.size()), cols * 2, dout.get(), nullptr);
  const auto out = download<uint16_t>(dout, pick.size() * cols);
  for (size_t i = 0; i < pick.size(); ++i)
    EXPECT_TRUE(bitwise(out.data() + i * cols, x.data() + pick[i] * cols, cols * 2)) << i;
}

// fetch_words: segments of pinned host words at a stride, and a tail range, copied by the kernel itself; every other
// device word keeps its value. Twice from the same pinned buffer with new contents in between (the second launch must
// not see the first one's words), and bad arguments refused.
TEST(CudaOps, FetchWordsCopiesPinnedSegmentsAndTail) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 6);
  const int segments = 6, stride_vecs = 9, seg_vecs = 5, tail_vecs = 7;
  const size_t seg_words = static_cast<size_t>(segments) * stride_vecs * 4, tail_words = tail_vecs * 4 + 8;
  int32_t* host = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&host), (seg_words + tail_words) * 4), cudaSuccess);
  const std::vector<int32_t> sentinel(seg_words + tail_words, -7);
  DeviceBuffer dseg = upload(std::vector<int32_t>(sentinel.begin(), sentinel.begin() + seg_words));
  DeviceBuffer dtail = upload(std::vector<int32_t>(sentinel.begin(), sentinel.begin() + tail_words));
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < seg_words + tail_words; ++i) host[i] = static_cast<int32_t>(rng());
    ck::fetch_words({.src = host,
                     .dst = dseg.as<int32_t>(),
                     .segments = segments,
                     .seg_vecs = seg_vecs,
                     .stride_vecs = stride_vecs,
                     .tail_src = host + seg_words,
                     .tail_dst = dtail.as<int32_t>(),
                     .tail_vecs = tail_vecs},
                    nullptr);
    const auto seg = download<int32_t>(dseg, seg_words);
    const auto tail = download<int32_t>(dtail, tail_words);
    for (size_t i = 0; i < seg_words; ++i) {
      const bool copied = static_cast<int>(i / 4 % stride_vecs) < seg_vecs;
      ASSERT_EQ(seg[i], copied ? host[i] : -7) << "round " << round << ", segment word " << i;
    }
    for (size_t i = 0; i < tail_words; ++i)
      ASSERT_EQ(tail[i], i < static_cast<size_t>(tail_vecs) * 4 ? host[seg_words + i] : -7) << "tail word " << i;
  }
  EXPECT_THROW(ck::fetch_words({.src = host, .dst = dseg.as<int32_t>(), .segments = 2, .seg_vecs = 3, .stride_vecs = 2},
                               nullptr),
               Error);
  EXPECT_THROW(ck::fetch_words({.src = host + 1, .dst = dseg.as<int32_t>(), .segments = 1, .seg_vecs = 1}, nullptr),
               Error);
  EXPECT_THROW(ck::fetch_words({.tail_vecs = 1}, nullptr), Error);
  EXPECT_NO_THROW(ck::fetch_words({}, nullptr));
  (void)cudaFreeHost(host);
}

// fetch_words with fed words: segment 0's negative words become the feed array's values (a fed step's tokens), the
// rest is copied as is; against a host reference of the rule (feed[-w - 1], 0 past feed_n or for a negative value).
TEST(CudaOps, FetchWordsPutsFedWordsFromTheDevice) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 16);
  const int segments = 3, stride_vecs = 4, seg_vecs = 3, feed_n = 5;
  const size_t words = static_cast<size_t>(segments) * stride_vecs * 4;
  int32_t* host = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&host), words * 4), cudaSuccess);
  const std::vector<int32_t> feed = {11, -1, 7, 3, 200};
  DeviceBuffer dfeed = upload(feed), dst = upload(std::vector<int32_t>(words, -9));
  for (size_t i = 0; i < words; ++i) host[i] = static_cast<int32_t>(rng() % 1000);
  // Segment 0 (the tokens): fed words naming every result, one past feed_n, and plain words between them.
  const std::vector<int32_t> seg0 = {-1, 5, -2, -3, 9, -4, -5, -6, 0, -5, 1, -1};
  std::copy(seg0.begin(), seg0.end(), host);
  host[stride_vecs * 4] = -3;  // a negative word in segment 1 is copied as is
  ck::fetch_words({.src = host,
                   .dst = dst.as<int32_t>(),
                   .segments = segments,
                   .seg_vecs = seg_vecs,
                   .stride_vecs = stride_vecs,
                   .feed = dfeed.as<int32_t>(),
                   .feed_n = feed_n},
                  nullptr);
  const auto got = download<int32_t>(dst, words);
  for (size_t i = 0; i < words; ++i) {
    const bool copied = static_cast<int>(i / 4 % stride_vecs) < seg_vecs;
    int32_t want = copied ? host[i] : -9;
    if (copied && i < static_cast<size_t>(seg_vecs) * 4 && host[i] < 0) {
      const int at = -(host[i] + 1);
      want = at < feed_n ? std::max(feed[static_cast<size_t>(at)], 0) : 0;
    }
    ASSERT_EQ(got[i], want) << "word " << i;
  }
  EXPECT_EQ(got[0], 11);
  EXPECT_EQ(got[2], 0);  // the feed value -1 (no finite logit) becomes 0
  EXPECT_EQ(got[stride_vecs * 4], -3);
  EXPECT_THROW(
      ck::fetch_words({.src = host, .dst = dst.as<int32_t>(), .segments = 1, .seg_vecs = 1, .feed_n = 1}, nullptr),
      Error);
  (void)cudaFreeHost(host);
}

// split_columns: the stacked GEMM output split into the parts, each part's bias added in fp32 (exact).
TEST(CudaOps, SplitColumns) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 7);
  const int64_t rows = 5, c0 = 64, c1 = 16, c2 = 24, total = c0 + c1 + c2;
  const auto in = random_floats(rows * total, rng);
  const auto b1 = to_bf16(random_floats(c1, rng));
  DeviceBuffer din = upload(in), db1 = upload(b1), o0(rows * c0 * 4), o1(rows * c1 * 4), o2(rows * c2 * 4);
  ck::SplitColumnsParams p;
  p.n_parts = 3;
  p.total = total;
  p.cols[0] = c0;
  p.cols[1] = c1;
  p.cols[2] = c2;
  p.out[0] = o0.as<float>();
  p.out[1] = o1.as<float>();
  p.out[2] = o2.as<float>();
  p.bias[1] = db1.get();
  ck::split_columns(din.as<float>(), rows, p, nullptr);
  const auto h0 = download<float>(o0, rows * c0), h1 = download<float>(o1, rows * c1),
             h2 = download<float>(o2, rows * c2);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < c0; ++c) ASSERT_EQ(h0[r * c0 + c], in[r * total + c]);
    for (int64_t c = 0; c < c1; ++c) ASSERT_EQ(h1[r * c1 + c], in[r * total + c0 + c] + bf16_to_f32(b1[c]));
    for (int64_t c = 0; c < c2; ++c) ASSERT_EQ(h2[r * c2 + c], in[r * total + c0 + c1 + c]);
  }
}

// attention_inputs (q/k norm + bias + RoPE + cache write, from a stacked q/k/v row) vs the CPU kernels: q fp32 within
// 1e-5 of the max |q| (tree vs sequential sum of squares, cosf/sinf), its bf16 copy and the cached K/V within one bf16
// rounding of the reference.
TEST(CudaOps, AttentionInputs) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 8);
  for (int hd : {16, 128}) {
    const int nh = 4, nkv = 2, bs = 4, blocks = 8;
    const int64_t rows = 6, qw = nh * hd, kw = nkv * hd, total = qw + 2 * kw;
    const float eps = 1e-6f;
    const auto in = random_floats(rows * total, rng, -2, 2);
    const auto qb = to_bf16(random_floats(qw, rng)), kb = to_bf16(random_floats(kw, rng)),
               vb = to_bf16(random_floats(kw, rng));
    const auto qn = to_bf16(random_floats(hd, rng, 0.5f, 1.5f)), kn = to_bf16(random_floats(hd, rng, 0.5f, 1.5f));
    std::vector<int32_t> pos(rows), rb(rows);
    for (int64_t r = 0; r < rows; ++r) {
      pos[r] = static_cast<int32_t>(rng() % 30000);
      rb[r] = static_cast<int32_t>(r % blocks);
    }
    const std::vector<float> inv = kc::rope_inv_freq(hd, 1e6f);
    // CPU reference.
    std::vector<float> q(rows * qw), k(rows * kw), v(rows * kw);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < qw; ++c) q[r * qw + c] = in[r * total + c] + bf16_to_f32(qb[c]);
      for (int64_t c = 0; c < kw; ++c) k[r * kw + c] = in[r * total + qw + c] + bf16_to_f32(kb[c]);
      for (int64_t c = 0; c < kw; ++c) v[r * kw + c] = in[r * total + qw + kw + c] + bf16_to_f32(vb[c]);
    }
    const auto qnf = from_bf16(qn), knf = from_bf16(kn);
    kc::rmsnorm(q.data(), qnf.data(), DType::F32, q.data(), rows * nh, {.n = hd, .eps = eps});
    kc::rmsnorm(k.data(), knf.data(), DType::F32, k.data(), rows * nkv, {.n = hd, .eps = eps});
    kc::rope_rows(q.data(), pos.data(), rows, inv.data(), {.n_heads = nh, .head_dim = hd}, 1);
    kc::rope_rows(k.data(), pos.data(), rows, inv.data(), {.n_heads = nkv, .head_dim = hd}, 1);

    const size_t cache = static_cast<size_t>(blocks) * nkv * bs * hd;
    DeviceBuffer din = upload(in), dqb = upload(qb), dkb = upload(kb), dvb = upload(vb), dqn = upload(qn),
                 dkn = upload(kn), dpos = upload(pos), drb = upload(rb), dinv = upload(inv), dq(rows * qw * 4),
                 dq16(rows * qw * 2), dkc(cache * 2), dvc(cache * 2);
    ck::AttentionInputsParams p;
    p.q = din.as<float>();
    p.k = din.as<float>() + qw;
    p.v = din.as<float>() + qw + kw;
    p.q_ld = p.k_ld = p.v_ld = total;
    p.q_bias = dqb.get();
    p.k_bias = dkb.get();
    p.v_bias = dvb.get();
    p.q_norm = dqn.get();
    p.k_norm = dkn.get();
    p.eps = eps;
    p.inv_freq = dinv.as<float>();
    p.positions = dpos.as<int32_t>();
    p.row_block = drb.as<int32_t>();
    p.n_heads = nh;
    p.n_kv_heads = nkv;
    p.head_dim = hd;
    p.block_size = bs;
    p.q_out = dq.as<float>();
    p.q_bf16 = dq16.get();
    p.k_cache = dkc.get();
    p.v_cache = dvc.get();
    ck::attention_inputs(p, rows, nullptr);
    const auto gq = download<float>(dq, rows * qw);
    EXPECT_LT(rel_err(gq, q), 1e-5) << "head_dim " << hd;
    const auto gq16 = download<uint16_t>(dq16, rows * qw);
    for (int64_t i = 0; i < rows * qw; ++i) ASSERT_EQ(gq16[i], f32_to_bf16(gq[i]));
    const auto gk = from_bf16(download<uint16_t>(dkc, cache)), gv = from_bf16(download<uint16_t>(dvc, cache));
    for (int64_t r = 0; r < rows; ++r)
      for (int h = 0; h < nkv; ++h)
        for (int d = 0; d < hd; ++d) {
          const size_t at = ((static_cast<size_t>(rb[r]) * nkv + h) * bs + pos[r] % bs) * hd + d;
          const float kr = k[r * kw + h * hd + d], vr = v[r * kw + h * hd + d];
          ASSERT_NEAR(gk[at], kr, std::fabs(kr) / 128 + 1e-5f) << "K row " << r;
          ASSERT_EQ(gv[at], bf16_to_f32(f32_to_bf16(vr))) << "V row " << r;
        }
  }
}

// kv_write puts each row's bf16-rounded K and V at [block, head, slot, d] of the paged layout.
TEST(CudaOps, KvWrite) {
  REQUIRE_GPU();
  std::mt19937_64 rng(test_seed() + 6);
  const int n_kv = 3, hd = 16, bs = 8, blocks = 10;
  const int64_t rows = 12, width = n_kv * hd;
  const auto k = random_floats(rows * width, rng), v = random_floats(rows * width, rng);
  std::vector<int32_t> row_block(rows), pos(rows);
  for (int64_t r = 0; r < rows; ++r) {
    row_block[r] = static_cast<int32_t>((r * 7) % blocks);
    pos[r] = static_cast<int32_t>(r * 5 + 3);
  }
  const size_t cache_elems = static_cast<size_t>(blocks) * n_kv * bs * hd;
  DeviceBuffer dk = upload(k), dv = upload(v), drb = upload(row_block), dpos = upload(pos);
  DeviceBuffer kc_(cache_elems * 2), vc_(cache_elems * 2);
  cuda::check_cuda(cudaMemset(kc_.get(), 0, cache_elems * 2), "memset");
  cuda::check_cuda(cudaMemset(vc_.get(), 0, cache_elems * 2), "memset");
  ck::kv_write(dk.as<float>(), dv.as<float>(), drb.as<int32_t>(), dpos.as<int32_t>(), rows, kc_.get(), vc_.get(),
               {.n_kv_heads = n_kv, .head_dim = hd, .block_size = bs}, nullptr);
  const auto kh = download<uint16_t>(kc_, cache_elems), vh = download<uint16_t>(vc_, cache_elems);
  for (int64_t r = 0; r < rows; ++r)
    for (int h = 0; h < n_kv; ++h)
      for (int d = 0; d < hd; ++d) {
        const size_t at = ((static_cast<size_t>(row_block[r]) * n_kv + h) * bs + pos[r] % bs) * hd + d;
        ASSERT_EQ(kh[at], f32_to_bf16(k[r * width + h * hd + d]));
        ASSERT_EQ(vh[at], f32_to_bf16(v[r * width + h * hd + d]));
      }
}

}  // namespace
}  // namespace verbatim

// The scaled norm (kernels/cuda/rms_prep.cuh, row_math.cuh) on a real GPU:
//  - rms_prep against a CPU emulation of its operations, bit for bit (the residual add, U = bf16(w * h), the tile
//    partials of the sum of squares), and the inv_rms it leads to against the plain RMSNorm's in double precision;
//    its embedding gather against embedding() then rms_prep, bit for bit;
//  - the small-M GEMM's prep epilogue (residual GEMM + add + U + partials) against the plain GEMM followed by rms_prep,
//    bit for bit, at M = 1 .. kSmallMMaxM;
//  - the consumers: the SwiGLU epilogue with the row scale against the plain GEMM + swiglu_rows with it, bit for bit;
//    split_columns with it against a CPU emulation, bit for bit; attention_inputs with it against split_columns with
//    it followed by attention_inputs without, bit for bit (the fused attention's prologue: paged_attention_test.cu);
//  - the whole scaled norm + GEMM against the plain norm + GEMM within bf16 tolerance (what a consumer sees).
// Inputs are fresh random values each run (the seed is printed). Skips, loudly, where no CUDA GPU exists.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/rms_prep.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/split_columns.cuh"
#include "kernels/cuda/swiglu.cuh"
#include "kernels/cuda/testdata.h"
#include "util/error.h"
#include "util/half.h"

namespace verbatim::cuda {
namespace {

namespace ck = cuda_kernels;
using ck::kNormTile;
using ck::kSmallMMaxM;
using ck::SmallMGemmParams;

template <typename T>
DeviceBuffer upload(const std::vector<T>& v, cudaStream_t s) {
  DeviceBuffer b(std::max<size_t>(v.size() * sizeof(T), 16));
  check_cuda(cudaMemcpyAsync(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice, s), "upload");
  check_cuda(cudaStreamSynchronize(s), "sync");  // v may go out of scope
  return b;
}

template <typename T>
std::vector<T> download(const DeviceBuffer& b, size_t count, cudaStream_t s) {
  std::vector<T> v(count);
  check_cuda(cudaMemcpyAsync(v.data(), b.get(), count * sizeof(T), cudaMemcpyDeviceToHost, s), "download");
  check_cuda(cudaStreamSynchronize(s), "sync");
  return v;
}

std::vector<float> random_floats(std::mt19937_64& rng, size_t count, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(count);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<uint16_t> random_bf16(std::mt19937_64& rng, size_t count, float lo, float hi) {
  std::vector<uint16_t> v(count);
  const std::vector<float> f = random_floats(rng, count, lo, hi);
  for (size_t i = 0; i < count; ++i) v[i] = f32_to_bf16(f[i]);
  return v;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// The CPU emulation of one row's scaled norm (row_math.cuh's order; std::fma rounds once, as __fmaf_rn does).
struct PrepRow {
  std::vector<float> h, ss;
  std::vector<uint16_t> u;
};
PrepRow cpu_prep(const float* res, const float* x, const uint16_t* w, int64_t n) {
  PrepRow r;
  r.h.resize(n), r.u.resize(n), r.ss.resize(n / kNormTile);
  for (int64_t c = 0; c < n; ++c) {
    r.h[c] = x != nullptr ? res[c] + x[c] : res[c];
    r.u[c] = f32_to_bf16(bf16_to_f32(w[c]) * r.h[c]);
  }
  for (int64_t t = 0; t < n / kNormTile; ++t) {
    float a[8];
    for (int g = 0; g < 8; ++g) {
      const float h0 = r.h[16 * t + g], h1 = r.h[16 * t + g + 8];
      a[g] = std::fma(h1, h1, h0 * h0);
    }
    for (const int o : {4, 2, 1}) {
      float b[8];
      for (int g = 0; g < 8; ++g) b[g] = a[g] + a[g ^ o];
      std::memcpy(a, b, sizeof(a));
    }
    r.ss[t] = a[0];
  }
  return r;
}
float cpu_inv(const float* ss, int64_t n, float eps) {
  float lane[32] = {};
  for (int l = 0; l < 32; ++l)
    for (int64_t t = l; t < n / kNormTile; t += 32) lane[l] = lane[l] + ss[t];
  for (const int o : {16, 8, 4, 2, 1}) {
    float b[32];
    for (int l = 0; l < 32; ++l) b[l] = lane[l] + lane[l ^ o];
    std::memcpy(lane, b, sizeof(lane));
  }
  return 1.0f / std::sqrt(lane[0] / static_cast<float>(n) + eps);
}

class NormPrep : public ::testing::Test {
 protected:
  void SetUp() override {
    if (device_count_or_zero() == 0) return;  // each test skips, loudly
    stream_ = std::make_unique<Stream>();
    counter_ = std::make_unique<DeviceBuffer>(sizeof(unsigned long long));
    ck::gemm_small_m_prepare();
    seed_ = test::fresh_seed();
    rng_.seed(seed_);
    std::printf("scaled norm: seed %llu\n", static_cast<unsigned long long>(seed_));
  }
  cudaStream_t s() const { return stream_->get(); }
  unsigned long long diff(const DeviceBuffer& a, const DeviceBuffer& b, int64_t rows, int64_t row_words) {
    return test::count_diff(a.get(), b.get(), rows, row_words, *counter_, s());
  }
  void launch(const SmallMGemmParams& p) {
    ASSERT_TRUE(ck::gemm_small_m_supported(p)) << "M=" << p.m << " N=" << p.n << " K=" << p.k;
    ck::gemm_small_m(p, s());
    check_cuda(cudaGetLastError(), "gemm_small_m launch");
  }
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<DeviceBuffer> counter_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

TEST_F(NormPrep, RmsPrepEqualsCpuEmulation) {
  REQUIRE_GPU_FOR("scaled norm");
  for (const int64_t n : {int64_t{4096}, int64_t{64}, int64_t{48}, int64_t{1040}})
    for (const int64_t rows : {int64_t{1}, int64_t{3}, int64_t{9}})
      for (const bool add : {true, false}) {
        const size_t count = static_cast<size_t>(rows * n);
        const std::vector<float> res = random_floats(rng_, count, -3.0f, 3.0f), x = random_floats(rng_, count, -1, 1);
        const std::vector<uint16_t> w = random_bf16(rng_, static_cast<size_t>(n), 0.5f, 1.5f);
        DeviceBuffer d_res = upload(res, s()), d_x = upload(x, s()), d_w = upload(w, s()), d_u(count * 2),
                     d_ss(static_cast<size_t>(rows * n / kNormTile) * 4);
        ck::rms_prep({.residual = d_res.as<float>(),
                      .x = add ? d_x.as<float>() : nullptr,
                      .w = d_w.get(),
                      .u = d_u.get(),
                      .ss = d_ss.as<float>(),
                      .n = n},
                     rows, s());
        check_cuda(cudaGetLastError(), "rms_prep");
        const auto h = download<float>(d_res, count, s());
        const auto u = download<uint16_t>(d_u, count, s());
        const auto ss = download<float>(d_ss, static_cast<size_t>(rows * n / kNormTile), s());
        int64_t bad = 0;
        for (int64_t r = 0; r < rows; ++r) {
          const PrepRow e = cpu_prep(&res[r * n], add ? &x[r * n] : nullptr, w.data(), n);
          for (int64_t c = 0; c < n; ++c) bad += bits(e.h[c]) != bits(h[r * n + c]) || e.u[c] != u[r * n + c];
          for (int64_t t = 0; t < n / kNormTile; ++t) bad += bits(e.ss[t]) != bits(ss[r * (n / kNormTile) + t]);
          // The inv it leads to is the row's RMS norm (double precision reference).
          double sum = 0;
          for (int64_t c = 0; c < n; ++c) sum += static_cast<double>(e.h[c]) * e.h[c];
          const double inv = 1.0 / std::sqrt(sum / static_cast<double>(n) + 1e-6);
          EXPECT_NEAR(cpu_inv(&ss[r * (n / kNormTile)], n, 1e-6f), inv, 1e-5 * inv) << "n " << n << " row " << r;
        }
        EXPECT_EQ(bad, 0) << "n " << n << " rows " << rows << (add ? " with the add" : "");
      }
  EXPECT_THROW(ck::rms_prep({.residual = nullptr, .x = nullptr, .n = 64}, 1, s()), Error);
  DeviceBuffer any(1024);
  EXPECT_THROW(
      ck::rms_prep({.residual = any.as<float>(), .w = any.get(), .u = any.get(), .ss = any.as<float>(), .n = 40}, 1,
                   s()),
      Error)
      << "n % 16 != 0";
}

// The embedding folded into rms_prep (its table gather): the same embedding output, U and partials as embedding()
// followed by rms_prep on its output, bit for bit, tokens outside the vocabulary (rows of zeros) included.
TEST_F(NormPrep, RmsPrepGatherEqualsEmbeddingThenRmsPrep) {
  REQUIRE_GPU_FOR("scaled norm");
  for (const int64_t n : {int64_t{4096}, int64_t{64}, int64_t{1040}}) {
    const int64_t vocab = 50;
    const std::vector<int32_t> tokens = {3, 0, 49, -1, 50, 17, 17, 1 << 20, 8};
    const int64_t rows = static_cast<int64_t>(tokens.size());
    const size_t count = static_cast<size_t>(rows * n), tiles = count / kNormTile;
    const std::vector<uint16_t> table = random_bf16(rng_, static_cast<size_t>(vocab * n), -2.0f, 2.0f);
    const std::vector<uint16_t> w = random_bf16(rng_, static_cast<size_t>(n), 0.5f, 1.5f);
    const DeviceBuffer d_table = upload(table, s()), d_tok = upload(tokens, s()), d_w = upload(w, s());
    DeviceBuffer x_ref(count * 4), x(count * 4), u_ref(count * 2), u(count * 2), ss_ref(tiles * 4), ss(tiles * 4);
    check_cuda(cudaMemsetAsync(x.get(), 0x7f, count * 4, s()), "poison");
    ck::embedding(d_table.get(), d_tok.as<int32_t>(), rows, x_ref.as<float>(), {.vocab = vocab, .dim = n}, s());
    ck::rms_prep({.x = x_ref.as<float>(), .w = d_w.get(), .u = u_ref.get(), .ss = ss_ref.as<float>(), .n = n}, rows,
                 s());
    ck::rms_prep({.w = d_w.get(),
                  .u = u.get(),
                  .ss = ss.as<float>(),
                  .n = n,
                  .table = d_table.get(),
                  .tokens = d_tok.as<int32_t>(),
                  .vocab = vocab,
                  .x_out = x.as<float>()},
                 rows, s());
    check_cuda(cudaGetLastError(), "rms_prep");
    const std::string what = "n " + std::to_string(n);
    EXPECT_EQ(diff(x, x_ref, rows, n * 2), 0u) << "embedding output: " << what;
    EXPECT_EQ(diff(u, u_ref, rows, n), 0u) << "U: " << what;
    EXPECT_EQ(diff(ss, ss_ref, rows, n / kNormTile * 2), 0u) << "partials: " << what;
    const auto xs = download<float>(x, count, s());
    EXPECT_EQ(xs[static_cast<size_t>(3 * n)], 0.0f) << "token -1 gives zeros";
    EXPECT_EQ(xs[0], bf16_to_f32(table[static_cast<size_t>(3 * n)])) << "token 3's first value";
  }
  DeviceBuffer any(1024);
  EXPECT_THROW(
      ck::rms_prep({.w = any.get(), .u = any.get(), .ss = any.as<float>(), .n = 64, .table = any.get()}, 1, s()), Error)
      << "a table without tokens and x_out";
}

struct Shape {
  int64_t n, k;
};

TEST_F(NormPrep, PrepEpilogueEqualsGemmThenRmsPrep) {
  REQUIRE_GPU_FOR("scaled norm");
  for (const Shape sh : {Shape{4096, 4096}, Shape{4096, 12288}, Shape{96, 576}}) {
    DeviceBuffer w(static_cast<size_t>(sh.n * sh.k) * 2);
    fill_bf16(w.get(), sh.n, sh.k, sh.k, seed_ + 1, FillPattern::Positive, s());
    const std::vector<uint16_t> nw = random_bf16(rng_, static_cast<size_t>(sh.n), 0.5f, 1.5f);
    const DeviceBuffer d_nw = upload(nw, s());
    DeviceBuffer x(static_cast<size_t>(kSmallMMaxM * sh.k) * 2);
    fill_bf16(x.get(), kSmallMMaxM, sh.k, sh.k, seed_ + 2, FillPattern::HalfSigned, s());
    const size_t count = static_cast<size_t>(kSmallMMaxM * sh.n), tiles = count / kNormTile;
    const DeviceBuffer res0 = upload(random_floats(rng_, count, -2.0f, 2.0f), s());
    DeviceBuffer res_ref(count * 4), res(count * 4), y(count * 4), u_ref(count * 2), u(count * 2), ss_ref(tiles * 4),
        ss(tiles * 4);
    for (const int64_t m : {1, 2, 3, 8, 9, 17, 32}) {
      check_cuda(cudaMemcpyAsync(res_ref.get(), res0.get(), count * 4, cudaMemcpyDeviceToDevice, s()), "copy");
      check_cuda(cudaMemcpyAsync(res.get(), res0.get(), count * 4, cudaMemcpyDeviceToDevice, s()), "copy");
      launch({.x = x.get(), .w = w.get(), .y = y.get(), .m = m, .n = sh.n, .k = sh.k, .out_f32 = true});
      ck::rms_prep({.residual = res_ref.as<float>(),
                    .x = y.as<float>(),
                    .w = d_nw.get(),
                    .u = u_ref.get(),
                    .ss = ss_ref.as<float>(),
                    .n = sh.n},
                   m, s());
      SmallMGemmParams p{.x = x.get(), .w = w.get(), .y = y.get(), .m = m, .n = sh.n, .k = sh.k, .out_f32 = true};
      p.residual = res.as<float>();
      p.prep_w = d_nw.get();
      p.prep_out = u.get();
      p.prep_ss = ss.as<float>();
      launch(p);
      const std::string what = "N=" + std::to_string(sh.n) + " K=" + std::to_string(sh.k) + " M=" + std::to_string(m);
      // Every row of the residual: the m rows added to, the others untouched.
      EXPECT_EQ(diff(res, res_ref, kSmallMMaxM, sh.n * 2), 0u) << "residual: " << what;
      EXPECT_EQ(diff(u, u_ref, m, sh.n), 0u) << "U: " << what;
      EXPECT_EQ(diff(ss, ss_ref, m, sh.n / kNormTile * 2), 0u) << "partials: " << what;
    }
  }
}

TEST_F(NormPrep, SwigluRowScaleEqualsGemmThenSwigluRows) {
  REQUIRE_GPU_FOR("scaled norm");
  for (const Shape sh : {Shape{24576, 4096}, Shape{128, 576}}) {
    const int64_t half = sh.n / 2;
    DeviceBuffer w(static_cast<size_t>(sh.n * sh.k) * 2);
    fill_bf16(w.get(), sh.n, sh.k, sh.k, seed_ + 3, FillPattern::Positive, s());
    DeviceBuffer x(static_cast<size_t>(kSmallMMaxM * sh.k) * 2);
    fill_bf16(x.get(), kSmallMMaxM, sh.k, sh.k, seed_ + 4, FillPattern::HalfSigned, s());
    // Partials of a normed input of width k: positive, as sums of squares are.
    const DeviceBuffer ss =
        upload(random_floats(rng_, static_cast<size_t>(kSmallMMaxM * sh.k / kNormTile), 0.5f, 40.0f), s());
    const ck::RowScale rs{.ss = ss.as<float>(), .n = sh.k, .eps = 1e-6f};
    DeviceBuffer y(static_cast<size_t>(kSmallMMaxM * sh.n) * 4), ref(static_cast<size_t>(kSmallMMaxM * half) * 2),
        out(ref.bytes());
    for (const int64_t m : {1, 2, 5, 8, 9, 32}) {
      launch({.x = x.get(), .w = w.get(), .y = y.get(), .m = m, .n = sh.n, .k = sh.k, .out_f32 = true});
      ck::swiglu_rows(y.as<float>(), y.as<float>() + half, sh.n, m, half, ref.get(), DType::BF16, s(), rs);
      SmallMGemmParams p{.x = x.get(), .w = w.get(), .y = nullptr, .m = m, .n = sh.n, .k = sh.k};
      p.swiglu_out = out.get();
      p.row_ss = rs.ss;
      p.row_n = rs.n;
      p.row_eps = rs.eps;
      launch(p);
      EXPECT_EQ(diff(out, ref, m, half), 0u) << "N=" << sh.n << " K=" << sh.k << " M=" << m;
    }
  }
  // The row scale needs the SwiGLU epilogue and a width it serves.
  DeviceBuffer any(1 << 16);
  SmallMGemmParams p{.x = any.get(), .w = any.get(), .y = any.get(), .m = 1, .n = 64, .k = 64, .out_f32 = true};
  p.row_ss = any.as<float>();
  p.row_n = 64;
  EXPECT_FALSE(ck::gemm_small_m_supported(p)) << "row scale without SwiGLU";
  p.swiglu_out = any.get();
  p.row_n = 40;
  EXPECT_FALSE(ck::gemm_small_m_supported(p)) << "row_n % 16 != 0";
  p.row_n = 64;
  EXPECT_TRUE(ck::gemm_small_m_supported(p));
}

TEST_F(NormPrep, SplitColumnsRowScaleEqualsCpuEmulation) {
  REQUIRE_GPU_FOR("scaled norm");
  const int64_t rows = 5, width = 256, tiles = width / kNormTile;
  ck::SplitColumnsParams sp;
  sp.n_parts = 3;
  sp.cols[0] = 96, sp.cols[1] = 32, sp.cols[2] = 32;
  sp.total = 160;
  const std::vector<float> in = random_floats(rng_, static_cast<size_t>(rows * sp.total), -4.0f, 4.0f);
  const std::vector<float> ssv = random_floats(rng_, static_cast<size_t>(rows * tiles), 0.5f, 40.0f);
  const std::vector<uint16_t> bias = random_bf16(rng_, 32, -1.0f, 1.0f);
  const DeviceBuffer d_in = upload(in, s()), d_ss = upload(ssv, s()), d_bias = upload(bias, s());
  DeviceBuffer o0(rows * 96 * 4), o1(rows * 32 * 4), o2(rows * 32 * 4);
  sp.out[0] = o0.as<float>(), sp.out[1] = o1.as<float>(), sp.out[2] = o2.as<float>();
  sp.bias[1] = d_bias.get();
  ck::split_columns(d_in.as<float>(), rows, sp, s(), {.ss = d_ss.as<float>(), .n = width, .eps = 1e-6f});
  check_cuda(cudaGetLastError(), "split_columns");
  const std::vector<float> g0 = download<float>(o0, rows * 96, s()), g1 = download<float>(o1, rows * 32, s()),
                           g2 = download<float>(o2, rows * 32, s());
  int64_t bad = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float inv = cpu_inv(&ssv[r * tiles], width, 1e-6f);
    for (int64_t c = 0; c < sp.total; ++c) {
      float v = in[r * sp.total + c] * inv;
      float got;
      if (c < 96) {
        got = g0[r * 96 + c];
      } else if (c < 128) {
        v = v + bf16_to_f32(bias[c - 96]);
        got = g1[r * 32 + c - 96];
      } else {
        got = g2[r * 32 + c - 128];
      }
      bad += bits(v) != bits(got);
    }
  }
  EXPECT_EQ(bad, 0);
}

TEST_F(NormPrep, AttentionInputsRowScaleEqualsScaledSplit) {
  REQUIRE_GPU_FOR("scaled norm");
  const int64_t rows = 3;
  const int n_heads = 8, n_kv = 2, hd = 64, bs = 16, blocks = 4;
  const int64_t qw = n_heads * hd, kw = n_kv * hd, total = qw + 2 * kw, width = 512, tiles = width / kNormTile;
  const std::vector<float> qkv = random_floats(rng_, static_cast<size_t>(rows * total), -2.0f, 2.0f);
  const std::vector<float> ssv = random_floats(rng_, static_cast<size_t>(rows * tiles), 0.5f, 40.0f);
  const std::vector<uint16_t> qn = random_bf16(rng_, hd, 0.5f, 1.5f), kn = random_bf16(rng_, hd, 0.5f, 1.5f);
  std::vector<float> inv_freq(hd / 2);
  for (int i = 0; i < hd / 2; ++i) inv_freq[i] = std::pow(1e6f, -2.0f * i / hd);
  const std::vector<int32_t> pos = {5, 17, 40}, rb = {0, 1, 2};
  const DeviceBuffer d_qkv = upload(qkv, s()), d_ss = upload(ssv, s()), d_qn = upload(qn, s()), d_kn = upload(kn, s()),
                     d_inv = upload(inv_freq, s()), d_pos = upload(pos, s()), d_rb = upload(rb, s());
  const ck::RowScale rs{.ss = d_ss.as<float>(), .n = width, .eps = 1e-6f};
  const size_t cache = static_cast<size_t>(blocks * n_kv * bs * hd) * 2;
  struct Out {
    DeviceBuffer q32, q16, kc, vc;
  };
  auto run = [&](bool in_kernel, bool scaled = true) {
    Out o{DeviceBuffer(rows * qw * 4), DeviceBuffer(rows * qw * 2), DeviceBuffer(cache), DeviceBuffer(cache)};
    for (DeviceBuffer* b : {&o.q32, &o.q16, &o.kc, &o.vc})
      check_cuda(cudaMemsetAsync(b->get(), 0, b->bytes(), s()), "memset");
    DeviceBuffer q(rows * qw * 4), k(rows * kw * 4), v(rows * kw * 4);
    ck::AttentionInputsParams p;
    if (in_kernel) {
      p.q = d_qkv.as<float>(), p.k = p.q + qw, p.v = p.q + qw + kw;
      p.q_ld = p.k_ld = p.v_ld = total;
      if (scaled) p.scale = rs;
    } else {
      ck::SplitColumnsParams sp;
      sp.n_parts = 3, sp.total = total, sp.cols[0] = qw, sp.cols[1] = kw, sp.cols[2] = kw;
      sp.out[0] = q.as<float>(), sp.out[1] = k.as<float>(), sp.out[2] = v.as<float>();
      ck::split_columns(d_qkv.as<float>(), rows, sp, s(), rs);
      p.q = q.as<float>(), p.k = k.as<float>(), p.v = v.as<float>();
      p.q_ld = qw, p.k_ld = p.v_ld = kw;
    }
    p.q_norm = d_qn.get(), p.k_norm = d_kn.get(), p.eps = 1e-6f;
    p.inv_freq = d_inv.as<float>(), p.positions = d_pos.as<int32_t>(), p.row_block = d_rb.as<int32_t>();
    p.n_heads = n_heads, p.n_kv_heads = n_kv, p.head_dim = hd, p.block_size = bs;
    p.q_out = o.q32.as<float>(), p.q_bf16 = o.q16.get(), p.k_cache = o.kc.get(), p.v_cache = o.vc.get();
    ck::attention_inputs(p, rows, s());
    check_cuda(cudaGetLastError(), "attention_inputs");
    check_cuda(cudaStreamSynchronize(s()), "sync");
    return o;
  };
  const Out a = run(true), b = run(false), plain = run(true, false);
  EXPECT_EQ(diff(a.q32, b.q32, rows, qw * 2), 0u) << "q fp32";
  EXPECT_EQ(diff(a.q16, b.q16, rows, qw), 0u) << "q bf16";
  EXPECT_EQ(diff(a.kc, b.kc, 1, static_cast<int64_t>(cache / 2)), 0u) << "K cache";
  EXPECT_EQ(diff(a.vc, b.vc, 1, static_cast<int64_t>(cache / 2)), 0u) << "V cache";
  EXPECT_GT(diff(a.vc, plain.vc, 1, static_cast<int64_t>(cache / 2)), 0u) << "the row scale was not applied";
}

// What the consumer sees: the scaled norm's GEMM output times inv equals the plain norm's GEMM output within bf16
// tolerance (the two round at different places: bf16(w * h) then * inv, against bf16(w * (h * inv))).
TEST_F(NormPrep, ScaledNormGemmMatchesPlainNormGemm) {
  REQUIRE_GPU_FOR("scaled norm");
  const int64_t m = 3, n = 256, k = 1024;
  DeviceBuffer w(static_cast<size_t>(n * k) * 2);
  fill_bf16(w.get(), n, k, k, seed_ + 5, FillPattern::Uniform, s());
  const std::vector<float> h = random_floats(rng_, static_cast<size_t>(m * k), -3.0f, 3.0f);
  const std::vector<uint16_t> nw = random_bf16(rng_, static_cast<size_t>(k), 0.5f, 1.5f);
  const DeviceBuffer d_h = upload(h, s()), d_nw = upload(nw, s());
  DeviceBuffer xn(static_cast<size_t>(m * k) * 2), u(xn.bytes()), ss(static_cast<size_t>(m * k / kNormTile) * 4),
      y_plain(static_cast<size_t>(m * n) * 4), y_acc(y_plain.bytes()), y_scaled(y_plain.bytes());
  ck::add_rmsnorm(nullptr, d_h.as<float>(), d_nw.get(), xn.get(), DType::BF16, m, {.n = k, .eps = 1e-6f}, s());
  ck::rms_prep({.x = d_h.as<float>(), .w = d_nw.get(), .u = u.get(), .ss = ss.as<float>(), .n = k}, m, s());
  launch({.x = xn.get(), .w = w.get(), .y = y_plain.get(), .m = m, .n = n, .k = k, .out_f32 = true});
  launch({.x = u.get(), .w = w.get(), .y = y_acc.get(), .m = m, .n = n, .k = k, .out_f32 = true});
  ck::SplitColumnsParams sp;
  sp.n_parts = 1, sp.total = n, sp.cols[0] = n, sp.out[0] = y_scaled.as<float>();
  ck::split_columns(y_acc.as<float>(), m, sp, s(), {.ss = ss.as<float>(), .n = k, .eps = 1e-6f});
  check_cuda(cudaGetLastError(), "launches");
  const auto a = download<float>(y_plain, static_cast<size_t>(m * n), s());
  const auto b = download<float>(y_scaled, static_cast<size_t>(m * n), s());
  const auto acc = download<float>(y_acc, static_cast<size_t>(m * n), s());
  double worst = 0, scale = 0;
  int64_t changed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
    changed += bits(acc[i]) != bits(b[i]);
  }
  // Each output sums k products of bf16 values whose relative rounding differs by up to 2^-8: a random walk.
  EXPECT_LT(worst, 0.02 * scale) << "worst " << worst << " of " << scale;
  EXPECT_GT(changed, static_cast<int64_t>(a.size() / 2)) << "the row scale was not applied";
}

}  // namespace
}  // namespace verbatim::cuda

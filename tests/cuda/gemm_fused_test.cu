// The small-M GEMM's fusions (kernels/cuda/gemm_small_m.cuh) on a real GPU, each against the standalone kernels it
// replaces, bit for bit, at M = 1 .. kSmallMMaxM (the bucket sizes the backend fuses at) and for the Qwen3-8B shapes
// plus small ones:
//  - SwiGLU epilogue: equals the plain GEMM of the stacked [gate; up] weight followed by swiglu_rows (swiglu.cuh);
//  - residual epilogue: y equals the plain GEMM, the residual equals add_rmsnorm's residual add of y.
// (The prep epilogue and the row scale: norm_prep_test.cu.)
// Inputs are fresh random values each run (the seed is printed). Skips, loudly, where no CUDA GPU exists.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/swiglu.cuh"
#include "kernels/cuda/testdata.h"
#include "util/error.h"

namespace verbatim::cuda {
namespace {

using cuda_kernels::gemm_small_m;
using cuda_kernels::kSmallMMaxM;
using cuda_kernels::SmallMGemmParams;
using test::count_diff;
using test::fresh_seed;

// fp32 values U(-2, 2) + offset on the device (the residual stream's values).
DeviceBuffer random_f32(std::mt19937_64& rng, int64_t count, cudaStream_t s) {
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> h(static_cast<size_t>(count));
  for (float& v : h) v = d(rng);
  DeviceBuffer b(h.size() * 4);
  check_cuda(cudaMemcpyAsync(b.get(), h.data(), b.bytes(), cudaMemcpyHostToDevice, s), "cudaMemcpyAsync");
  check_cuda(cudaStreamSynchronize(s), "cudaStreamSynchronize");  // h is pageable and goes out of scope
  return b;
}

const int64_t kMs[] = {1, 2, 3, 7, 8, 9, 16, 17, 24, 32};

struct Shape {
  int64_t n, k;
};

class Fused : public ::testing::Test {
 protected:
  void SetUp() override {
    if (device_count_or_zero() == 0) return;  // each test skips, loudly
    stream_ = std::make_unique<Stream>();
    counter_ = std::make_unique<DeviceBuffer>(sizeof(unsigned long long));
    cuda_kernels::gemm_small_m_prepare();
    seed_ = fresh_seed();
    rng_.seed(seed_);
    std::printf("small-M fusions: seed %llu\n", static_cast<unsigned long long>(seed_));
  }
  void launch(const SmallMGemmParams& p) {
    ASSERT_TRUE(cuda_kernels::gemm_small_m_supported(p)) << "M=" << p.m << " N=" << p.n << " K=" << p.k;
    gemm_small_m(p, stream_->get());
    check_cuda(cudaGetLastError(), "gemm_small_m launch");
  }
  unsigned long long diff(const DeviceBuffer& a, const DeviceBuffer& b, int64_t rows, int64_t row_words) {
    return count_diff(a.get(), b.get(), rows, row_words, *counter_, stream_->get());
  }
  std::unique_ptr<Stream> stream_;  // (made in SetUp: none without a GPU)
  std::unique_ptr<DeviceBuffer> counter_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

TEST_F(Fused, SwigluEpilogueEqualsGemmThenSwiglu) {
  REQUIRE_GPU_FOR("small-M GEMM fusion");
  const cudaStream_t s = stream_->get();
  for (const Shape sh : {Shape{24576, 4096}, Shape{96, 576}, Shape{32, 64}}) {
    const int64_t h = sh.n / 2;
    DeviceBuffer w(static_cast<size_t>(sh.n * sh.k) * 2);
    fill_bf16(w.get(), sh.n, sh.k, sh.k, seed_ + 3, FillPattern::Uniform, s);
    DeviceBuffer x(static_cast<size_t>(kSmallMMaxM * sh.k) * 2);
    fill_bf16(x.get(), kSmallMMaxM, sh.k, sh.k, seed_ + 5, FillPattern::HalfSigned, s);
    DeviceBuffer gu(static_cast<size_t>(kSmallMMaxM * sh.n) * 4);
    DeviceBuffer out_ref(static_cast<size_t>(kSmallMMaxM * h) * 2), out(out_ref.bytes());
    for (const int64_t m : kMs) {
      launch({.x = x.get(), .w = w.get(), .y = gu.get(), .m = m, .n = sh.n, .k = sh.k, .out_f32 = true});
      cuda_kernels::swiglu_rows(gu.as<float>(), gu.as<float>() + h, sh.n, m, h, out_ref.get(), DType::BF16, s);
      fill_u16(out.get(), out.bytes() / 2, 0xFFFF, s);
      launch({.x = x.get(), .w = w.get(), .m = m, .n = sh.n, .k = sh.k, .swiglu_out = out.get()});
      EXPECT_EQ(diff(out, out_ref, m, h), 0u) << "N=" << sh.n << " K=" << sh.k << " M=" << m;
    }
  }
}

TEST_F(Fused, ResidualEpilogueEqualsGemmThenAdd) {
  REQUIRE_GPU_FOR("small-M GEMM fusion");
  const cudaStream_t s = stream_->get();
  for (const Shape sh : {Shape{4096, 4096}, Shape{4096, 12288}, Shape{96, 576}}) {
    DeviceBuffer w(static_cast<size_t>(sh.n * sh.k) * 2), nw(static_cast<size_t>(sh.n) * 2);
    fill_bf16(w.get(), sh.n, sh.k, sh.k, seed_ + 6, FillPattern::Positive, s);
    fill_bf16(nw.get(), 1, sh.n, sh.n, seed_ + 7, FillPattern::Uniform, s);
    DeviceBuffer x(static_cast<size_t>(kSmallMMaxM * sh.k) * 2);
    fill_bf16(x.get(), kSmallMMaxM, sh.k, sh.k, seed_ + 8, FillPattern::HalfSigned, s);
    const DeviceBuffer res0 = random_f32(rng_, kSmallMMaxM * sh.n, s);
    DeviceBuffer res_ref(res0.bytes()), res(res0.bytes()), normed(static_cast<size_t>(kSmallMMaxM * sh.n) * 2);
    DeviceBuffer y_ref(static_cast<size_t>(kSmallMMaxM * sh.n) * 4), y(y_ref.bytes());
    for (const int64_t m : kMs) {
      check_cuda(cudaMemcpyAsync(res_ref.get(), res0.get(), res0.bytes(), cudaMemcpyDeviceToDevice, s), "copy");
      check_cuda(cudaMemcpyAsync(res.get(), res0.get(), res0.bytes(), cudaMemcpyDeviceToDevice, s), "copy");
      launch({.x = x.get(), .w = w.get(), .y = y_ref.get(), .m = m, .n = sh.n, .k = sh.k, .out_f32 = true});
      cuda_kernels::add_rmsnorm(res_ref.as<float>(), y_ref.as<float>(), nw.get(), normed.get(), DType::BF16, m,
                                {.n = sh.n, .eps = 1e-5f}, s);
      launch({.x = x.get(),
              .w = w.get(),
              .y = y.get(),
              .m = m,
              .n = sh.n,
              .k = sh.k,
              .out_f32 = true,
              .residual = res.as<float>()});
      EXPECT_EQ(diff(y, y_ref, m, sh.n * 2), 0u) << "y: N=" << sh.n << " K=" << sh.k << " M=" << m;
      // Every row of the residual: the m rows added to, the others untouched.
      EXPECT_EQ(diff(res, res_ref, kSmallMMaxM, sh.n * 2), 0u) << "residual: N=" << sh.n << " K=" << sh.k << " M=" << m;
    }
  }
}

TEST_F(Fused, UnsupportedFusionsAreRefused) {
  REQUIRE_GPU_FOR("small-M GEMM fusion");
  DeviceBuffer buf(1 << 20);
  float* f = buf.as<float>();
  SmallMGemmParams base{.x = buf.get(), .w = buf.get(), .y = buf.get(), .m = 1, .n = 64, .k = 80, .out_f32 = true};
  SmallMGemmParams p = base;
  p.residual = f;
  EXPECT_FALSE(cuda_kernels::gemm_small_m_supported(p)) << "K % 64 != 0";
  p.k = 64;
  p.prep_out = buf.get();
  EXPECT_FALSE(cuda_kernels::gemm_small_m_supported(p)) << "prep without its weight and partials";
  p.prep_w = buf.get();
  p.prep_ss = f;
  EXPECT_TRUE(cuda_kernels::gemm_small_m_supported(p));
  p.residual = nullptr;
  EXPECT_FALSE(cuda_kernels::gemm_small_m_supported(p)) << "prep without the residual";
  p = base;
  p.k = 64;
  p.n = 48;
  p.swiglu_out = buf.get();
  EXPECT_FALSE(cuda_kernels::gemm_small_m_supported(p)) << "SwiGLU with n % 32 != 0";
  p.n = 64;
  EXPECT_TRUE(cuda_kernels::gemm_small_m_supported(p));
  p.residual = f;
  EXPECT_FALSE(cuda_kernels::gemm_small_m_supported(p)) << "SwiGLU + residual";
  EXPECT_THROW(gemm_small_m(p, stream_->get()), Error);
}

}  // namespace
}  // namespace verbatim::cuda

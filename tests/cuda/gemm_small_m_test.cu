// The small-M GEMM kernel (kernels/cuda/gemm_small_m.cuh) on a real GPU: accuracy against a CPU fp64 reference (odd
// shapes, tails), bitwise equality of every row at every M <= kSmallMMaxM with the same row computed alone by the
// backend's cuBLASLt reference algorithm (backend/cuda/gemm.h, invariant, M = 1) for the Qwen3-8B weight shapes.
// Every test skips, loudly, where no CUDA GPU exists.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cuda/gemm.h"
#include "cuda_test_util.h"
#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/testdata.h"
#include "util/half.h"

namespace verbatim::cuda {
namespace {

using test::count_diff;
using test::fresh_seed;

using cuda_kernels::gemm_small_m;
using cuda_kernels::kSmallMMaxM;
using cuda_kernels::SmallMGemmParams;

TEST(CudaGemmSmallM, AccuracyAgainstCpuReference) {
  REQUIRE_GPU_FOR("small-M GEMM");
  Stream stream;
  cuda_kernels::gemm_small_m_prepare();
  const uint64_t seed = fresh_seed();
  std::printf("small-M accuracy: seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  struct Case {
    int64_t n, k;
  };
  // Tails in N (not a multiple of 16) and K (not a multiple of the 128-column stage), and one long K.
  for (const Case c : {Case{100, 272}, Case{37, 16}, Case{256, 4096}, Case{48, 12304}}) {
    const int64_t m = kSmallMMaxM;
    std::vector<uint16_t> x(static_cast<size_t>(m * c.k)), w(static_cast<size_t>(c.n * c.k));
    for (auto& v : x) v = f32_to_bf16(dist(rng));
    for (auto& v : w) v = f32_to_bf16(dist(rng));
    DeviceBuffer dx(x.size() * 2), dw(w.size() * 2), dy(static_cast<size_t>(m * c.n) * 4);
    check_cuda(cudaMemcpy(dx.get(), x.data(), dx.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
    check_cuda(cudaMemcpy(dw.get(), w.data(), dw.bytes(), cudaMemcpyHostToDevice), "cudaMemcpy");
    // (pageable cudaMemcpy may return before its DMA lands; the kernels run on a non-blocking stream)
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    for (int64_t mm : {int64_t{1}, int64_t{3}, int64_t{8}, int64_t{13}, int64_t{24}, m}) {
      for (bool f32 : {false, true}) {
        fill_u16(dy.get(), dy.bytes() / 2, 0xFFFF, stream.get());
        gemm_small_m({.x = dx.get(), .w = dw.get(), .y = dy.get(), .m = mm, .n = c.n, .k = c.k, .out_f32 = f32},
                     stream.get());
        check_cuda(cudaGetLastError(), "gemm_small_m launch");
        std::vector<uint16_t> y16(static_cast<size_t>(m * c.n) * 2);
        check_cuda(cudaMemcpyAsync(y16.data(), dy.get(), y16.size() * 2, cudaMemcpyDeviceToHost, stream.get()),
                   "cudaMemcpyAsync");
        stream.sync();
        double err2 = 0, ref2 = 0;
        int64_t bad = 0, overwritten = 0;
        for (int64_t i = 0; i < mm; ++i) {
          for (int64_t j = 0; j < c.n; ++j) {
            double ref = 0;
            for (int64_t t = 0; t < c.k; ++t) {
              ref += static_cast<double>(bf16_to_f32(x[i * c.k + t])) * bf16_to_f32(w[j * c.k + t]);
            }
            const size_t e = static_cast<size_t>(i * c.n + j);
            float v;
            if (f32) {
              std::memcpy(&v, &y16[2 * e], 4);
            } else {
              v = bf16_to_f32(y16[e]);
            }
            if (!std::isfinite(v)) ++bad;
            err2 += (v - ref) * (v - ref);
            ref2 += ref * ref;
          }
        }
        // Nothing past row mm is written (the poison stays).
        const size_t words = static_cast<size_t>(c.n) * (f32 ? 2 : 1);
        for (size_t e = static_cast<size_t>(mm) * words; e < static_cast<size_t>(m) * words; ++e) {
          if (y16[e] != 0xFFFF) ++overwritten;
        }
        const double rel = std::sqrt(err2 / ref2);
        EXPECT_EQ(bad, 0) << "N=" << c.n << " K=" << c.k << " M=" << mm << ": unwritten or non-finite outputs";
        EXPECT_EQ(overwritten, 0) << "N=" << c.n << " K=" << c.k << " M=" << mm << ": wrote past row M";
        EXPECT_LE(rel, f32 ? 1e-4 : 1e-2) << "N=" << c.n << " K=" << c.k << " M=" << mm;
      }
    }
  }
}

// Every row of the kernel at every M in 1..kSmallMMaxM equals, bit for bit, the same X row computed alone by the
// cuBLASLt reference algorithm of the invariant GEMM (order-revealing data: X HalfSigned, W Positive).
TEST(CudaGemmSmallM, RowsEqualCublasReferenceBitwise) {
  REQUIRE_GPU_FOR("small-M GEMM");
  LtContext ctx;
  Stream stream;
  cuda_kernels::gemm_small_m_prepare();
  const cudaStream_t s = stream.get();
  const uint64_t seed = fresh_seed();
  std::printf("small-M vs cuBLASLt reference: seed %llu\n", static_cast<unsigned long long>(seed));
  DeviceBuffer counter(sizeof(unsigned long long));
  struct Shape {
    int64_t n, k;
  };
  // K % 64 == 0 takes the kernel's 3-D tensor maps (one copy per stage); 1040 and 272 its 2-D ones (one per chunk).
  for (const Shape sh : {Shape{6144, 4096}, Shape{4096, 4096}, Shape{24576, 4096}, Shape{4096, 12288},
                         Shape{151936, 4096}, Shape{576, 576}, Shape{1536, 576}, Shape{1000, 1040}, Shape{96, 272}}) {
    for (GemmOut out : {GemmOut::BF16, GemmOut::F32}) {
      GemmTuneOptions opt;
      opt.max_m = 1;
      opt.own_kernel = false;  // the reference rows come from cuBLASLt itself
      Gemm ref(ctx, sh.n, sh.k, out, Mode::Invariant, opt, s);
      const size_t os = gemm_out_size(out);
      const int64_t y_words = sh.n * static_cast<int64_t>(os) / 2;
      DeviceBuffer w(static_cast<size_t>(sh.n * sh.k) * 2), x(static_cast<size_t>(kSmallMMaxM * sh.k) * 2);
      DeviceBuffer x_row(static_cast<size_t>(sh.k) * 2), y_ref(static_cast<size_t>(kSmallMMaxM * sh.n) * os);
      DeviceBuffer y(static_cast<size_t>(kSmallMMaxM * sh.n) * os), y_row(static_cast<size_t>(sh.n) * os);
      fill_bf16(w.get(), sh.n, sh.k, sh.k, seed + 1, FillPattern::Positive, s);
      fill_bf16(x.get(), kSmallMMaxM, sh.k, sh.k, seed + 2, FillPattern::HalfSigned, s);
      for (int64_t r = 0; r < kSmallMMaxM; ++r) {
        check_cuda(cudaMemcpyAsync(x_row.get(), static_cast<char*>(x.get()) + r * sh.k * 2, sh.k * 2,
                                   cudaMemcpyDeviceToDevice, s),
                   "cudaMemcpyAsync");
        ref.run(x_row.get(), w.get(), y_row.get(), 1, s);
        check_cuda(cudaMemcpyAsync(static_cast<char*>(y_ref.get()) + r * sh.n * os, y_row.get(), sh.n * os,
                                   cudaMemcpyDeviceToDevice, s),
                   "cudaMemcpyAsync");
      }
      unsigned long long total = 0;
      int bad_ms = 0;
      for (int64_t m = 1; m <= kSmallMMaxM; ++m) {
        fill_u16(y.get(), static_cast<size_t>(m * y_words), 0xFFFF, s);
        gemm_small_m(
            {.x = x.get(), .w = w.get(), .y = y.get(), .m = m, .n = sh.n, .k = sh.k, .out_f32 = out == GemmOut::F32},
            s);
        check_cuda(cudaGetLastError(), "gemm_small_m launch");
        const unsigned long long d = count_diff(y.get(), y_ref.get(), m, y_words, counter, s);
        total += d;
        bad_ms += d != 0;
      }
      std::printf(
          "small-M vs cuBLASLt reference: N=%lld K=%lld out=%s: %llu differing words over M=1..%lld (%d M "
          "values differ)\n",
          static_cast<long long>(sh.n), static_cast<long long>(sh.k), gemm_out_name(out), total,
          static_cast<long long>(kSmallMMaxM), bad_ms);
      EXPECT_EQ(total, 0u) << "N=" << sh.n << " K=" << sh.k << " out=" << gemm_out_name(out);
    }
  }
}

}  // namespace
}  // namespace verbatim::cuda

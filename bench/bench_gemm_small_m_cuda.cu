// The small-M GEMM kernel (kernels/cuda/gemm_small_m.cuh) against the invariant cuBLASLt table (backend/cuda/gemm.h,
// tuned to max M 32) and against the device-to-device copy rate, for the Qwen3-8B weight shapes at M = 1 ... 32.
//
// Timing: CUDA events around a group that rotates over enough (X, W, Y) sets to hold 3x the L2 (no weight read from
// cache), 2 warm-up groups, median of --reps groups / group size. GB/s counts W + X read and Y written once. Copy
// rate: cudaMemcpy device to device of 2 GiB, bytes read + written, best of 10.
//
// Usage: bench_gemm_small_m_cuda [--reps N] [--shape NxK]...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/cuda/gemm.h"
#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/testdata.h"

namespace vc = verbatim::cuda;
namespace vk = verbatim::cuda_kernels;

namespace {

struct Shape {
  int64_t n, k;
};

// The latency of one dependent m16n8k16 mma step (each mma accumulates into the previous one's result, as every
// output's k-chain does) and, with CHAINS independent chains in one warp, the issue rate: clock64 cycles per step.
template <int CHAINS>
__global__ void mma_chain_kernel(long long* cycles, float* sink, int steps) {
  uint32_t a[4] = {0x3f803f80u, 0x3f803f80u, 0x3f803f80u, 0x3f803f80u}, b0 = 0x3f803f80u, b1 = 0x3f803f80u;
  float d[CHAINS][4] = {};
  const long long t0 = clock64();
  for (int i = 0; i < steps; ++i) {
#pragma unroll
    for (int c = 0; c < CHAINS; ++c) {
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
          "{%0,%1,%2,%3};\n"
          : "+f"(d[c][0]), "+f"(d[c][1]), "+f"(d[c][2]), "+f"(d[c][3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
  }
  const long long t1 = clock64();
  float s = 0;
#pragma unroll
  for (int c = 0; c < CHAINS; ++c) s += d[c][0] + d[c][1] + d[c][2] + d[c][3];
  sink[threadIdx.x] = s;
  if (threadIdx.x == 0) *cycles = t1 - t0;
}

template <int CHAINS>
double mma_cycles_per_step(cudaStream_t s) {
  vc::DeviceBuffer cycles(sizeof(long long)), sink(32 * sizeof(float));
  constexpr int kSteps = 4096;
  long long c = 0;
  for (int rep = 0; rep < 2; ++rep) {  // the first run warms the instruction cache
    mma_chain_kernel<CHAINS><<<1, 32, 0, s>>>(cycles.as<long long>(), sink.as<float>(), kSteps);
    vc::check_cuda(cudaGetLastError(), "mma_chain_kernel");
    vc::check_cuda(cudaMemcpyAsync(&c, cycles.get(), sizeof(c), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
    vc::check_cuda(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  }
  return static_cast<double>(c) / kSteps;
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run(int argc, char** argv) {
  int reps = 25;
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    long long n = 0, k = 0;
    if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--shape" && i + 1 < argc && std::sscanf(argv[++i], "%lldx%lld", &n, &k) == 2 && n > 0 && k > 0) {
      shapes.push_back({n, k});
    } else {
      std::fprintf(stderr, "usage: bench_gemm_small_m_cuda [--reps N] [--shape NxK]...\n");
      return 2;
    }
  }
  if (shapes.empty()) shapes = {{6144, 4096}, {4096, 4096}, {24576, 4096}, {4096, 12288}, {151936, 4096}};
  if (vc::device_count_or_zero() == 0) {
    std::fprintf(stderr, "bench_gemm_small_m_cuda: no CUDA GPU found\n");
    return 1;
  }
  vc::LtContext ctx;
  vc::Stream stream;
  vk::gemm_small_m_prepare();
  const cudaStream_t s = stream.get();
  vc::Event e0, e1;

  float copy_gbs = 0;
  {
    const size_t bytes = size_t{2} << 30;
    vc::DeviceBuffer a(bytes), b(bytes);
    for (int i = 0; i < 12; ++i) {
      e0.record(s);
      vc::check_cuda(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync");
      e1.record(s);
      const float ms = e1.ms_since(e0);
      if (i >= 2) copy_gbs = std::max(copy_gbs, static_cast<float>(2.0 * bytes / ms * 1e-6));
    }
  }
  std::printf("device: %s, %d SMs; copy rate %.1f GB/s (read + write); %d reps\n", ctx.device_name().c_str(),
              ctx.sm_count(), copy_gbs, reps);
  std::printf(
      "mma.sync m16n8k16 bf16 (one warp): %.1f cycles per dependent step; with 2 / 4 independent chains "
      "%.1f / %.1f cycles per step of each\n",
      mma_cycles_per_step<1>(s), mma_cycles_per_step<2>(s), mma_cycles_per_step<4>(s));
  std::printf("%-12s %4s | %9s %7s %6s | %9s %7s | %6s\n", "N x K", "M", "small us", "GB/s", "of cp", "table us",
              "GB/s", "speed");
  for (const Shape& sh : shapes) {
    vc::GemmTuneOptions opt;
    opt.max_m = vk::kSmallMMaxM;
    opt.own_kernel = false;  // cuBLASLt alone, to compare with
    vc::Gemm table(ctx, sh.n, sh.k, vc::GemmOut::BF16, verbatim::Mode::Invariant, opt, s);
    const size_t x_bytes = static_cast<size_t>(vk::kSmallMMaxM * sh.k) * 2;
    const size_t w_bytes = static_cast<size_t>(sh.n * sh.k) * 2,
                 y_bytes = static_cast<size_t>(vk::kSmallMMaxM * sh.n) * 2;
    const int n_sets = static_cast<int>(std::clamp<int64_t>(
        (3 * ctx.l2_bytes() + static_cast<int64_t>(w_bytes) - 1) / static_cast<int64_t>(w_bytes), 3, 16));
    std::vector<vc::DeviceBuffer> xs, ws, ys;
    for (int i = 0; i < n_sets; ++i) {
      xs.emplace_back(x_bytes);
      ws.emplace_back(w_bytes);
      ys.emplace_back(y_bytes);
      vc::fill_bf16(xs.back().get(), vk::kSmallMMaxM, sh.k, sh.k, 100 + i, vc::FillPattern::Uniform, s);
      vc::fill_bf16(ws.back().get(), sh.n, sh.k, sh.k, 200 + i, vc::FillPattern::Uniform, s);
    }
    for (int64_t m : {1, 2, 4, 8, 16, 32}) {
      auto small = [&]() {
        e0.record(s);
        for (int i = 0; i < n_sets; ++i) {
          vk::gemm_small_m({.x = xs[i].get(), .w = ws[i].get(), .y = ys[i].get(), .m = m, .n = sh.n, .k = sh.k}, s);
        }
        e1.record(s);
        return e1.ms_since(e0) * 1000.0f / n_sets;
      };
      auto tab = [&]() {
        e0.record(s);
        for (int i = 0; i < n_sets; ++i) table.run(xs[i].get(), ws[i].get(), ys[i].get(), m, s);
        e1.record(s);
        return e1.ms_since(e0) * 1000.0f / n_sets;
      };
      for (int w = 0; w < 2; ++w) small(), tab();
      std::vector<float> ts, tt;
      for (int r = 0; r < reps; ++r) ts.push_back(small()), tt.push_back(tab());
      vc::check_cuda(cudaGetLastError(), "gemm_small_m");
      const float us = median(ts), ut = median(tt);
      const double bytes = 2.0 * (static_cast<double>(sh.n) * sh.k + static_cast<double>(m) * (sh.k + sh.n));
      char name[32];
      std::snprintf(name, sizeof(name), "%lldx%lld", static_cast<long long>(sh.n), static_cast<long long>(sh.k));
      std::printf("%-12s %4lld | %9.2f %7.0f %5.1f%% | %9.2f %7.0f | %5.2fx\n", name, static_cast<long long>(m), us,
                  bytes / us * 1e-3, 100.0 * bytes / us * 1e-3 / copy_gbs, ut, bytes / ut * 1e-3, ut / us);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gemm_small_m_cuda: %s\n", e.what());
    return 1;
  }
}

// Invariant bf16 GEMM (src/backend/cuda/gemm.h, Mode::Invariant) against cuBLASLt's default heuristic (Mode::Fast:
// its first result per exact M, split-K allowed) for the Qwen3-8B weight shapes, M = 1, 2, 4, ..., 4096.
//
// Timing: CUDA events around a group of GEMMs that rotates over several (X, W, Y) buffer sets (at least 3, and
// enough to hold 3x the L2 size, so that no weight is read from cache), warm-up first, the two modes interleaved
// group by group, the median of --reps groups (default 25) divided by the group size. TFLOP/s = 2MNK / t; GB/s counts
// the compulsory bytes (W and X read once, Y written once). Bits: rows 0..min(M,8)-1 of each mode's output at M are
// compared with that mode's own M = 1 rows of the same X rows.
//
// Usage: bench_gemm_cuda [--reps N] [--shape NxK]...   (default: the five Qwen3-8B shapes)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cuda/gemm.h"
#include "kernels/cuda/testdata.h"

namespace vc = verbatim::cuda;

namespace {

struct Shape {
  int64_t n, k;
};

struct Row {
  Shape shape;
  int64_t m;
  float inv_us, fast_us;
  bool inv_bits_ok, fast_bits_ok;
};

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

unsigned long long count_diff(const void* a, const void* b, int64_t rows, int64_t row_words, vc::DeviceBuffer& counter,
                              cudaStream_t s) {
  vc::check_cuda(cudaMemsetAsync(counter.get(), 0, sizeof(unsigned long long), s), "cudaMemsetAsync");
  vc::count_diff_u16(a, row_words, b, row_words, rows, row_words, counter.as<unsigned long long>(), s);
  unsigned long long c = 0;
  vc::check_cuda(cudaMemcpyAsync(&c, counter.get(), sizeof(c), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  vc::check_cuda(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  return c;
}

int run(int argc, char** argv) {
  int reps = 25;
  std::vector<Shape> shapes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--shape" && i + 1 < argc) {
      long long n = 0, k = 0;
      if (std::sscanf(argv[++i], "%lldx%lld", &n, &k) != 2 || n <= 0 || k <= 0) {
        std::fprintf(stderr, "bad --shape %s (want NxK)\n", argv[i]);
        return 2;
      }
      shapes.push_back({n, k});
    } else {
      std::fprintf(stderr, "usage: bench_gemm_cuda [--reps N] [--shape NxK]...\n");
      return 2;
    }
  }
  if (shapes.empty()) shapes = {{6144, 4096}, {4096, 4096}, {24576, 4096}, {4096, 12288}, {151936, 4096}};
  if (vc::device_count_or_zero() == 0) {
    std::fprintf(stderr, "bench_gemm_cuda: no CUDA GPU found\n");
    return 1;
  }
  constexpr int64_t kMaxM = 4096;
  vc::LtContext ctx;
  vc::Stream stream;
  const cudaStream_t s = stream.get();
  int driver = 0, runtime = 0;
  vc::check_cuda(cudaDriverGetVersion(&driver), "cudaDriverGetVersion");
  vc::check_cuda(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  std::printf("device: %s, %d SMs, L2 %lld MB; CUDA driver %d, runtime %d, cuBLASLt %zu; %d reps\n",
              ctx.device_name().c_str(), ctx.sm_count(), static_cast<long long>(ctx.l2_bytes() >> 20), driver, runtime,
              cublasLtGetVersion(), reps);
  std::vector<Row> rows;
  vc::Event e0, e1;
  vc::DeviceBuffer counter(sizeof(unsigned long long));

  for (const Shape& sh : shapes) {
    const size_t x_row = static_cast<size_t>(sh.k) * 2, y_row = static_cast<size_t>(sh.n) * 2;
    const size_t w_bytes = static_cast<size_t>(sh.n) * x_row;
    vc::GemmTuneOptions opt;
    opt.max_m = kMaxM;
    vc::Gemm inv(ctx, sh.n, sh.k, vc::GemmOut::BF16, verbatim::Mode::Invariant, opt, s);
    vc::Gemm fast(ctx, sh.n, sh.k, vc::GemmOut::BF16, verbatim::Mode::Fast, opt, s);
    std::printf("%s", inv.table_report().c_str());
    std::fflush(stdout);

    const size_t set_bytes = w_bytes + kMaxM * x_row;
    const int n_sets = static_cast<int>(std::clamp<int64_t>(
        (3 * ctx.l2_bytes() + static_cast<int64_t>(set_bytes) - 1) / static_cast<int64_t>(set_bytes), 3, 16));
    std::vector<vc::DeviceBuffer> xs, ws, ys;
    for (int i = 0; i < n_sets; ++i) {
      xs.emplace_back(kMaxM * x_row);
      ws.emplace_back(w_bytes);
      ys.emplace_back(kMaxM * y_row);
      vc::fill_bf16(xs.back().get(), kMaxM, sh.k, sh.k, 100 + i, vc::FillPattern::Uniform, s);
      vc::fill_bf16(ws.back().get(), sh.n, sh.k, sh.k, 200 + i, vc::FillPattern::Uniform, s);
    }
    // Each mode's M = 1 rows of X rows 0..7 (set 0).
    vc::DeviceBuffer ref_inv(8 * y_row), ref_fast(8 * y_row);
    for (int64_t r = 0; r < 8; ++r) {
      const char* xr = xs[0].as<const char>() + r * x_row;
      inv.run(xr, ws[0].get(), ref_inv.as<char>() + r * y_row, 1, s);
      fast.run(xr, ws[0].get(), ref_fast.as<char>() + r * y_row, 1, s);
    }
    auto group = [&](vc::Gemm& g, int64_t m) {
      e0.record(s);
      for (int i = 0; i < n_sets; ++i) g.run(xs[i].get(), ws[i].get(), ys[i].get(), m, s);
      e1.record(s);
      return e1.ms_since(e0) * 1000.0f / n_sets;
    };
    for (int64_t m = 1; m <= kMaxM; m *= 2) {
      for (int wu = 0; wu < 2; ++wu) group(inv, m), group(fast, m);
      std::vector<float> ti, tf;
      for (int r = 0; r < reps; ++r) {
        ti.push_back(group(inv, m));
        tf.push_back(group(fast, m));
      }
      const int64_t check_rows = std::min<int64_t>(m, 8);
      const int64_t words = static_cast<int64_t>(y_row / 2);
      inv.run(xs[0].get(), ws[0].get(), ys[0].get(), m, s);
      const bool inv_ok = count_diff(ys[0].get(), ref_inv.get(), check_rows, words, counter, s) == 0;
      fast.run(xs[0].get(), ws[0].get(), ys[0].get(), m, s);
      const bool fast_ok = count_diff(ys[0].get(), ref_fast.get(), check_rows, words, counter, s) == 0;
      rows.push_back({sh, m, median(ti), median(tf), inv_ok, fast_ok});
      std::fprintf(stderr, "  %lldx%lld M=%lld: inv %.2f us, cublas %.2f us\n", static_cast<long long>(sh.n),
                   static_cast<long long>(sh.k), static_cast<long long>(m), rows.back().inv_us, rows.back().fast_us);
    }
  }

  std::printf("\n%-12s %5s | %10s %8s %7s | %10s %8s %7s | %6s | %-9s %-9s\n", "N x K", "M", "inv us", "TFLOP/s",
              "GB/s", "cuBLAS us", "TFLOP/s", "GB/s", "speed", "inv bits", "cuBLAS bits");
  int below = 0, inv_bad = 0, fast_diff = 0;
  float worst = 1e9f;
  for (const Row& r : rows) {
    const double flops = 2.0 * r.m * r.shape.n * r.shape.k;
    const double bytes = 2.0 * (static_cast<double>(r.shape.n) * r.shape.k + static_cast<double>(r.m) * r.shape.k +
                                static_cast<double>(r.m) * r.shape.n);
    const float speed = r.fast_us / r.inv_us;
    worst = std::min(worst, speed);
    below += speed < 0.95f;
    inv_bad += !r.inv_bits_ok;
    fast_diff += !r.fast_bits_ok;
    char shape[32];
    std::snprintf(shape, sizeof(shape), "%lldx%lld", static_cast<long long>(r.shape.n),
                  static_cast<long long>(r.shape.k));
    std::printf("%-12s %5lld | %10.2f %8.1f %7.0f | %10.2f %8.1f %7.0f | %5.2fx | %-9s %-9s\n", shape,
                static_cast<long long>(r.m), r.inv_us, flops / r.inv_us * 1e-6, bytes / r.inv_us * 1e-3, r.fast_us,
                flops / r.fast_us * 1e-6, bytes / r.fast_us * 1e-3, speed, r.inv_bits_ok ? "same" : "DIFFER",
                r.fast_bits_ok ? "same" : "differ");
  }
  std::printf(
      "\nspeed = cuBLAS time / invariant time (>= 1: invariant is faster). worst %.2fx; %d of %zu below 0.95x\n", worst,
      below, rows.size());
  std::printf("bits: invariant rows equal their M=1 rows in %zu of %zu cases; cuBLAS default in %zu of %zu\n",
              rows.size() - inv_bad, rows.size(), rows.size() - fast_diff, rows.size());
  return inv_bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gemm_cuda: %s\n", e.what());
    return 1;
  }
}

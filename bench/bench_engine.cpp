// End-to-end engine throughput (a plain main, not Google Benchmark):
//
//   bench_engine --model DIR [--threads N] [--streams 1,4,16,64] [--tokens 64] [--prompt-len 16]
//                [--modes invariant,fast] [--seed 1] [--cpu-matmul fp32|bf16|amx] [--cpu-kv fp32|bf16]
//
// For each mode and stream count S: one Engine (cpu backend, the given threads, a KV cache sized for the run), S
// requests with distinct random prompts of prompt-len tokens, max_tokens = tokens, ignore_eos, greedy. A warm-up run
// (S other prompts, 4 tokens each) first, then the timed run: step() until idle (= run_until_idle()), timed with
// steady_clock. "total" covers the whole run (prefill included); "prefill" is the steps until every prompt row has
// been computed (with chunked prefill those steps may also decode a first token or two of early requests); "decode"
// is the rest, rated by the tokens generated in it.
//
// Also measured once: the machine's streaming-read bandwidth (AVX2, 1 or 4 streams per thread, 1 GiB buffer on huge
// pages, the same thread count, best of 5) and the bandwidth bound of single-stream decode: bandwidth / bytes of
// weights read per token, counting every weight tensor of every layer (norms included), the final norm, lm_head, and
// one embedding row (the only part of the embedding table a token reads; a tied lm_head is counted once, as lm_head).
// And the compute bound of batched decode: the FMA peak of one core (12 independent vfmadd chains, zmm where the CPU
// has AVX-512, else ymm; best of 5, per second of wall time and per second of the thread's CPU time) against the matmul
// FLOPs of one decode row (2 x the parameters of every 2-D weight and lm_head; attention is not counted). With
// --cpu-matmul bf16 the peak is that of 12 independent zmm vdpbf16ps chains instead (2 multiply-adds per lane), with
// --cpu-matmul amx that of 4 independent tdpbf16ps accumulator tiles (16 x 16 x 32 multiply-adds each).
//
// OpenBLAS (Mode::Fast's GEMM) picks its kernels from the CPU model at load time; OpenBLAS 0.3.21 (Debian 12) does not
// know Sapphire/Emerald Rapids and falls back to its SSE3 "Prescott" kernels, 3-5x slower there. So when it reports
// Prescott on a CPU with AVX-512 and OPENBLAS_CORETYPE is unset, the bench re-runs itself with
// OPENBLAS_CORETYPE=SkylakeX (printed; set OPENBLAS_CORETYPE yourself to choose another).
//
// The machine may be shared: the 1-minute load average is printed before and after each run, and "cpu" is the
// process's CPU time / (wall time x threads) during the timed run (below 1: the threads did not have their cores);
// "cpu_tok/s" rates the decode phase per CPU second of each thread instead of per wall second (on a busy machine the
// steadier number; memory contention from other processes still slows it). Ratios are printed both ways.
#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"
#include "bench_args.h"
#include "engine/engine.h"
#include "kernels/cpu/gemm_amx.h"
#include "kernels/cpu/gemm_bf16dot.h"
#include "model/model.h"

namespace {

using Clock = std::chrono::steady_clock;
using verbatim::Engine;
using verbatim::EngineOptions;
using verbatim::Model;
using verbatim::RequestParams;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<int> parse_ints(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
}

std::vector<std::string> parse_strings(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

// ---- memory bandwidth -------------------------------------------------------------------------------------------

// Sum of p[0, n) read as S sequential streams (S contiguous parts side by side).
template <int S>
__attribute__((target("avx2"))) float sum_range(const float* p, int64_t n) {
  const int64_t q = n / S / 8 * 8;
  __m256 a[S];
  for (int s = 0; s < S; ++s) a[s] = _mm256_setzero_ps();
  for (int64_t i = 0; i < q; i += 8)
    for (int s = 0; s < S; ++s) a[s] = _mm256_add_ps(a[s], _mm256_load_ps(p + s * q + i));
  __m256 sum = a[0];
  for (int s = 1; s < S; ++s) sum = _mm256_add_ps(sum, a[s]);
  alignas(32) float t[8];
  _mm256_store_ps(t, sum);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

// GB/s (1e9 bytes) of a streaming read over 1 GiB, best of `reps` and of 1 and 4 streams per thread. The buffer asks
// for transparent huge pages (madvise), as the CPU backend's packed weights do. On the AMD EPYC VM of
// docs/performance.md, 4 KiB pages cost the read 20%, and 4 streams per thread read 16.7 GB/s on 1 thread where one
// stream reads 27 GB/s (on the earlier Xeon VM 4 streams were the faster), hence the best of both.
double stream_read_gbs(int threads, int reps) {
  const int64_t n = int64_t{1} << 30 >> 2;  // 1 GiB of floats
  float* p = static_cast<float*>(std::aligned_alloc(size_t{2} << 20, static_cast<size_t>(n) * 4));
  madvise(p, static_cast<size_t>(n) * 4, MADV_HUGEPAGE);  // a hint; without it the pages stay small
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) p[i] = 1.0f;
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int streams : {1, 4}) {
    for (int r = 0; r < reps + 1; ++r) {
      float total = 0.0f;
      const auto t0 = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
      for (int t = 0; t < threads; ++t) {
        const int64_t i0 = n * t / threads / 32 * 32, i1 = n * (t + 1) / threads / 32 * 32;  // 4 x 8 floats
        total += streams == 1 ? sum_range<1>(p + i0, i1 - i0) : sum_range<4>(p + i0, i1 - i0);
      }
      const double s = seconds_since(t0);
      sink = sink + total;
      if (r > 0) best = std::max(best, static_cast<double>(n) * 4 / s / 1e9);  // run 0 is a warm-up
    }
  }
  std::free(p);
  return best;
}

// ---- FMA peak ------------------------------------------------------------------------------------------------

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double process_cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double load_average_1min() {
  double l = -1.0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1.0;
    std::fclose(f);
  }
  return l;
}

#define VB_FMA12(OP, R) \
  OP(R "0")             \
  OP(R "1") OP(R "2") OP(R "3") OP(R "4") OP(R "5") OP(R "6") OP(R "7") OP(R "8") OP(R "9") OP(R "10") OP(R "11")
#define VB_ZMM(r) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" r "\n\t"
#define VB_YMM(r) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" r "\n\t"
#define VB_DP(r) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" r "\n\t"

// `iters` x 12 independent FMAs (12 accumulators: more than latency x ports), flops = iters x 12 x lanes x 2.
__attribute__((target("avx512f"))) void fma_loop_zmm(int64_t iters) {
  for (int64_t i = 0; i < iters; ++i)
    __asm__ volatile(VB_FMA12(VB_ZMM, "")::
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                           "xmm11");
}
__attribute__((target("avx2,fma"))) void fma_loop_ymm(int64_t iters) {
  for (int64_t i = 0; i < iters; ++i)
    __asm__ volatile(VB_FMA12(VB_YMM, "")::
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                           "xmm11");
}

__attribute__((target("avx512f,avx512bf16"))) void dpbf16_loop_zmm(int64_t iters) {
  for (int64_t i = 0; i < iters; ++i)
    __asm__ volatile(VB_FMA12(VB_DP, "")::
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
                           "xmm11");
}

// `iters` x 4 tile products 16 x 16 x 32 (bf16 in, fp32 out) into 4 independent accumulator tiles (zeros: the operands'
// values do not change the instruction's timing). Needs gemm_amx_available() (the OS's tile permission).
__attribute__((target("amx-tile,amx-bf16"))) void amx_loop(int64_t iters) {
  struct alignas(64) {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
  } cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  __asm__ volatile(""
                   :
                   : "r"(&cfg)
                   : "memory");  // GCC 12 would drop the stores above as dead (kernels/cpu/gemm_amx.cpp)
  _tile_loadconfig(&cfg);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_zero(4);
  _tile_zero(6);
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 6);
    _tile_dpbf16ps(2, 4, 6);
    _tile_dpbf16ps(3, 4, 6);
  }
  _tile_release();
}

struct FmaPeak {
  const char* isa = "";
  double wall_gflops = 0, cpu_gflops = 0;  // one core
};

// One thread's FMA peak, best of 5 runs of ~0.2 s.
FmaPeak fma_peak(bool bf16dot, bool amx) {
  __builtin_cpu_init();
  const bool zmm = __builtin_cpu_supports("avx512f");
  FmaPeak p;
  p.isa = amx ? "amx tdpbf16ps" : bf16dot ? "avx512_bf16 zmm vdpbf16ps" : zmm ? "avx512 zmm" : "avx2 ymm";
  const int64_t iters = amx ? 2'000'000 : 20'000'000;
  const double flops = amx ? static_cast<double>(iters) * 4 * 16 * 16 * 32 * 2
                           : static_cast<double>(iters) * 12 * (zmm ? 16 : 8) * 2 * (bf16dot ? 2 : 1);
  for (int r = 0; r < 6; ++r) {
    const auto t0 = Clock::now();
    const double c0 = thread_cpu_seconds();
    if (amx) {
      amx_loop(iters);
    } else if (bf16dot) {
      dpbf16_loop_zmm(iters);
    } else if (zmm) {
      fma_loop_zmm(iters);
    } else {
      fma_loop_ymm(iters);
    }
    const double wall = seconds_since(t0), cpu = thread_cpu_seconds() - c0;
    if (r == 0) continue;  // warm-up (clocks ramp)
    p.wall_gflops = std::max(p.wall_gflops, flops / wall / 1e9);
    p.cpu_gflops = std::max(p.cpu_gflops, flops / cpu / 1e9);
  }
  return p;
}

// ---- weights read per decoded token -----------------------------------------------------------------------------

struct WeightBytes {
  size_t layers = 0, final_norm = 0, lm_head = 0, embedding_row = 0, embedding_table = 0;
  double matmul_params = 0;  // elements of every 2-D layer weight and of lm_head: FLOPs of a decode row / 2
  size_t per_token() const { return layers + final_norm + lm_head + embedding_row; }
};

WeightBytes weight_bytes(const Model& m) {
  WeightBytes b;
  for (const auto& l : m.weights.layers) {
    for (const verbatim::Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv, &l.q_norm,
                                      &l.k_norm, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down}) {
      if (!t->empty()) b.layers += t->nbytes();
      if (!t->empty() && t->shape.size() == 2) b.matmul_params += static_cast<double>(t->shape[0] * t->shape[1]);
    }
  }
  const auto& h = m.weights.lm_head;
  if (h.shape.size() == 2) b.matmul_params += static_cast<double>(h.shape[0] * h.shape[1]);
  b.final_norm = m.weights.final_norm.nbytes();
  b.lm_head = m.weights.lm_head.nbytes();
  const auto& e = m.weights.tok_embeddings;
  b.embedding_table = e.nbytes();
  b.embedding_row = e.shape.empty() ? 0 : e.nbytes() / static_cast<size_t>(e.shape[0]);
  return b;
}

// ---- one run ----------------------------------------------------------------------------------------------------

struct Result {
  double total_s = 0, prefill_s = 0, decode_s = 0, cpu_s = 0, decode_cpu_s = 0, load_before = 0, load_after = 0;
  // Decode tokens per second of wall time, and per second of CPU time per thread (what the rate would be if the
  // threads had had their cores all the time; on a busy machine this is the steadier number).
  double decode_tps() const { return decode_s > 0 ? decode_tokens / decode_s : 0.0; }
  double decode_cpu_tps(int threads) const { return decode_cpu_s > 0 ? decode_tokens / (decode_cpu_s / threads) : 0.0; }
  uint64_t decode_tokens = 0, generated = 0, steps = 0;
};

std::vector<int32_t> random_prompt(std::mt19937_64& rng, int len, int vocab) {
  std::uniform_int_distribution<int32_t> d(3, vocab - 1);  // skip the special ids 0..2
  std::vector<int32_t> p(static_cast<size_t>(len));
  for (auto& t : p) t = d(rng);
  return p;
}

Result run_once(Engine& engine, int streams, int prompt_len, int tokens, std::mt19937_64& rng) {
  RequestParams params;
  params.max_tokens = tokens;
  params.ignore_eos = true;
  params.sampling.temperature = 0.0f;
  const int vocab = engine.config().vocab_size;
  std::vector<uint64_t> ids;
  for (int s = 0; s < streams; ++s) ids.push_back(engine.submit(random_prompt(rng, prompt_len, vocab), params));

  const auto before = engine.stats();
  const uint64_t prompt_target = before.prompt_tokens + static_cast<uint64_t>(streams) * prompt_len;
  Result r;
  r.load_before = load_average_1min();
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  bool prefilled = false;
  uint64_t gen_at_prefill = before.generated_tokens;
  double cpu_at_prefill = cpu0;
  while (engine.step()) {
    if (!prefilled) {
      const auto st = engine.stats();
      if (st.prompt_tokens >= prompt_target) {
        prefilled = true;
        r.prefill_s = seconds_since(t0);
        cpu_at_prefill = process_cpu_seconds();
        gen_at_prefill = st.generated_tokens;
      }
    }
  }
  r.total_s = seconds_since(t0);
  const double cpu1 = process_cpu_seconds();
  r.cpu_s = cpu1 - cpu0;
  r.decode_cpu_s = cpu1 - cpu_at_prefill;
  r.load_after = load_average_1min();
  const auto after = engine.stats();
  r.decode_s = r.total_s - r.prefill_s;
  r.generated = after.generated_tokens - before.generated_tokens;
  r.decode_tokens = after.generated_tokens - gen_at_prefill;
  r.steps = after.steps - before.steps;
  for (uint64_t id : ids) {
    auto out = engine.take_output(id);
    if (!out || out->tokens.size() != static_cast<size_t>(tokens)) {
      std::fprintf(stderr, "request %llu: expected %d tokens\n", static_cast<unsigned long long>(id), tokens);
      std::exit(1);
    }
  }
  return r;
}

}  // namespace

// Re-runs this program with OPENBLAS_CORETYPE=SkylakeX where OpenBLAS fell back to Prescott on an AVX-512 CPU.
void fix_openblas_coretype(char** argv) {
  __builtin_cpu_init();
  const std::string core = openblas_get_corename();
  if (core == "Prescott" && __builtin_cpu_supports("avx512f") && std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    std::printf("OpenBLAS chose its Prescott kernels on an AVX-512 CPU: re-running with OPENBLAS_CORETYPE=SkylakeX\n");
    std::fflush(stdout);
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);
    std::printf("re-run failed; continuing with Prescott kernels\n");
  }
}

int main(int argc, char** argv) {
  fix_openblas_coretype(argv);
  std::string model_dir;
  int threads = 1, tokens = 64, prompt_len = 16;
  uint64_t seed = 1;
  std::vector<int> streams = {1, 4, 16, 64};
  std::vector<std::string> modes = {"invariant", "fast"};
  std::string cpu_matmul = "fp32", cpu_kv = "fp32";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return verbatim::bench::flag_value(argc, argv, i); };
    if (a == "--model") {
      model_dir = next();
    } else if (a == "--threads") {
      threads = std::stoi(next());
    } else if (a == "--streams") {
      streams = parse_ints(next());
    } else if (a == "--tokens") {
      tokens = std::stoi(next());
    } else if (a == "--prompt-len") {
      prompt_len = std::stoi(next());
    } else if (a == "--modes") {
      modes = parse_strings(next());
    } else if (a == "--seed") {
      seed = std::stoull(next());
    } else if (a == "--cpu-matmul") {
      cpu_matmul = next();
    } else if (a == "--cpu-kv") {
      cpu_kv = next();
    } else {
      std::fprintf(stderr,
                   "usage: bench_engine --model DIR [--threads N] [--streams 1,4,16,64] [--tokens 64] "
                   "[--prompt-len 16] [--modes invariant,fast] [--seed 1] [--cpu-matmul fp32|bf16|amx] "
                   "[--cpu-kv fp32|bf16]\n");
      return 2;
    }
  }
  if (model_dir.empty()) {
    std::fprintf(stderr, "--model DIR is required\n");
    return 2;
  }
  verbatim::backend::CpuMatmul matmul = verbatim::backend::CpuMatmul::Fp32;
  try {
    matmul = verbatim::backend::parse_cpu_matmul(cpu_matmul);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "--cpu-matmul: %s\n", e.what());
    return 2;
  }
  verbatim::backend::CpuKv kv = verbatim::backend::CpuKv::Fp32;
  try {
    kv = verbatim::backend::parse_cpu_kv(cpu_kv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "--cpu-kv: %s\n", e.what());
    return 2;
  }

  const auto model = Model::load(model_dir);
  const WeightBytes wb = weight_bytes(*model);
  std::printf("kernels: %s; cpu_matmul %s; cpu_kv %s\n", verbatim::backend::cpu_kernel_paths().c_str(),
              verbatim::backend::cpu_matmul_name(matmul), verbatim::backend::cpu_kv_name(kv));
  std::printf("model %s: %d layers, dim %d, vocab %d\n", model_dir.c_str(), model->config.n_layers, model->config.dim,
              model->config.vocab_size);
  std::printf(
      "weight bytes read per token: %.2f MB (layers %.2f + final norm %.4f + lm_head %.2f + 1 embedding row "
      "%.4f; embedding table %.2f MB not counted)\n",
      wb.per_token() / 1e6, wb.layers / 1e6, wb.final_norm / 1e6, wb.lm_head / 1e6, wb.embedding_row / 1e6,
      wb.embedding_table / 1e6);
  const double gbs = stream_read_gbs(threads, 5);
  const double bound_tps = gbs * 1e9 / static_cast<double>(wb.per_token());
  std::printf(
      "stream read (1 GiB, %d threads, 1 or 4 streams each, best of 5): %.2f GB/s -> single-stream decode bound %.1f "
      "tokens/s "
      "(%.2f ms/token)\n",
      threads, gbs, bound_tps, 1e3 / bound_tps);
  if (matmul == verbatim::backend::CpuMatmul::Bf16 && !verbatim::kernels::cpu::gemm_bf16dot_available()) {
    std::fprintf(stderr, "--cpu-matmul bf16: this CPU has no AVX512_BF16 (vdpbf16ps)\n");
    return 2;
  }
  if (matmul == verbatim::backend::CpuMatmul::Amx && !verbatim::kernels::cpu::gemm_amx_available()) {
    std::fprintf(stderr, "--cpu-matmul amx: this CPU (or OS) has no AMX-BF16 tile unit\n");
    return 2;
  }
  const FmaPeak peak =
      fma_peak(matmul == verbatim::backend::CpuMatmul::Bf16, matmul == verbatim::backend::CpuMatmul::Amx);
  const double peak_gflops = peak.wall_gflops * threads;  // all threads, each on its own core
  const double row_gflop = 2.0 * wb.matmul_params / 1e9;
  std::printf(
      "FMA peak (%s, 1 thread, best of 5): %.1f GFLOP/s per wall second, %.1f per CPU second; x %d threads = "
      "%.1f GFLOP/s\n",
      peak.isa, peak.wall_gflops, peak.cpu_gflops, threads, peak_gflops);
  std::printf("matmul work of one decode row: %.3f GFLOP (2 x %.1f M parameters)\n", row_gflop, wb.matmul_params / 1e6);
  std::printf("best case per decode step (weights read once at the stream-read rate, matmuls at the FMA peak):\n");
  for (int s : streams) {
    const double mem_ms = 1e3 / bound_tps, flop_ms = 1e3 * s * row_gflop / peak_gflops;
    std::printf("  S=%-3d max(%.2f ms memory, %.2f ms compute) -> <= %.1f tok/s = %.2fx the S=1 bound\n", s, mem_ms,
                flop_ms, 1e3 * s / std::max(mem_ms, flop_ms), s * mem_ms / std::max(mem_ms, flop_ms));
  }

  std::printf("\n%-9s %4s %4s %10s %10s %11s %12s %10s %8s %8s %5s %11s %12s\n", "mode", "S", "tok", "total_s",
              "prefill_s", "total_tok/s", "decode_tok/s", "ms/token", "steps", "GFLOP/s", "cpu", "load", "cpu_tok/s");
  std::map<std::pair<std::string, int>, Result> results;
  std::mt19937_64 rng(seed);
  for (const std::string& mode_str : modes) {
    for (int s : streams) {
      EngineOptions opt;
      opt.backend = "cpu";
      opt.mode = verbatim::parse_mode(mode_str);
      opt.threads = threads;
      opt.cpu_matmul = matmul;
      opt.cpu_kv = kv;
      opt.max_running = std::max(opt.max_running, s);
      opt.max_logits = std::max(opt.max_logits, s);
      const int blocks_per_req = (prompt_len + tokens + opt.block_size - 1) / opt.block_size + 1;
      opt.num_blocks = 2 * s * blocks_per_req + 16;  // room for the run plus the warm-up's cached prefixes
      Engine engine(*model, nullptr, opt);
      run_once(engine, s, prompt_len, 4, rng);  // warm-up: other prompts, 4 tokens
      const Result r = run_once(engine, s, prompt_len, tokens, rng);
      results[{mode_str, s}] = r;
      const double total_tps = static_cast<double>(s) * tokens / r.total_s;
      const double decode_tps = r.decode_tps();
      // ms per decode step (per token of each stream); for S = 1 this is the per-token latency
      const double ms_tok = r.decode_tokens > 0 ? 1e3 * r.decode_s * s / r.decode_tokens : 0.0;
      std::printf("%-9s %4d %4d %10.3f %10.4f %11.1f %12.1f %10.2f %8llu %8.1f %5.2f %5.2f-%5.2f %12.1f\n",
                  mode_str.c_str(), s, tokens, r.total_s, r.prefill_s, total_tps, decode_tps, ms_tok,
                  static_cast<unsigned long long>(r.steps), decode_tps * row_gflop, r.cpu_s / (r.total_s * threads),
                  r.load_before, r.load_after, r.decode_cpu_tps(threads));
      std::fflush(stdout);
    }
  }

  // Ratios of decode tok/s per wall second, and [in brackets] per CPU second of each thread.
  std::printf(
      "\nratios of decode tok/s (per wall second; [per thread CPU second]): invariant / fast per S, S-stream / "
      "1-stream per mode, 1-stream vs bound\n");
  for (int s : streams) {
    auto inv = results.find({"invariant", s}), fast = results.find({"fast", s});
    if (inv != results.end() && fast != results.end()) {
      std::printf("  S=%-3d invariant/fast = %.3f [%.3f]\n", s, inv->second.decode_tps() / fast->second.decode_tps(),
                  inv->second.decode_cpu_tps(threads) / fast->second.decode_cpu_tps(threads));
    }
  }
  for (const std::string& m : modes) {
    auto one = results.find({m, 1});
    if (one == results.end()) continue;
    const double base = one->second.decode_tps(), base_cpu = one->second.decode_cpu_tps(threads);
    std::printf("  %-9s S=1 decode %.1f tok/s = %.1f%% of bound %.1f tok/s [%.1f tok/s];", m.c_str(), base,
                100.0 * base / bound_tps, bound_tps, base_cpu);
    for (int s : streams) {
      auto it = results.find({m, s});
      if (it == results.end() || s == 1) continue;
      std::printf("  S=%d: %.2fx [%.2fx]", s, it->second.decode_tps() / base,
                  it->second.decode_cpu_tps(threads) / base_cpu);
    }
    std::printf("\n");
  }
  return 0;
}

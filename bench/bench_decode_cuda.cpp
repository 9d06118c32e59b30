// Batch-1 (and batch-S) greedy decode throughput of the CUDA backend through the engine, against the bandwidth bound
// of the device: the measured device-to-device copy bandwidth (bytes read + written per second, cudaMemcpy of a 2 GiB
// buffer, best of 10) divided by the bytes of weights read per decoded token (every layer tensor, the final norm,
// the lm_head and one embedding row, as bf16 on the GPU).
//   bench_decode_cuda --model DIR [--streams 1,8] [--tokens 256] [--prompt-len 16] [--modes invariant,fast]
//                     [--graphs 1] [--runs 2] [--own-gemm 1] [--fuse 13] [--split-size 512] [--split-min 0]
//                     [--profile 0] [--async 1]
// Each (mode, S) makes an Engine (backend cuda), warms it up (one request of 8 tokens, which also captures the decode
// graphs), then submits S requests (distinct random prompts, ignore_eos, greedy) and steps until idle. decode tok/s
// counts the tokens generated after every prompt was computed, over the time since then; ms/step is that time over
// the decode steps whose device work it holds (with async scheduling, the step in flight at its start too). --fuse: the
// CUDA backend's decode-step fusions, a mask (1 norm prologue, 2 residual epilogue, 4 SwiGLU epilogue, 8 attention
// inputs into the attention, 16 the embedding into layer 0's norm; 13, the default: 1 + 4 + 8; 0 none).
// --split-size, --split-min: the attention's largest and smallest KV split (a row's split is split-min, doubled
// until it has at most 8 splits, at most split-size: a function of its own position; other values give other bits).
// --profile 1: cudaProfilerStart / Stop around the decode of run 1 only (for `ncu --profile-from-start off`, which then
// sees the decode steps' kernels and not the start-up's GEMM tuning).
// --async: the engine's async scheduling (1 on, the default; 0 off); a list (1,0) makes one engine per value and
// interleaves their runs (an A/B under the same conditions; each engine holds its own weights on the GPU).
#include <cuda_profiler_api.h>
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_resources.h"
#include "bench_args.h"
#include "engine/engine.h"
#include "model/model.h"
#include "util/error.h"

using namespace verbatim;

namespace {

double copy_bandwidth_gbs() {
  const size_t bytes = size_t{2} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) return 0;
  cudaMemset(a, 1, bytes);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  double best = 0;
  for (int i = 0; i < 12; ++i) {
    cudaEventRecord(e0);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    if (i >= 2) best = std::max(best, 2.0 * bytes / (ms * 1e-3) / 1e9);
  }
  cudaFree(a);
  cudaFree(b);
  return best;
}

size_t bytes_per_token(const Model& m) {
  size_t b = 0;
  auto bf16 = [](const Tensor& t) { return t.empty() ? size_t{0} : static_cast<size_t>(t.numel()) * 2; };
  for (const auto& l : m.weights.layers)
    for (const Tensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.bq, &l.bk, &l.bv, &l.q_norm, &l.k_norm,
                            &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down})
      b += bf16(*t);
  b += bf16(m.weights.final_norm) + bf16(m.weights.lm_head);
  const Tensor& e = m.weights.tok_embeddings;
  if (!e.shape.empty()) b += bf16(e) / static_cast<size_t>(e.shape[0]);
  return b;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoi(item));
  return v;
}

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, modes = "invariant,fast", streams = "1", async_list = "1";
  int tokens = 256, prompt_len = 16, runs = 2;
  bool graphs = true, own_gemm = true, profile = false;
  unsigned fuse = backend::CudaBackendOptions{}.fuse;  // the backend's default
  int split_size = 512;  // the backend's default attention split (CudaBackendOptions::split_size)
  int split_min = 0;     // and its shortest (CudaBackendOptions::split_min; 0: fixed, the default)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return bench::flag_value(argc, argv, i); };
    if (a == "--model")
      model_path = next();
    else if (a == "--streams")
      streams = next();
    else if (a == "--tokens")
      tokens = std::stoi(next());
    else if (a == "--prompt-len")
      prompt_len = std::stoi(next());
    else if (a == "--modes")
      modes = next();
    else if (a == "--graphs")
      graphs = next() != "0";
    else if (a == "--runs")
      runs = std::stoi(next());
    else if (a == "--own-gemm")
      own_gemm = next() != "0";
    else if (a == "--fuse")
      fuse = static_cast<unsigned>(std::stoul(next()));
    else if (a == "--split-size")
      split_size = std::stoi(next());
    else if (a == "--split-min")
      split_min = std::stoi(next());
    else if (a == "--profile")
      profile = std::stoi(next()) != 0;
    else if (a == "--async")
      async_list = next();
    else {
      std::fprintf(stderr,
                   "usage: bench_decode_cuda --model DIR [--streams 1,8] [--tokens 256] [--prompt-len 16] "
                   "[--modes invariant,fast] [--graphs 1] [--runs 2] [--own-gemm 1] [--fuse 13] [--split-size 512] "
                   "[--split-min 0] [--profile 0] [--async 1]\n");
      return 2;
    }
  }
  if (model_path.empty()) {
    std::fprintf(stderr, "--model DIR is required\n");
    return 2;
  }
  try {
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    const double bw = copy_bandwidth_gbs();
    auto t0 = Clock::now();
    auto model = Model::load(model_path);
    const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const size_t bpt = bytes_per_token(*model);
    const double bound = bw * 1e9 / static_cast<double>(bpt);
    std::printf("device: %s, %d SMs; copy bandwidth %.1f GB/s (read + write)\n", prop.name, prop.multiProcessorCount,
                bw);
    std::printf(
        "model: %s (load %.1f s); weights read per token %.3f GB; bound %.1f tok/s; fuse mask %u; split size %d (from "
        "%d)\n",
        model_path.c_str(), load_s, bpt / 1e9, bound, fuse, split_size, split_min);
    std::printf(
        "| mode | S | graphs | run | decode tok/s | ms/step | of bound | engine start s | async | fed steps "
        "|\n|---|---:|---|---:|---:|---:|---:|---:|---|---:|\n");
    auto shared = backend::make_cuda_shared_resources(0);
    // --own-gemm 0: the invariant GEMM table without the own small-M kernel (cuBLASLt only), for comparison.
    std::dynamic_pointer_cast<verbatim::cuda::CudaResources>(shared)->set_own_gemm_kernel(own_gemm);
    for (const std::string& mode_name : {std::string("invariant"), std::string("fast")}) {
      if (modes.find(mode_name) == std::string::npos) continue;
      for (int s : parse_list(streams)) {
        std::vector<std::unique_ptr<Engine>> engines;
        std::vector<bool> asyncs;
        std::vector<double> start_s;
        for (int async : parse_list(async_list)) {
          EngineOptions o;
          o.backend = "cuda";
          o.mode = parse_mode(mode_name);
          o.max_batch_tokens = std::max(512, s * prompt_len);
          o.max_logits = std::max(64, s);
          o.max_running = std::max(64, s);
          o.cuda_graphs = graphs;
          o.cuda_fuse = fuse;
          o.cuda_split_size = split_size;
          o.cuda_split_min = split_min;
          o.backend_shared = shared;
          o.kv_cache_bytes = int64_t{4} << 30;
          o.async_scheduling = async != 0;
          auto e0 = Clock::now();
          engines.push_back(std::make_unique<Engine>(*model, nullptr, o));
          start_s.push_back(std::chrono::duration<double>(Clock::now() - e0).count());
          asyncs.push_back(async != 0);
        }
        std::mt19937_64 rng(7);
        auto prompt = [&] {
          std::vector<int32_t> p(prompt_len);
          for (auto& t : p) t = static_cast<int32_t>(rng() % model->config.vocab_size);
          return p;
        };
        RequestParams warm;
        warm.max_tokens = 8;
        warm.ignore_eos = true;
        warm.sampling.temperature = 0;
        for (auto& engine : engines) {
          for (int i = 0; i < s; ++i) engine->submit(prompt(), warm);
          engine->run_until_idle();
        }
        for (int run = 1; run <= runs; ++run) {
          for (size_t k = 0; k < engines.size(); ++k) {
            Engine& engine = *engines[k];
            RequestParams p = warm;
            p.max_tokens = tokens;
            for (int i = 0; i < s; ++i) engine.submit(prompt(), p);
            // Prefill: until every prompt row is computed (the first step(s)); then decode.
            engine.step();
            while (engine.stats().prompt_tokens < static_cast<uint64_t>(run + 1) * s * prompt_len && engine.step()) {
            }
            // The window's steps: those enqueued in it, and (async) the one already in flight at its start, whose
            // device work runs inside it (it was enqueued behind the prefill, which the loop above waited for).
            const EngineStats st0 = engine.stats();
            const uint64_t gen0 = st0.generated_tokens, steps0 = st0.steps - st0.in_flight, fed0 = st0.fed_steps;
            const bool profiled = profile && run == 1 && k == 0;
            if (profiled) cudaProfilerStart();
            auto d0 = Clock::now();
            engine.run_until_idle();
            if (profiled) cudaProfilerStop();
            const double ds = std::chrono::duration<double>(Clock::now() - d0).count();
            const uint64_t gen = engine.stats().generated_tokens - gen0, steps = engine.stats().steps - steps0;
            const double tps = gen / ds;
            std::printf("| %s | %d | %s | %d | %.1f | %.3f | %.1f%% | %.1f | %s | %llu |\n", mode_name.c_str(), s,
                        graphs ? "on" : "off", run, tps, ds * 1e3 / std::max<uint64_t>(steps, 1),
                        s == 1 ? 100.0 * tps / bound : 100.0 * tps / s / bound, start_s[k], asyncs[k] ? "on" : "off",
                        static_cast<unsigned long long>(engine.stats().fed_steps - fed0));
            std::fflush(stdout);
          }
        }
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// Where a decode step's time goes on the GPU, inside the real CUDA graph (programmatic dependent launches overlapping):
// CUPTI's concurrent-kernel activity records (start and end of every kernel of every graph replay) over a few decode
// steps of the engine, summed per kernel. ncu times each kernel alone (no overlap); this sees them as they run.
//   bench_decode_trace_cuda --model DIR [--streams 1] [--prompt-len 16] [--steps 32] [--fuse 13] [--graphs 1]
// For each kernel class (name and grid width; a class launched exactly twice per layer, such as o_proj and down_proj
// of qwen3-8b, one template at one grid, is split by its launches' parity within the step: "1st in layer", "2nd") per
// step: launches, the mean in-graph duration (end - start, which includes the time a dependent waits in
// griddepcontrol.wait while the kernel ahead finishes), and the "exposed" time:
// how far the kernel moves the step's last end forward (in start order, end_i - max(end of every earlier kernel), at
// least 0), so that the exposed times plus the idle gaps sum to the traced span. Also the untraced step time (tracing
// may change it: printed for comparison), the idle gap between steps (the host's turn: sampled tokens read back, the
// next plan uploaded and its graph launched; CUPTI slows the host's side, so this reads 10x the untraced gap that
// CUDA events measure: docs/performance.md, 2026-12-04) and one step's first kernels in order. Engine as
// bench_decode_cuda: greedy, invariant mode, one request per stream, a random prompt.
#include <cuda_runtime.h>
#include <cupti.h>
#include <cxxabi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "bench_args.h"
#include "engine/engine.h"
#include "model/model.h"
#include "util/error.h"

using namespace verbatim;

namespace {

struct KernelRecord {
  uint64_t start = 0, end = 0;
  std::string name;
  int grid = 0;
};

// CUPTI's buffer callbacks take no user pointer: this tool's records live here (one tracing session per process).
std::vector<KernelRecord>& records() {
  static std::vector<KernelRecord> r;
  return r;
}

constexpr size_t kBufferBytes = size_t{8} << 20;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = kBufferBytes;
  *max_records = 0;
}

std::string short_name(const char* mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string s = status == 0 && d != nullptr ? d : mangled;
  std::free(d);
  // "void verbatim::...::(anonymous namespace)::small_m_kernel<1, ...>(...)" -> "small_m_kernel" (the anonymous
  // namespace's parenthesis first: it is not the argument list)
  const std::string anon = "(anonymous namespace)::";
  for (size_t at = s.find(anon); at != std::string::npos; at = s.find(anon)) s.erase(at, anon.size());
  s = s.substr(0, s.find_first_of("<("));
  const size_t colon = s.rfind("::");
  return colon == std::string::npos ? s : s.substr(colon + 2);
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* rec = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
    if (rec->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL && rec->kind != CUPTI_ACTIVITY_KIND_KERNEL) continue;
    const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(rec);
    records().push_back({k->start, k->end, short_name(k->name), k->gridX * k->gridY * k->gridZ});
  }
  std::free(buffer);
}

void cupti_check(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return;
  const char* s = nullptr;
  cuptiGetResultString(r, &s);
  fail("bench_decode_trace_cuda", std::string(what) + ": " + (s != nullptr ? s : "CUPTI error"));
}

using Clock = std::chrono::steady_clock;

struct Class {
  int launches = 0;
  double dur_us = 0, exposed_us = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string model_path;
  int streams = 1, prompt_len = 16, steps = 32;
  unsigned fuse = EngineOptions{}.cuda_fuse;
  bool graphs = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return bench::flag_value(argc, argv, i); };
    if (a == "--model") {
      model_path = next();
    } else if (a == "--streams") {
      streams = std::stoi(next());
    } else if (a == "--prompt-len") {
      prompt_len = std::stoi(next());
    } else if (a == "--steps") {
      steps = std::stoi(next());
    } else if (a == "--fuse") {
      fuse = static_cast<unsigned>(std::stoul(next()));
    } else if (a == "--graphs") {
      graphs = next() != "0";
    } else {
      std::fprintf(
          stderr,
          "usage: bench_decode_trace_cuda --model DIR [--streams 1] [--prompt-len 16] [--steps 32] [--fuse 13] "
          "[--graphs 1]\n");
      return 2;
    }
  }
  if (model_path.empty() || streams < 1 || prompt_len < 1 || steps < 1) {
    std::fprintf(stderr, "--model DIR is required; --streams, --prompt-len and --steps must be positive\n");
    return 2;
  }
  try {
    auto model = Model::load(model_path);
    EngineOptions o;
    o.backend = "cuda";
    o.mode = Mode::Invariant;
    o.max_batch_tokens = std::max(512, streams * prompt_len);
    o.max_logits = std::max(64, streams);
    o.max_running = std::max(64, streams);
    o.cuda_graphs = graphs;
    o.cuda_fuse = fuse;
    o.kv_cache_bytes = int64_t{4} << 30;
    Engine engine(*model, nullptr, o);
    std::mt19937_64 rng(7);
    RequestParams p;
    p.max_tokens = 3 * steps + 16;
    p.ignore_eos = true;
    p.sampling.temperature = 0;
    for (int s = 0; s < streams; ++s) {
      std::vector<int32_t> prompt(prompt_len);
      for (auto& t : prompt) t = static_cast<int32_t>(rng() % model->config.vocab_size);
      engine.submit(prompt, p);
    }
    while (engine.stats().prompt_tokens < static_cast<uint64_t>(streams) * prompt_len && engine.step()) {
    }
    for (int i = 0; i < 8; ++i) engine.step();  // graphs captured, clocks up
    cudaDeviceSynchronize();
    auto t0 = Clock::now();
    for (int i = 0; i < steps; ++i) engine.step();
    cudaDeviceSynchronize();
    const double untraced_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / steps;

    cupti_check(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "cuptiActivityRegisterCallbacks");
    cupti_check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "cuptiActivityEnable");
    t0 = Clock::now();
    for (int i = 0; i < steps; ++i) engine.step();
    cudaDeviceSynchronize();
    const double traced_wall_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / steps;
    cupti_check(cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "cuptiActivityDisable");
    cupti_check(cuptiActivityFlushAll(1), "cuptiActivityFlushAll");

    std::vector<KernelRecord> r = records();
    if (r.empty()) fail("bench_decode_trace_cuda", "CUPTI recorded no kernels");
    std::sort(r.begin(), r.end(), [](const KernelRecord& a, const KernelRecord& b) { return a.start < b.start; });
    // A kernel launched twice per layer (o_proj and down_proj: one template, one grid) is told apart by the parity of
    // its launch within the step (a step starts at the embedding kernel).
    std::map<std::pair<std::string, int>, int64_t> count;
    for (const KernelRecord& k : r) ++count[{k.name, k.grid}];
    const int64_t twice = int64_t{2} * model->config.n_layers * steps;
    std::map<std::pair<std::string, int>, int64_t> seen;
    std::map<std::pair<std::string, int>, Class> classes;
    uint64_t last_end = r.front().start;
    double idle_us = 0, between_us = 0, between_max_us = 0;  // between: the gap ahead of each step's embedding kernel
    int between_n = 0;
    for (const KernelRecord& k : r) {
      if (k.name.find("embedding") != std::string::npos) {
        seen.clear();
        if (&k != &r.front() && k.start > last_end) {
          const double gap = static_cast<double>(k.start - last_end) / 1e3;
          between_us += gap, between_max_us = std::max(between_max_us, gap);
        }
        if (&k != &r.front()) ++between_n;
      }
      std::string name = k.name;
      if (count[{k.name, k.grid}] == twice) name += seen[{k.name, k.grid}]++ % 2 == 0 ? " (1st in layer)" : " (2nd)";
      Class& c = classes[{name, k.grid}];
      ++c.launches;
      c.dur_us += static_cast<double>(k.end - k.start) / 1e3;
      if (k.start > last_end) idle_us += static_cast<double>(k.start - last_end) / 1e3;
      if (k.end > last_end) {
        c.exposed_us += static_cast<double>(k.end - std::max(last_end, k.start)) / 1e3;
        last_end = k.end;
      }
    }
    const double span_us = static_cast<double>(last_end - r.front().start) / 1e3;
    std::printf("model %s, %d stream(s), fuse %u, graphs %s, %d traced steps, %zu kernels\n", model_path.c_str(),
                streams, fuse, graphs ? "on" : "off", steps, r.size());
    std::printf(
        "step: untraced %.1f us, traced %.1f us (wall), kernel span %.1f us per step, idle (no kernel) %.1f us "
        "per step\n",
        untraced_us, traced_wall_us, span_us / steps, idle_us / steps);
    if (between_n > 0)
      std::printf(
          "between steps (no kernel from a step's last kernel to the next step's embedding; under CUPTI, an upper "
          "bound): %.1f us mean, "
          "%.1f us max, over %d steps\n",
          between_us / between_n, between_max_us, between_n);
    std::vector<std::pair<std::pair<std::string, int>, Class>> rows(classes.begin(), classes.end());
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.second.exposed_us > b.second.exposed_us; });
    std::printf(
        "| kernel | grid | per step | in-graph us (mean) | exposed us per step | share of span |\n"
        "|---|---:|---:|---:|---:|---:|\n");
    for (const auto& [key, c] : rows) {
      std::printf("| %s | %d | %.1f | %.2f | %.1f | %.1f%% |\n", key.first.c_str(), key.second,
                  static_cast<double>(c.launches) / steps, c.dur_us / c.launches, c.exposed_us / steps,
                  100.0 * c.exposed_us / span_us);
    }
    // One step's first kernels (from the 2nd traced step on, so that it starts at a step boundary: the embedding).
    size_t first = 0;
    for (size_t i = 1; i < r.size(); ++i)
      if (r[i].name.find("embedding") != std::string::npos) {
        first = i;
        break;
      }
    std::printf("\none step from its embedding kernel, in start order (us from its start):\n");
    for (size_t i = first; i < std::min(r.size(), first + 20); ++i) {
      std::printf("  %-28s grid %6d  start %8.2f  end %8.2f  dur %7.2f\n", r[i].name.c_str(), r[i].grid,
                  static_cast<double>(r[i].start - r[first].start) / 1e3,
                  static_cast<double>(r[i].end - r[first].start) / 1e3,
                  static_cast<double>(r[i].end - r[i].start) / 1e3);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// `verbatim bench` in process: the throughput test of Thinking Machines' blog on an Engine. N requests of one
// prompt, output lengths uniform in [min, max] (seeded, EOS ignored, greedy), at most `concurrency` in the engine at
// once (a new one is submitted as soon as one finishes, as a client with that many connections would).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "app/bench_stats.h"
#include "engine/engine.h"

namespace verbatim::app {

struct BenchOptions {
  int requests = 1000;
  int concurrency = 64;
  int min_tokens = 90, max_tokens = 110;
  uint64_t seed = 1;            // of the output lengths
  std::vector<int32_t> prompt;  // the prompt's tokens
  int warmup = 4;               // short requests run first, untimed (weights are packed on first use)
  EngineOptions engine;         // `mode` included
};

// progress(done, total) after each request finishes.
using BenchProgressFn = std::function<void(int, int)>;

// One run in `opt.engine.mode`; records[i] is request i. Throws Error for bad options.
std::vector<BenchRecord> run_bench_engine(const Model& model, const Tokenizer* tokenizer, const BenchOptions& opt,
                                          double* total_seconds, const BenchProgressFn& progress = {});

}  // namespace verbatim::app

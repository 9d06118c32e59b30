// `verbatim demo`: the experiment of Thinking Machines' "Defeating Nondeterminism in LLM Inference", in one process.
// N identical greedy requests (the probes) are sent while background requests of random lengths arrive at random
// steps; the same seeded schedule runs once per mode on a fresh engine. In fast mode the kernels' reduction orders
// follow the batch, so the probes' logits (and, at near-ties, their tokens) depend on what ran beside them; in
// invariant mode every probe gives the same bits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/divergence.h"
#include "engine/engine.h"

namespace verbatim::app {

struct DemoOptions {
  int runs = 100;                   // identical probe requests
  int max_tokens = 64;              // tokens per probe completion (EOS ignored: every probe has exactly this many)
  float probe_temperature = 0.0f;   // 0: greedy probes; > 0: every probe samples with this temperature and the same
  uint64_t probe_seed = 0;          // seed, so the probes stay identical requests (with identical expected output)
  int background = -1;              // background requests; -1: as many as runs
  int background_prompt_max = 128;  // background prompt length uniform in [1, this]
  int background_tokens_max = 96;   // background output length uniform in [1, this] (EOS ignored)
  int arrival_gap_max = 2;          // steps between consecutive arrivals, uniform in [0, this]
  uint64_t seed = 1;                // the schedule's seed (arrival order, gaps, background prompts and lengths)
  std::vector<int32_t> prompt;      // the probes' prompt tokens
  std::vector<Mode> modes = {Mode::Fast, Mode::Invariant};
  EngineOptions engine;  // everything but `mode`, which each run sets
};

// "greedy", or "sampled (temperature T, seed S)": what the probes are, for the console and the report.
std::string probe_kind_text(const DemoOptions& opt);

// One request of the schedule. Probes are greedy (or all sample with one temperature and one seed); background
// requests sample (temperature 1, their own seed).
struct ScheduledRequest {
  int arrival_step = 0;
  int probe = -1;  // probe index, -1 for background
  std::vector<int32_t> prompt;
  RequestParams params;
};

// The seeded schedule, in arrival order; a pure function of the options and the model's vocabulary (background
// tokens are drawn among the non-control ids of `tokenizer`, or all ids without one) and context length.
std::vector<ScheduledRequest> demo_schedule(const DemoOptions& opt, const ModelConfig& config,
                                            const Tokenizer* tokenizer);

struct DemoModeResult {
  Mode mode = Mode::Invariant;
  std::vector<std::vector<int32_t>> tokens;  // [runs] each probe's completion
  std::vector<std::vector<float>> logprobs;  // [runs]
  std::vector<std::string> texts;            // [runs]
  DivergenceStats stats;
  // [reference length] the reference completion's top-2 logprob margin at each position (logprob of its token minus
  // the runner-up's): a run flips a greedy token only where the kernels' rounding exceeds this margin.
  std::vector<double> top2_margin;
  double min_top2_margin = 0.0;
  int min_top2_margin_position = -1;
  double seconds = 0.0;
  uint64_t engine_steps = 0;
  uint64_t generated_tokens = 0;  // probes and background together
  uint64_t prompt_tokens = 0;     // computed prompt rows (prefix-cache hits excluded)
  std::string backend;
};

struct DemoResult {
  DemoOptions options;
  int background = 0;  // background requests actually scheduled
  std::vector<DemoModeResult> modes;
};

struct DemoProgress {
  Mode mode = Mode::Invariant;
  int mode_index = 0, mode_count = 0;
  int probes_done = 0, probes = 0;
  int requests_done = 0, requests = 0;
};
using DemoProgressFn = std::function<void(const DemoProgress&)>;

// Runs the schedule once per mode, each on a fresh Engine over `model`. Throws Error for bad options.
DemoResult run_demo(const Model& model, const Tokenizer* tokenizer, const DemoOptions& opt,
                    const DemoProgressFn& progress = {});

}  // namespace verbatim::app

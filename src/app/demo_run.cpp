#include "app/demo_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "util/error.h"

namespace verbatim::app {

namespace {

// splitmix64: a tiny seeded generator whose outputs are fixed by the seed on every platform (std distributions are
// implementation-defined, and the schedule must be the same everywhere).
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (hi - lo small: the modulo bias is negligible and, above all, deterministic).
  int uniform(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
};

void check_options(const DemoOptions& o) {
  if (o.runs <= 0) fail("demo", "--runs must be positive, got " + std::to_string(o.runs));
  if (o.max_tokens <= 0) fail("demo", "--max-tokens must be positive, got " + std::to_string(o.max_tokens));
  if (o.background < -1) fail("demo", "--background must be >= 0");
  if (o.background_prompt_max <= 0 || o.background_tokens_max <= 0)
    fail("demo", "background prompt and output lengths must be positive");
  if (o.arrival_gap_max < 0) fail("demo", "--arrival-gap must be >= 0");
  if (!(o.probe_temperature >= 0.0f)) fail("demo", "--temperature must be >= 0");
  if (o.prompt.empty()) fail("demo", "the probe prompt is empty");
  if (o.modes.empty()) fail("demo", "no mode to run");
}

}  // namespace

std::string probe_kind_text(const DemoOptions& opt) {
  if (opt.probe_temperature <= 0.0f) return "greedy";
  char buf[96];
  std::snprintf(buf, sizeof buf, "sampled (temperature %g, seed %llu)", static_cast<double>(opt.probe_temperature),
                static_cast<unsigned long long>(opt.probe_seed));
  return buf;
}

std::vector<ScheduledRequest> demo_schedule(const DemoOptions& opt, const ModelConfig& config,
                                            const Tokenizer* tokenizer) {
  check_options(opt);
  const int background = opt.background < 0 ? opt.runs : opt.background;
  Rng rng{opt.seed};

  // Which ids background prompts draw from: the regular (non-control) tokens.
  std::vector<int32_t> pool;
  for (int32_t id = 0; id < config.vocab_size; ++id)
    if (tokenizer == nullptr || !tokenizer->is_control(id)) pool.push_back(id);
  if (pool.empty()) fail("demo", "the vocabulary has no regular token to build background prompts from");

  // Background lengths fit the context: prompts at most half of it, outputs in what remains.
  const int prompt_cap = std::max(1, std::min(opt.background_prompt_max, config.max_seq_len / 2));
  const int probe_total = static_cast<int>(opt.prompt.size()) + opt.max_tokens;
  if (probe_total > config.max_seq_len)
    fail("demo", "the probe prompt (" + std::to_string(opt.prompt.size()) + " tokens) + --max-tokens exceed the " +
                     "model's context of " + std::to_string(config.max_seq_len));

  // Arrival order: probes and background requests shuffled together (Fisher-Yates on the seeded generator).
  std::vector<int> order(static_cast<size_t>(opt.runs + background));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);  // < runs: probe i; else background
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);

  std::vector<ScheduledRequest> out;
  out.reserve(order.size());
  int step = 0;
  for (int which : order) {
    step += rng.uniform(0, opt.arrival_gap_max);
    ScheduledRequest r;
    r.arrival_step = step;
    r.params.ignore_eos = true;
    if (which < opt.runs) {
      r.probe = which;
      r.prompt = opt.prompt;
      r.params.max_tokens = opt.max_tokens;
      r.params.sampling.temperature = opt.probe_temperature;
      r.params.sampling.seed = opt.probe_seed;
      r.params.sampling.top_logprobs = 2;  // for the top-2 margins (reporting only: the logits are unchanged)
    } else {
      const int len = rng.uniform(1, prompt_cap);
      r.prompt.resize(static_cast<size_t>(len));
      for (int32_t& t : r.prompt) t = pool[rng.next() % pool.size()];
      const int tokens_cap = std::max(1, std::min(opt.background_tokens_max, config.max_seq_len - len));
      r.params.max_tokens = rng.uniform(1, tokens_cap);
      r.params.sampling.temperature = 1.0f;
      r.params.sampling.seed = rng.next();
    }
    out.push_back(std::move(r));
  }
  return out;
}

DemoResult run_demo(const Model& model, const Tokenizer* tokenizer, const DemoOptions& opt,
                    const DemoProgressFn& progress) {
  const std::vector<ScheduledRequest> schedule = demo_schedule(opt, model.config, tokenizer);
  DemoResult result;
  result.options = opt;
  result.background = static_cast<int>(schedule.size()) - opt.runs;

  for (size_t m = 0; m < opt.modes.size(); ++m) {
    EngineOptions eo = opt.engine;
    eo.mode = opt.modes[m];
    Engine engine(model, tokenizer, eo);
    DemoModeResult mr;
    mr.mode = eo.mode;
    mr.backend = engine.backend_name();

    DemoProgress p;
    p.mode = eo.mode;
    p.mode_index = static_cast<int>(m);
    p.mode_count = static_cast<int>(opt.modes.size());
    p.probes = opt.runs;
    p.requests = static_cast<int>(schedule.size());
    std::map<uint64_t, int> probe_of;  // engine id -> probe index
    std::vector<uint64_t> background_ids;
    bool changed = true;

    const auto t0 = std::chrono::steady_clock::now();
    size_t next = 0;
    for (int step = 0; next < schedule.size() || !engine.idle(); ++step) {
      while (next < schedule.size() && schedule[next].arrival_step <= step) {
        const ScheduledRequest& r = schedule[next++];
        const bool is_probe = r.probe >= 0;
        const uint64_t id = engine.submit(r.prompt, r.params, [&p, &changed, is_probe](const TokenEvent& e) {
          if (!e.finished) return;
          ++p.requests_done;
          if (is_probe) ++p.probes_done;
          changed = true;
        });
        if (is_probe)
          probe_of[id] = r.probe;
        else
          background_ids.push_back(id);
      }
      engine.step();
      if (changed && progress) progress(p);
      changed = false;
    }
    mr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::vector<std::vector<std::vector<std::pair<int32_t, float>>>> tops(static_cast<size_t>(opt.runs));
    mr.tokens.resize(static_cast<size_t>(opt.runs));
    mr.logprobs.resize(static_cast<size_t>(opt.runs));
    mr.texts.resize(static_cast<size_t>(opt.runs));
    for (const auto& [id, probe] : probe_of) {
      std::optional<RequestOutput> out = engine.take_output(id);
      if (!out) fail("demo", "probe " + std::to_string(probe) + " did not finish");
      mr.tokens[probe] = std::move(out->tokens);
      mr.logprobs[probe] = std::move(out->logprobs);
      mr.texts[probe] = std::move(out->text);
      tops[probe] = std::move(out->top_logprobs);
    }
    for (uint64_t id : background_ids) engine.take_output(id);
    const EngineStats st = engine.stats();
    mr.engine_steps = st.steps;
    mr.generated_tokens = st.generated_tokens;
    mr.prompt_tokens = st.prompt_tokens;
    mr.stats = divergence_stats(mr.tokens, mr.logprobs);
    const auto& ref_top = tops[static_cast<size_t>(mr.stats.reference_run)];
    for (size_t t = 0; t < ref_top.size(); ++t) {
      const double margin =
          ref_top[t].size() >= 2 ? static_cast<double>(ref_top[t][0].second) - ref_top[t][1].second : INFINITY;
      mr.top2_margin.push_back(margin);
      if (mr.min_top2_margin_position < 0 || margin < mr.min_top2_margin) {
        mr.min_top2_margin = margin;
        mr.min_top2_margin_position = static_cast<int>(t);
      }
    }
    result.modes.push_back(std::move(mr));
  }
  return result;
}

}  // namespace verbatim::app

// verbatim demo: N identical greedy requests under a random background load, in fast mode and then in invariant
// mode; prints how many distinct completions each mode gave (see src/app/demo_run.h).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "app/chat_prompt.h"
#include "app/demo_report.h"
#include "app/demo_run.h"
#include "app/model_bundle.h"
#include "cli/backend_default.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "util/error.h"

namespace verbatim::cli {
namespace {

// The probe count when --runs is not given: the blog's 1000 on a GPU; on the CPU fewer, so that the whole demo
// (both modes) stays under a minute on 2 cores with the embedded model.
constexpr int kGpuRuns = 1000;
constexpr int kCpuRuns = 100;

struct DemoCliOptions {
  std::string model, tokenizer;
  std::string synth_arch = app::kDefaultSynthArch;
  uint64_t synth_seed = 0;
  int synth_layers = 0;
  std::string prompt = app::kFeynmanPrompt;
  int runs = 0;
  std::string modes = "fast,invariant";
  std::string backend;
  std::string report;
  bool json = false;
  bool no_progress = false;
  int kv_cache_mb = 0;  // 0: 256 MiB on the CPU, 16 GiB on a GPU
  app::DemoOptions demo;
};

std::vector<Mode> parse_modes(const std::string& s) {
  std::vector<Mode> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(parse_mode(item));
  if (out.empty()) fail("--modes", "names no mode");
  return out;
}

std::string position_text(int pos) {
  return pos < 0 ? "none" : "token " + std::to_string(pos);
}

std::string delta_text(double v) {
  if (v == 0.0) return "0 (bitwise)";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", v);
  return buf;
}

void print_summary(const app::DemoResult& r, const app::ModelBundle& bundle, const std::string& prompt_text, bool chat,
                   int prompt_tokens) {
  const app::DemoOptions& o = r.options;
  std::printf("verbatim demo: %d identical greedy requests (\"%s\"%s, %d prompt tokens, %d output tokens each)\n",
              o.runs, prompt_text.c_str(), chat ? " as a chat" : "", prompt_tokens, o.max_tokens);
  std::printf("  beside %d background requests of random lengths arriving at random steps (seed %llu)\n", r.background,
              static_cast<unsigned long long>(o.seed));
  std::printf("  model: %s\n", bundle.description.c_str());
  if (!r.modes.empty())
    std::printf("  backend: %s, %d thread%s, up to %d requests per step\n\n", r.modes[0].backend.c_str(),
                o.engine.threads, o.engine.threads == 1 ? "" : "s", o.engine.max_running);
  std::printf("%-10s %7s %13s %17s %9s %16s %8s\n", "mode", "unique", "most common", "first divergence", "bitwise",
              "max |dlogprob|", "time");
  for (const app::DemoModeResult& m : r.modes) {
    char common[32];
    std::snprintf(common, sizeof common, "%d/%d", m.stats.most_common_count, m.stats.runs);
    std::printf("%-10s %7d %13s %17s %9d %16s %7.1fs\n", mode_name(m.mode), m.stats.unique, common,
                position_text(m.stats.first_divergence).c_str(), m.stats.unique_bitwise,
                delta_text(m.stats.max_abs_dlogprob_overall).c_str(), m.seconds);
  }
  std::printf("\n");
  for (const app::DemoModeResult& m : r.modes) {
    const app::DivergenceStats& st = m.stats;
    if (st.unique_bitwise == 1) {
      std::printf("%s: all %d runs bitwise identical (tokens and logprobs).\n", mode_name(m.mode), st.runs);
    } else if (st.unique == 1) {
      std::printf(
          "%s: the same tokens in all %d runs, but %d distinct logprob bit patterns (|dlogprob| up to %.2e): no\n"
          "  greedy choice was that close (smallest top-2 logprob margin %.3g, at token %d), so no token flipped.\n",
          mode_name(m.mode), st.runs, st.unique_bitwise, st.max_abs_dlogprob_overall, m.min_top2_margin,
          m.min_top2_margin_position);
    } else {
      std::printf("%s: %d distinct completions in %d runs; %d runs left the most common one, the first at token %d.\n",
                  mode_name(m.mode), st.unique, st.runs, st.diverged_runs, st.first_divergence);
    }
  }
  std::printf(
      "\nunique: distinct completions (token sequences). most common: runs equal to the most common completion.\n"
      "first divergence: the earliest token index at which any completion differs from the most common one.\n"
      "bitwise: distinct (tokens, logprob bits) sequences. max |dlogprob|: the largest difference of a token's\n"
      "logprob from the most common completion's, over runs that agree on every token up to it.\n");
}

nlohmann::json to_json(const app::DemoResult& r, const app::ModelBundle& bundle, int prompt_tokens) {
  nlohmann::json j;
  j["model"] = bundle.description;
  j["runs"] = r.options.runs;
  j["max_tokens"] = r.options.max_tokens;
  j["prompt_tokens"] = prompt_tokens;
  j["background"] = r.background;
  j["seed"] = r.options.seed;
  j["threads"] = r.options.engine.threads;
  for (const app::DemoModeResult& m : r.modes) {
    nlohmann::json jm;
    jm["mode"] = mode_name(m.mode);
    jm["backend"] = m.backend;
    jm["unique"] = m.stats.unique;
    jm["unique_bitwise"] = m.stats.unique_bitwise;
    jm["most_common_count"] = m.stats.most_common_count;
    jm["first_divergence"] = m.stats.first_divergence;
    jm["diverged_runs"] = m.stats.diverged_runs;
    jm["max_abs_dlogprob"] = m.stats.max_abs_dlogprob_overall;
    jm["max_abs_dlogprob_per_position"] = m.stats.max_abs_dlogprob;
    jm["divergence_positions"] = m.stats.divergence_positions;
    jm["top2_margin"] = m.top2_margin;
    jm["min_top2_margin"] = m.min_top2_margin;
    jm["min_top2_margin_position"] = m.min_top2_margin_position;
    jm["seconds"] = m.seconds;
    jm["engine_steps"] = m.engine_steps;
    jm["generated_tokens"] = m.generated_tokens;
    jm["reference_text"] = m.texts.empty() ? "" : m.texts[static_cast<size_t>(m.stats.reference_run)];
    j["modes"].push_back(jm);
  }
  return j;
}

int run(DemoCliOptions& opt) {
  app::ModelBundle bundle =
      opt.model.empty()
          ? app::synth_bundle(
                {.arch = opt.synth_arch, .seed = opt.synth_seed, .dtype = DType::BF16, .layers = opt.synth_layers})
          : app::load_bundle(opt.model, opt.tokenizer);
  app::DemoOptions& d = opt.demo;
  d.engine.backend = opt.backend.empty() ? default_engine_backend() : opt.backend;
  d.engine.kv_cache_bytes = int64_t{opt.kv_cache_mb > 0 ? opt.kv_cache_mb : (d.engine.backend == "cpu" ? 256 : 16384)}
                            << 20;
  d.runs = opt.runs > 0 ? opt.runs : (d.engine.backend == "cpu" ? kCpuRuns : kGpuRuns);
  d.modes = parse_modes(opt.modes);
  d.prompt = app::chat_prompt_tokens(bundle, opt.prompt);
  const int prompt_tokens = static_cast<int>(d.prompt.size());

  std::unique_ptr<Progress> bar;
  int bar_mode = -1;
  const app::DemoResult r = app::run_demo(*bundle.model, bundle.tokenizer.get(), d, [&](const app::DemoProgress& p) {
    if (p.mode_index != bar_mode) {
      if (bar) bar->finish();
      bar_mode = p.mode_index;
      bar = std::make_unique<Progress>(std::string(mode_name(p.mode)) + " (" + std::to_string(p.mode_index + 1) + "/" +
                                           std::to_string(p.mode_count) + ")",
                                       p.requests, !opt.no_progress);
    }
    bar->update(p.requests_done, std::to_string(p.probes_done) + "/" + std::to_string(p.probes) + " probes, " +
                                     std::to_string(p.requests_done) + "/" + std::to_string(p.requests) + " requests");
  });
  if (bar) bar->finish();

  if (opt.json)
    std::printf("%s\n", to_json(r, bundle, prompt_tokens).dump().c_str());
  else
    print_summary(r, bundle, opt.prompt, app::chat_prompt_text(bundle, opt.prompt) != opt.prompt, prompt_tokens);
  if (!opt.report.empty()) {
    const std::string html =
        app::demo_report_html(r, {.model = bundle.description, .prompt = opt.prompt, .prompt_tokens = prompt_tokens});
    std::ofstream out(opt.report, std::ios::binary | std::ios::trunc);
    if (!out) fail(opt.report, "cannot create the report");
    out << html;
    out.close();
    if (!out) fail(opt.report, "write failed");
    if (!opt.json) std::printf("report: %s\n", opt.report.c_str());
  }
  return 0;
}

}  // namespace

void register_demo(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<DemoCliOptions>();
  // One CPU thread by default: a demo step is small (a tiny model, tens of rows), and on a machine that other work
  // shares, two OpenMP threads that wait on each other every op ran 5x slower than one (docs/performance.md).
  opt->demo.engine.threads = 1;
  CLI::App* cmd = app.add_subcommand(
      "demo", "N identical greedy requests under random background load, fast mode vs invariant mode");
  cmd->add_option("--model", opt->model, "a model to run (default: an embedded synthetic model, made in memory)");
  cmd->add_option("--tokenizer", opt->tokenizer, "the tokenizer of --model, when its format carries none");
  cmd->add_option("--synth-arch", opt->synth_arch, "architecture of the embedded synthetic model")
      ->capture_default_str();
  cmd->add_option("--synth-seed", opt->synth_seed, "seed of the embedded synthetic model's weights")
      ->capture_default_str();
  cmd->add_option("--synth-layers", opt->synth_layers, "layers of the embedded synthetic model (0: the arch's)");
  cmd->add_option("--prompt", opt->prompt, "the user message of the identical requests")->capture_default_str();
  cmd->add_option("--runs,-n", opt->runs, "identical requests (default: 1000 on a GPU, 100 on the CPU)");
  cmd->add_option("--max-tokens", opt->demo.max_tokens, "output tokens per identical request (EOS ignored)")
      ->capture_default_str();
  cmd->add_option("--background", opt->demo.background, "background requests (-1: as many as --runs)")
      ->capture_default_str();
  cmd->add_option("--background-prompt-max", opt->demo.background_prompt_max,
                  "background prompt length uniform in [1, this]")
      ->capture_default_str();
  cmd->add_option("--background-tokens-max", opt->demo.background_tokens_max,
                  "background output length uniform in [1, this]")
      ->capture_default_str();
  cmd->add_option("--arrival-gap", opt->demo.arrival_gap_max, "steps between arrivals, uniform in [0, this]")
      ->capture_default_str();
  cmd->add_option("--seed", opt->demo.seed, "seed of the arrival schedule and background requests")
      ->capture_default_str();
  cmd->add_option("--modes", opt->modes, "modes to run, in order")->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu or cuda (default: cuda when available, else cpu)");
  cmd->add_option("--threads", opt->demo.engine.threads, "CPU threads of the engine")->capture_default_str();
  cmd->add_option("--max-running", opt->demo.engine.max_running, "requests per step")->capture_default_str();
  cmd->add_option("--max-batch-tokens", opt->demo.engine.max_batch_tokens, "rows per step")->capture_default_str();
  cmd->add_option("--kv-cache-mb", opt->kv_cache_mb, "KV cache size (default: 256 on the CPU, 16384 on a GPU)");
  cmd->add_option("--report", opt->report, "write a self-contained HTML report with charts");
  cmd->add_flag("--json", opt->json, "print one JSON object instead of the table");
  cmd->add_flag("--no-progress", opt->no_progress, "no progress output on stderr");
  cmd->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace verbatim::cli

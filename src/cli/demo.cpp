// verbatim demo: N identical greedy requests under a random background load, in fast mode and then in invariant
// mode; prints how many distinct completions each mode gave (see src/app/demo_run.h).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "app/chat_prompt.h"
#include "app/demo_defaults.h"
#include "app/demo_report.h"
#include "app/demo_run.h"
#include "app/model_bundle.h"
#include "cli/backend_default.h"
#include "cli/commands.h"
#include "cli/cpu_kv_option.h"
#include "cli/cpu_matmul_option.h"
#include "cli/progress.h"
#include "model/default_model.h"
#include "util/error.h"

namespace verbatim::cli {
namespace {

struct DemoCliOptions {
  std::string model, tokenizer;
  bool synthetic = false;  // the embedded synthetic model even when the default model is present
  std::string synth_arch = app::kDefaultSynthArch;
  uint64_t synth_seed = 0;
  int synth_layers = 0;
  std::string prompt = app::kFeynmanPrompt;
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
  std::printf("verbatim demo: %d identical %s requests (\"%s\"%s, %d prompt tokens, %d output tokens each)\n", o.runs,
              app::probe_kind_text(o).c_str(), prompt_text.c_str(), chat ? " as a chat" : "", prompt_tokens,
              o.max_tokens);
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
    } else if (st.unique == 1 && o.probe_temperature > 0.0f) {
      std::printf(
          "%s: the same tokens in all %d runs, but %d distinct logprob bit patterns (|dlogprob| up to %.2e): no\n"
          "  sampled token sat that close to a boundary of the seeded draw, so no token flipped.\n",
          mode_name(m.mode), st.runs, st.unique_bitwise, st.max_abs_dlogprob_overall);
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

const char* source_name(app::DemoModelSource s) {
  switch (s) {
    case app::DemoModelSource::Given:
      return "given";
    case app::DemoModelSource::DefaultModel:
      return "default";
    case app::DemoModelSource::Synthetic:
      break;
  }
  return "synthetic";
}

nlohmann::json to_json(const app::DemoResult& r, const app::ModelBundle& bundle, app::DemoModelSource source,
                       int prompt_tokens) {
  nlohmann::json j;
  j["model"] = bundle.description;
  j["model_source"] = source_name(source);
  j["model_path"] = bundle.synthetic ? std::string() : bundle.model->path;
  j["runs"] = r.options.runs;
  j["max_tokens"] = r.options.max_tokens;
  j["temperature"] = r.options.probe_temperature;
  j["probe_seed"] = r.options.probe_seed;
  j["background_prompt_max"] = r.options.background_prompt_max;
  j["background_tokens_max"] = r.options.background_tokens_max;
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

// The workload's fields that the command line left unset, from the defaults of this backend and model.
void apply_workload_defaults(app::DemoOptions& d, const CLI::App& cmd, bool default_model) {
  const app::DemoWorkload w = app::default_demo_workload(d.engine.backend, default_model);
  if (cmd.count("--runs") == 0) d.runs = w.runs;
  if (cmd.count("--max-tokens") == 0) d.max_tokens = w.max_tokens;
  if (cmd.count("--background") == 0) d.background = w.background;
  if (cmd.count("--background-prompt-max") == 0) d.background_prompt_max = w.background_prompt_max;
  if (cmd.count("--background-tokens-max") == 0) d.background_tokens_max = w.background_tokens_max;
}

std::string looked_in_text() {
  std::string where;
  for (const std::string& p : default_model_candidates()) where += (where.empty() ? "" : ", ") + p;
  return where.empty() ? std::string("(nowhere)") : where;
}

int run(DemoCliOptions& opt, const CLI::App& cmd) {
  const bool synthetic_asked = opt.synthetic || cmd.count("--synth-arch") > 0 || cmd.count("--synth-seed") > 0 ||
                               cmd.count("--synth-layers") > 0;
  if (!opt.model.empty() && synthetic_asked) fail("--model", "cannot be combined with --synthetic or --synth-*");
  const app::DemoModelChoice choice = app::choose_demo_model(
      opt.model, synthetic_asked, opt.model.empty() && !synthetic_asked ? default_model_path() : std::nullopt,
      looked_in_text());
  std::fprintf(stderr, "verbatim demo: %s\n", choice.note.c_str());
  app::ModelBundle bundle =
      choice.source == app::DemoModelSource::Synthetic
          ? app::synth_bundle(
                {.arch = opt.synth_arch, .seed = opt.synth_seed, .dtype = DType::BF16, .layers = opt.synth_layers})
          : app::load_bundle(choice.path, opt.tokenizer);
  const bool default_model = !bundle.synthetic && is_default_model_file(choice.path);
  if (choice.source == app::DemoModelSource::DefaultModel) bundle.description = "default model " + bundle.description;
  app::DemoOptions& d = opt.demo;
  d.engine.backend = opt.backend.empty() ? default_engine_backend() : opt.backend;
  d.engine.kv_cache_bytes = int64_t{opt.kv_cache_mb > 0 ? opt.kv_cache_mb : (d.engine.backend == "cpu" ? 256 : 16384)}
                            << 20;
  apply_workload_defaults(d, cmd, default_model);
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
    std::printf("%s\n", to_json(r, bundle, choice.source, prompt_tokens).dump().c_str());
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
  cmd->add_option("--model", opt->model,
                  std::string("a model to run (default: ") + kDefaultModelFile +
                      " when scripts/setup.sh fetched it, else an embedded synthetic model made in memory)");
  cmd->add_flag("--synthetic", opt->synthetic,
                "run the embedded synthetic model (random weights) even when the default model is present");
  cmd->add_option("--tokenizer", opt->tokenizer, "the tokenizer of --model, when its format carries none");
  cmd->add_option("--synth-arch", opt->synth_arch, "architecture of the embedded synthetic model (implies --synthetic)")
      ->capture_default_str();
  cmd->add_option("--synth-seed", opt->synth_seed, "seed of the embedded synthetic model's weights")
      ->capture_default_str();
  cmd->add_option("--synth-layers", opt->synth_layers, "layers of the embedded synthetic model (0: the arch's)");
  cmd->add_option("--prompt", opt->prompt, "the user message of the identical requests")->capture_default_str();
  // The workload's defaults depend on the backend and the model (app/demo_defaults.h).
  cmd->add_option("--runs,-n", opt->demo.runs,
                  "identical requests (default: 1000 on a GPU; on the CPU 100, 24 with the default model)");
  cmd->add_option(
      "--max-tokens", opt->demo.max_tokens,
      "output tokens per identical request, EOS ignored (default: 64; 48 with the default model on the CPU)");
  cmd->add_option("--temperature", opt->demo.probe_temperature,
                  "0: greedy probes; > 0: every probe samples at this temperature with the same --probe-seed")
      ->capture_default_str();
  cmd->add_option("--probe-seed", opt->demo.probe_seed, "the probes' sampling seed (with --temperature > 0)")
      ->capture_default_str();
  cmd->add_option("--background", opt->demo.background, "background requests (default -1: as many as --runs)");
  cmd->add_option("--background-prompt-max", opt->demo.background_prompt_max,
                  "background prompt length uniform in [1, this] (default: 128; 64 with the default model on the CPU)");
  cmd->add_option("--background-tokens-max", opt->demo.background_tokens_max,
                  "background output length uniform in [1, this] (default: 96; 16 with the default model on the CPU)");
  cmd->add_option("--arrival-gap", opt->demo.arrival_gap_max, "steps between arrivals, uniform in [0, this]")
      ->capture_default_str();
  cmd->add_option("--seed", opt->demo.seed, "seed of the arrival schedule and background requests")
      ->capture_default_str();
  cmd->add_option("--modes", opt->modes, "modes to run, in order")->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu or cuda (default: cuda when available, else cpu)");
  cmd->add_option("--threads", opt->demo.engine.threads, "CPU threads of the engine")->capture_default_str();
  add_cpu_matmul_option(cmd, opt->demo.engine);
  add_cpu_kv_option(cmd, opt->demo.engine);
  cmd->add_option("--max-running", opt->demo.engine.max_running, "requests per step")->capture_default_str();
  cmd->add_option("--max-batch-tokens", opt->demo.engine.max_batch_tokens, "rows per step")->capture_default_str();
  cmd->add_option("--kv-cache-mb", opt->kv_cache_mb, "KV cache size (default: 256 on the CPU, 16384 on a GPU)");
  cmd->add_option("--report", opt->report, "write a self-contained HTML report with charts");
  cmd->add_flag("--json", opt->json, "print one JSON object instead of the table");
  cmd->add_flag("--no-progress", opt->no_progress, "no progress output on stderr");
  cmd->callback([opt, cmd, &exit_code] { exit_code = run(*opt, *cmd); });
}

}  // namespace verbatim::cli

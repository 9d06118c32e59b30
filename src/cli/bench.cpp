// verbatim bench: the throughput test of Thinking Machines' "Defeating Nondeterminism in LLM Inference": N requests
// of the chat prompt "Tell me about Richard Feynman", output lengths uniform in [90, 110] with EOS ignored, at a
// chosen concurrency; in process (the engine, per mode) or against any OpenAI-compatible server (--url).
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "app/bench_run.h"
#include "app/chat_prompt.h"
#include "app/model_bundle.h"
#include "cli/backend_default.h"
#include "cli/bench_http.h"
#include "cli/commands.h"
#include "cli/cpu_kv_option.h"
#include "cli/cpu_matmul_option.h"
#include "cli/progress.h"
#include "util/error.h"

namespace verbatim::cli {
namespace {

struct BenchCliOptions {
  std::string model, tokenizer;
  std::string synth_arch = app::kDefaultSynthArch;
  uint64_t synth_seed = 0;
  int synth_layers = 0;
  std::string prompt = app::kFeynmanPrompt;
  std::string modes = "invariant";
  std::string backend;
  std::string url, api_key, served_model;
  int kv_cache_mb = 0;  // 0: 1024 MiB on the CPU, 16 GiB on a GPU
  bool json = false, no_progress = false;
  app::BenchOptions bench;
};

std::vector<Mode> parse_modes(const std::string& s) {
  std::vector<Mode> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(parse_mode(item));
  if (out.empty()) fail("--modes", "names no mode");
  return out;
}

nlohmann::json latency_json(const app::LatencySummary& l) {
  auto v = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); };
  return {{"count", l.count}, {"mean_s", v(l.mean)}, {"p50_s", v(l.p50)}, {"p90_s", v(l.p90)}, {"p99_s", v(l.p99)}};
}

nlohmann::json summary_json(const app::BenchSummary& s) {
  nlohmann::json j = {{"label", s.label},
                      {"requests", s.requests},
                      {"failed", s.failed},
                      {"length_mismatches", s.length_mismatches},
                      {"output_tokens", s.output_tokens},
                      {"total_seconds", s.total_seconds},
                      {"output_tokens_per_second", s.output_tokens_per_second},
                      {"ttft", latency_json(s.ttft)},
                      {"itl", latency_json(s.itl)}};
  if (!s.first_error.empty()) j["first_error"] = s.first_error;
  return j;
}

std::string ms3(const app::LatencySummary& l) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.1f / %.1f / %.1f", l.p50 * 1e3, l.p90 * 1e3, l.p99 * 1e3);
  return buf;
}

void print_table(const std::vector<app::BenchSummary>& rows) {
  std::printf("%-10s %8s %7s %9s %13s %26s %26s\n", "run", "requests", "failed", "total s", "output tok/s",
              "TTFT p50/p90/p99 ms", "ITL p50/p90/p99 ms");
  for (const app::BenchSummary& s : rows) {
    std::printf("%-10s %8d %7d %9.2f %13.1f %26s %26s\n", s.label.c_str(), s.requests, s.failed, s.total_seconds,
                s.output_tokens_per_second, ms3(s.ttft).c_str(), ms3(s.itl).c_str());
    if (s.length_mismatches > 0)
      std::printf("  warning: %d requests produced another token count than their drawn length\n", s.length_mismatches);
    if (!s.first_error.empty()) std::printf("  first error: %s\n", s.first_error.c_str());
  }
}

int run(BenchCliOptions& opt) {
  app::BenchOptions& b = opt.bench;
  const std::vector<int> lengths = app::bench_output_lengths(b.requests, b.min_tokens, b.max_tokens, b.seed);
  std::vector<app::BenchSummary> rows;
  nlohmann::json j;
  j["requests"] = b.requests;
  j["concurrency"] = b.concurrency;
  j["output_tokens"] = {{"min", b.min_tokens}, {"max", b.max_tokens}, {"seed", b.seed}};
  j["prompt"] = opt.prompt;

  if (!opt.url.empty()) {
    HttpBenchOptions h;
    h.url = opt.url;
    h.api_key = opt.api_key;
    h.model = opt.served_model;
    h.prompt = opt.prompt;
    h.lengths = lengths;
    h.concurrency = b.concurrency;
    if (!opt.json)
      std::printf(
          "verbatim bench: %d requests of \"%s\" (chat), output %d-%d tokens (EOS ignored), concurrency %d\n"
          "  target: %s (POST /v1/chat/completions, stream)\n\n",
          b.requests, opt.prompt.c_str(), b.min_tokens, b.max_tokens, b.concurrency, opt.url.c_str());
    Progress bar("http", b.requests, !opt.no_progress);
    double total = 0.0;
    std::string model_used;
    const auto records = run_bench_http(h, &total, &model_used, [&](int done, int n) {
      bar.update(done, std::to_string(done) + "/" + std::to_string(n) + " requests");
    });
    bar.finish();
    rows.push_back(app::summarize_bench("http", records, total));
    j["target"] = opt.url;
    j["served_model"] = model_used;
  } else {
    app::ModelBundle bundle =
        opt.model.empty()
            ? app::synth_bundle(
                  {.arch = opt.synth_arch, .seed = opt.synth_seed, .dtype = DType::BF16, .layers = opt.synth_layers})
            : app::load_bundle(opt.model, opt.tokenizer);
    b.engine.backend = opt.backend.empty() ? default_engine_backend() : opt.backend;
    b.engine.kv_cache_bytes =
        int64_t{opt.kv_cache_mb > 0 ? opt.kv_cache_mb : (b.engine.backend == "cpu" ? 1024 : 16384)} << 20;
    b.prompt = app::chat_prompt_tokens(bundle, opt.prompt);
    if (!opt.json)
      std::printf(
          "verbatim bench: %d requests of \"%s\" (chat, %zu prompt tokens), output %d-%d tokens (EOS "
          "ignored), concurrency %d\n  target: in-process engine, %s backend, %d thread%s; model: %s\n\n",
          b.requests, opt.prompt.c_str(), b.prompt.size(), b.min_tokens, b.max_tokens, b.concurrency,
          b.engine.backend.c_str(), b.engine.threads, b.engine.threads == 1 ? "" : "s", bundle.description.c_str());
    j["target"] = "in-process";
    j["model"] = bundle.description;
    j["backend"] = b.engine.backend;
    j["threads"] = b.engine.threads;
    j["prompt_tokens"] = b.prompt.size();
    for (Mode m : parse_modes(opt.modes)) {
      b.engine.mode = m;
      Progress bar(mode_name(m), b.requests, !opt.no_progress);
      double total = 0.0;
      const auto records = app::run_bench_engine(
          *bundle.model, bundle.tokenizer.get(), b, &total,
          [&](int done, int n) { bar.update(done, std::to_string(done) + "/" + std::to_string(n) + " requests"); });
      bar.finish();
      rows.push_back(app::summarize_bench(mode_name(m), records, total));
    }
  }

  for (const app::BenchSummary& s : rows) j["results"].push_back(summary_json(s));
  const app::BenchSummary* inv = nullptr;
  const app::BenchSummary* fast = nullptr;
  for (const app::BenchSummary& s : rows) {
    if (s.label == "invariant") inv = &s;
    if (s.label == "fast") fast = &s;
  }
  if (opt.json) {
    if (inv && fast && fast->total_seconds > 0)
      j["invariant_over_fast_time"] = inv->total_seconds / fast->total_seconds;
    std::printf("%s\n", j.dump().c_str());
  } else {
    print_table(rows);
    if (inv && fast && fast->total_seconds > 0)
      std::printf("\ninvariant / fast: total time %.3fx, output tok/s %.3fx\n",
                  inv->total_seconds / fast->total_seconds,
                  inv->output_tokens_per_second / fast->output_tokens_per_second);
  }
  int failed = 0;
  for (const app::BenchSummary& s : rows) failed += s.failed;
  return failed > 0 ? 1 : 0;
}

}  // namespace

void register_bench(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<BenchCliOptions>();
  opt->bench.engine.threads = std::max(1u, std::thread::hardware_concurrency());
  CLI::App* cmd = app.add_subcommand(
      "bench", "throughput: N chat requests of 90-110 tokens (EOS ignored) in process or against a server (--url)");
  cmd->add_option("--model", opt->model, "a model to run in process (default: the embedded synthetic model)");
  cmd->add_option("--tokenizer", opt->tokenizer, "the tokenizer of --model, when its format carries none");
  cmd->add_option("--synth-arch", opt->synth_arch, "architecture of the embedded synthetic model")
      ->capture_default_str();
  cmd->add_option("--synth-seed", opt->synth_seed, "seed of the embedded synthetic model")->capture_default_str();
  cmd->add_option("--synth-layers", opt->synth_layers, "layers of the embedded synthetic model (0: the arch's)");
  cmd->add_option("--url", opt->url, "an OpenAI-compatible server (http://host:port) instead of the engine");
  cmd->add_option("--api-key", opt->api_key, "bearer token for --url");
  cmd->add_option("--served-model", opt->served_model, "the request's \"model\" (default: the server's first)");
  cmd->add_option("--prompt", opt->prompt, "the user message")->capture_default_str();
  cmd->add_option("--requests,-n", opt->bench.requests, "requests")->capture_default_str();
  cmd->add_option("--concurrency,-c", opt->bench.concurrency, "requests in flight at once")->capture_default_str();
  cmd->add_option("--min-tokens", opt->bench.min_tokens, "output length lower bound")->capture_default_str();
  cmd->add_option("--max-tokens", opt->bench.max_tokens, "output length upper bound")->capture_default_str();
  cmd->add_option("--seed", opt->bench.seed, "seed of the output lengths")->capture_default_str();
  cmd->add_option("--modes", opt->modes, "in process: modes to run, e.g. fast,invariant (their ratio is printed)")
      ->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu or cuda (default: cuda when available, else cpu)");
  cmd->add_option("--threads", opt->bench.engine.threads, "CPU threads")->capture_default_str();
  add_cpu_matmul_option(cmd, opt->bench.engine);
  add_cpu_kv_option(cmd, opt->bench.engine);
  cmd->add_option("--max-batch-tokens", opt->bench.engine.max_batch_tokens, "rows per step")->capture_default_str();
  cmd->add_option("--kv-cache-mb", opt->kv_cache_mb, "KV cache size (default: 1024 on the CPU, 16384 on a GPU)");
  cmd->add_option("--warmup", opt->bench.warmup, "untimed short requests first (in process)")->capture_default_str();
  cmd->add_flag("--json", opt->json, "print one JSON object instead of the table");
  cmd->add_flag("--no-progress", opt->no_progress, "no progress output on stderr");
  cmd->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace verbatim::cli

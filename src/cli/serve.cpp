// verbatim serve: the OpenAI-compatible server (src/server/). SIGTERM / SIGINT drain it: new requests get 503,
// in-flight ones finish (cancelled after --drain-timeout), then the process exits 0.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "cli/backend_default.h"
#include "cli/commands.h"
#include "cli/cpu_kv_option.h"
#include "cli/cpu_matmul_option.h"
#include "model/default_model.h"
#include "server/server.h"
#include "util/error.h"

namespace verbatim::cli {
namespace {

struct ServeOptions {
  std::string model;
  std::string tokenizer;
  std::string served_model_name;
  std::string backend;
  std::string mode = "invariant";
  int kv_cache_mb = 256;
  EngineOptions engine;
  server::ServerOptions server;
  double max_body_mb = 8;
};

// cuda when this build has the CUDA backend and the machine a GPU; cpu otherwise.
// SIGTERM / SIGINT write their number into a pipe that one thread waits on. (A handler, not a blocked-signal mask:
// libraries such as OpenBLAS start threads before main, and a mask set later would not cover them.)
int g_signal_pipe[2] = {-1, -1};

extern "C" void on_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &b, 1);
}

int run_serve(ServeOptions& opt) {
  if (pipe(g_signal_pipe) != 0) fail("serve", "cannot create the signal pipe");
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  EngineOptions eo = opt.engine;
  eo.backend = opt.backend.empty() ? default_engine_backend() : opt.backend;
  eo.mode = parse_mode(opt.mode);
  eo.kv_cache_bytes = static_cast<int64_t>(opt.kv_cache_mb) << 20;
  eo.max_logits = std::max(eo.max_logits, eo.max_running);  // every running sequence can decode in each step
  opt.server.max_body_bytes = static_cast<size_t>(opt.max_body_mb * (1 << 20));
  if (opt.model.empty()) {
    opt.model = require_default_model("--model");
    if (opt.served_model_name.empty()) opt.served_model_name = "SmolLM2-135M-Instruct";
  }
  std::fprintf(stderr, "verbatim serve: loading %s\n", opt.model.c_str());
  auto model = server::ServedModel::load(opt.model, opt.tokenizer, opt.served_model_name);
  server::Server srv(*model, eo, opt.server);
  const int port = srv.bind();
  std::fprintf(stderr, "verbatim serve: %s\n", srv.description().c_str());
  std::printf("verbatim serve: listening on http://%s:%d\n", opt.server.host.c_str(), port);
  std::fflush(stdout);

  std::thread waiter([&] {
    unsigned char sig = 0;
    while (read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig != 0) std::fprintf(stderr, "verbatim serve: %s: draining\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.shutdown();
  });
  srv.run();
  // run() returns after shutdown() stopped the listener, or if listening failed: then wake the waiter to finish.
  const unsigned char none = 0;
  [[maybe_unused]] const ssize_t n = write(g_signal_pipe[1], &none, 1);
  waiter.join();
  std::fprintf(stderr, "verbatim serve: stopped\n");
  return 0;
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible server whose outputs do not change with load");
  cmd->add_option("--model", opt->model,
                  "HF model directory, .gguf file or llama2.c .bin checkpoint (default: models/SmolLM2-135M-Instruct)");
  cmd->add_option("--tokenizer", opt->tokenizer,
                  "tokenizer.json, GGUF or llama2.c tokenizer .bin (default: the model's)");
  cmd->add_option("--host", opt->server.host, "address to bind")->capture_default_str();
  cmd->add_option("--port", opt->server.port, "port (0: any free port; the line on stdout says which)")
      ->capture_default_str();
  cmd->add_option("--backend", opt->backend, "cpu or cuda (default: cuda when built with CUDA and a GPU exists)");
  cmd->add_option("--mode", opt->mode, "invariant (default: bitwise batch-invariant) or fast")
      ->check(CLI::IsMember({"invariant", "fast"}));
  cmd->add_option("--served-model-name", opt->served_model_name, "the model name requests use (default: --model)");
  cmd->add_option("--api-key", opt->server.api_key, "require 'Authorization: Bearer KEY' on /v1 routes");
  cmd->add_option("--audit-log", opt->server.audit_log, "append one JSON line per finished request (verbatim replay)");
  cmd->add_option("--threads", opt->engine.threads, "CPU threads of the engine")->check(CLI::PositiveNumber);
  add_cpu_matmul_option(cmd, opt->engine);
  add_cpu_kv_option(cmd, opt->engine);
  cmd->add_option("--kv-cache-mb", opt->kv_cache_mb, "KV cache size in MiB")->check(CLI::PositiveNumber);
  cmd->add_option("--block-size", opt->engine.block_size, "KV cache block size in tokens")->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch-tokens", opt->engine.max_batch_tokens, "most tokens per engine step")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-running", opt->engine.max_running, "most sequences in the running batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-queue", opt->server.max_queue, "requests queued beyond the running batch before 429")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-body-mb", opt->max_body_mb, "largest request body in MiB (413 beyond)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--http-threads", opt->server.http_threads,
                  "HTTP worker threads (default: max-running + max-queue + 16)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--drain-timeout", opt->server.drain_timeout_s, "seconds in-flight requests get to finish on SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--keep-alive-timeout", opt->server.keep_alive_timeout_s, "seconds an idle connection stays open")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-model-len", opt->server.max_model_len,
                  "most tokens (prompt + completion) per request, below the model's context (0: the model's)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag(
      "--no-async-scheduling", [opt](int64_t) { opt->engine.async_scheduling = false; },
      "cuda: read each decode step's tokens before enqueuing the next (default: the next is enqueued first; same "
      "bits)");
  cmd->add_flag(
      "--no-prefix-cache", [opt](int64_t) { opt->engine.prefix_caching = false; }, "disable prefix caching");
  cmd->callback([opt, &exit_code] { exit_code = run_serve(*opt); });
}

}  // namespace verbatim::cli

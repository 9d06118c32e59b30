// verbatim replay FILE [--url URL | --model PATH]: re-runs every entry of an audit log (serve --audit-log) and
// reports identical / DIFFERENT per entry. Exits 1 on any difference, failure or fingerprint mismatch.
#include "server/replay.h"

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/cpu_kv_option.h"
#include "cli/cpu_matmul_option.h"

namespace verbatim::cli {
namespace {

struct ReplayCliOptions {
  server::ReplayOptions replay;
  std::string mode = "invariant";
  int kv_cache_mb = 256;
};

}  // namespace

void register_replay(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ReplayCliOptions>();
  CLI::App* cmd = app.add_subcommand("replay", "Re-run an audit log and check every output bit for bit");
  cmd->add_option("log", opt->replay.log_path, "audit log written by serve --audit-log")->required();
  auto* url = cmd->add_option("--url", opt->replay.url, "re-run against this server (http://host:port)");
  cmd->add_option("--model", opt->replay.model, "re-run in-process with this model")->excludes(url);
  cmd->add_option("--tokenizer", opt->replay.tokenizer, "with --model: the tokenizer (default: the model's)");
  cmd->add_option("--mode", opt->mode, "with --model: invariant (default) or fast")
      ->check(CLI::IsMember({"invariant", "fast"}));
  cmd->add_option("--threads", opt->replay.engine.threads, "with --model: CPU threads")->check(CLI::PositiveNumber);
  add_cpu_matmul_option(cmd, opt->replay.engine);
  add_cpu_kv_option(cmd, opt->replay.engine);
  cmd->add_option("--kv-cache-mb", opt->kv_cache_mb, "with --model: KV cache size in MiB")->check(CLI::PositiveNumber);
  cmd->callback([opt, &exit_code] {
    opt->replay.engine.mode = parse_mode(opt->mode);
    opt->replay.engine.kv_cache_bytes = static_cast<int64_t>(opt->kv_cache_mb) << 20;
    const server::ReplaySummary s = server::replay(opt->replay, stdout);
    exit_code = s.ok() ? 0 : 1;
  });
}

}  // namespace verbatim::cli

// verbatim synth: writes a seeded random-weight model of a real architecture as a Hugging Face directory.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "model/synth_archs.h"
#include "model/synth_model.h"
#include "util/error.h"

namespace verbatim::cli {
namespace {

struct SynthCliOptions {
  std::string arch;
  uint64_t seed = 0;
  std::string dtype = "bf16";
  int layers = 0;
  std::string out;
  bool force = false;
  bool list = false;
  uint64_t max_shard_mib = 4096;
};

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

DType parse_dtype(const std::string& s) {
  if (s == "bf16") return DType::BF16;
  if (s == "f16") return DType::F16;
  if (s == "f32") return DType::F32;
  fail("--dtype", "unknown dtype \"" + s + "\" (valid: bf16, f16, f32)");
}

void list_archs() {
  std::printf("%-14s %-8s %6s %7s %s\n", "arch", "params", "layers", "vocab", "description");
  for (const synth::SynthArch& a : synth::synth_archs()) {
    const double p = static_cast<double>(synth::parameter_count(a.config));
    char params[16];
    std::snprintf(params, sizeof params, p >= 1e9 ? "%.2fB" : "%.1fM", p >= 1e9 ? p / 1e9 : p / 1e6);
    std::printf("%-14s %-8s %6d %7d %s\n", a.name.c_str(), params, a.config.n_layers, a.config.vocab_size,
                a.description.c_str());
  }
}

int run_synth(const SynthCliOptions& o) {
  if (o.list) {
    list_archs();
    return 0;
  }
  if (o.arch.empty()) fail("synth", "--arch is required (valid: " + synth::synth_arch_names() + ")");
  if (o.out.empty()) fail("synth", "--out is required");
  const synth::SynthArch& arch = synth::synth_arch(o.arch);
  if (o.max_shard_mib == 0 || o.max_shard_mib > (uint64_t{1} << 30)) fail("--max-shard-mib", "must lie in [1, 2^30]");
  synth::SynthOptions opt;
  opt.arch = o.arch;
  opt.seed = o.seed;
  opt.dtype = parse_dtype(o.dtype);
  opt.layers = o.layers;
  opt.out_dir = o.out;
  opt.force = o.force;
  opt.max_shard_bytes = o.max_shard_mib << 20;
  opt.log = [](const std::string& line) {
    std::fprintf(stderr, "  %s\n", line.c_str());
    std::fflush(stderr);
  };

  const ModelConfig c = synth::synth_config(arch, o.layers);
  std::fprintf(stderr, "synth %s (%s), seed %llu, %s, %d layers -> %s\n", arch.name.c_str(), arch.description.c_str(),
               static_cast<unsigned long long>(o.seed), o.dtype.c_str(), c.n_layers, o.out.c_str());
  const auto start = std::chrono::steady_clock::now();
  const synth::SynthResult r = synth::write_synth_model(opt);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("wrote %s\n", o.out.c_str());
  for (const synth::SynthFile& f : r.files) std::printf("  %-36s %12s\n", f.name.c_str(), human_bytes(f.bytes).c_str());
  std::printf("%lld parameters, %llu bytes (%s) in %.2f s\n", static_cast<long long>(r.parameters),
              static_cast<unsigned long long>(r.total_bytes), human_bytes(r.total_bytes).c_str(), seconds);
  return 0;
}

}  // namespace

void register_synth(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<SynthCliOptions>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a seeded random-weight model of a real architecture (HF format)");
  cmd->add_option("--arch", opt->arch, "architecture: " + synth::synth_arch_names());
  cmd->add_option("--seed", opt->seed, "weight and tokenizer seed (the same seed gives byte-identical files)")
      ->capture_default_str();
  cmd->add_option("--out", opt->out, "output directory (created; must be empty unless --force)");
  cmd->add_option("--dtype", opt->dtype, "weight dtype: bf16, f16 or f32")->capture_default_str();
  cmd->add_option("--layers", opt->layers, "override the layer count (quick tests)")->check(CLI::Range(1, 1024));
  cmd->add_option("--max-shard-mib", opt->max_shard_mib, "largest safetensors file before sharding, in MiB")
      ->capture_default_str();
  cmd->add_flag("--force", opt->force, "write into a non-empty directory, replacing its model files");
  cmd->add_flag("--list", opt->list, "list the architectures and exit");
  cmd->callback([opt, &exit_code] { exit_code = run_synth(*opt); });
}

}  // namespace verbatim::cli

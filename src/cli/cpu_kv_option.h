// --cpu-kv fp32|bf16, for every command that takes --threads: the CPU backend's KV cache element type
// (backend::CpuKv). An invalid value is a usage error naming the choices.
#pragma once

#include <CLI/CLI.hpp>

#include "engine/engine.h"

namespace verbatim::cli {

// `engine` must outlive the parse (the commands keep their options in a shared_ptr captured by the app).
inline void add_cpu_kv_option(CLI::App* cmd, EngineOptions& engine) {
  cmd->add_option_function<std::string>(
         "--cpu-kv", [&engine](const std::string& v) { engine.cpu_kv = backend::parse_cpu_kv(v); },
         "cpu: KV cache element type: fp32 (default; bitwise the reference model) or bf16 (K and V rounded to bf16 "
         "when stored: half the cache bytes and attention reads, batch invariant too, other bits)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
}

}  // namespace verbatim::cli

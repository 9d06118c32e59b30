// --cpu-matmul fp32|bf16|amx, for every command that takes --threads: the CPU backend's linear-layer arithmetic
// (backend::CpuMatmul). An invalid value is a usage error naming the choices.
#pragma once

#include <CLI/CLI.hpp>

#include "engine/engine.h"

namespace verbatim::cli {

// `engine` must outlive the parse (the commands keep their options in a shared_ptr captured by the app).
inline void add_cpu_matmul_option(CLI::App* cmd, EngineOptions& engine) {
  cmd->add_option_function<std::string>(
         "--cpu-matmul", [&engine](const std::string& v) { engine.cpu_matmul = backend::parse_cpu_matmul(v); },
         "cpu: matmul arithmetic: fp32 (default; bitwise the reference model) or bf16 (activations rounded to bf16, "
         "AVX512_BF16 dot products: faster, batch invariant too, other bits; needs a CPU with avx512_bf16) or amx "
         "(the same bf16 operands on the AMX tile unit: many streams for little more than one, batch invariant too, "
         "its own bits; needs amx_bf16)")
      ->check(CLI::IsMember({"fp32", "bf16", "amx"}));
}

}  // namespace verbatim::cli

// The architectures `verbatim synth` can generate: real model shapes (and two tiny ones for tests and CPU demos),
// each with the ModelConfig that Model::load gives for the directory synth writes. Shared with the demo and the
// benchmarks, which list and look archs up here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"
#include "model/synth_tokenizer.h"

namespace verbatim::synth {

struct SynthArch {
  std::string name;         // what --arch takes: "qwen3-0.6b"
  std::string description;  // "Qwen3-0.6B"
  // Exactly what Model::load reads back from the synthetic directory (bos/eos from the tokenizer layout, eos_ids
  // as config.json's followed by generation_config.json's).
  ModelConfig config;
  TokenizerFamily tokenizer = TokenizerFamily::Qwen3;
  int32_t regular_tokens = 0;  // byte + merged tokens; 0: all ids the named specials leave (tokenizer_layout)
  bool tiny = false;           // a small made-up shape for tests and demos, not a real model

  TokenizerLayout tokenizer_layout() const;
};

// Every arch, in a fixed order (real models by size, then the tiny ones).
const std::vector<SynthArch>& synth_archs();
// nullptr when there is no such arch.
const SynthArch* find_synth_arch(std::string_view name);
// Throws Error("synth: unknown architecture \"x\" (valid: ...)") when there is no such arch.
const SynthArch& synth_arch(std::string_view name);
// "llama2-110m, qwen3-0.6b, ..." in table order.
std::string synth_arch_names();

// The arch's config with n_layers replaced (0: unchanged). Throws Error outside [0, 1024].
ModelConfig synth_config(const SynthArch& arch, int n_layers = 0);
// Parameters of a Llama-family config (embedding counted once when tied).
int64_t parameter_count(const ModelConfig& c);

}  // namespace verbatim::synth

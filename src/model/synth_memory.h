// A synthetic model (synth_model.h) built in memory instead of written to files: the demo's embedded default, which
// needs no download and no disk. Bitwise the model Model::load gives for the directory write_synth_model writes with
// the same (arch, seed, dtype, layers): the config comes from the same config.json / generation_config.json objects
// through the same parsers, and every tensor from the same Philox streams (tests/unit/synth_memory_test.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "model/model.h"
#include "model/synth_model.h"

namespace verbatim::synth {

struct SynthModelSpec {
  std::string arch = "qwen3-tiny";  // a name from synth_archs()
  uint64_t seed = 0;
  DType dtype = DType::BF16;
  int layers = 0;  // 0: the arch's own count
};

// The model, its tensors in buffers it owns (Model::storage). format = HfDirectory, path = "synth:<arch>:<seed>",
// tokenizer_path empty (the tokenizer's files come from synth_tokenizer_files). Throws Error for an unknown arch or
// a bad layer count.
std::unique_ptr<Model> make_synth_model(const SynthModelSpec& spec);

// The texts of the tokenizer.json / tokenizer_config.json the synth directory would hold, and the stop ids of its
// generation_config.json (which a tokenizer loaded from that directory adds as EOS ids).
struct SynthTokenizerTexts {
  SynthTokenizerFiles files;
  std::vector<int32_t> generation_eos_ids;
};
SynthTokenizerTexts synth_tokenizer_texts(const SynthModelSpec& spec);

}  // namespace verbatim::synth

// A model with its tokenizer, loaded from a path or built in memory (the demo's and the benchmark's embedded
// default: a seeded synthetic model of a real architecture, so that `verbatim demo` needs no download).
#pragma once

#include <memory>
#include <string>

#include "model/model.h"
#include "model/synth_memory.h"
#include "tokenizer/tokenizer.h"

namespace verbatim::app {

struct ModelBundle {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string description;  // one line for the console: "synthetic qwen3-tiny (seed 0, 5.3 M parameters, in memory)"
  bool synthetic = false;
};

// The embedded default of demo and bench.
inline constexpr const char* kDefaultSynthArch = "qwen3-tiny";

// A synthetic model and its tokenizer, in memory; bitwise what `verbatim synth` + Model::load give.
ModelBundle synth_bundle(const synth::SynthModelSpec& spec);

// Model::load(path) and its tokenizer (tokenizer_path, or the model's own). Throws Error when the model carries no
// tokenizer and none is named, or the vocabulary sizes differ.
ModelBundle load_bundle(const std::string& path, const std::string& tokenizer_path = "");

}  // namespace verbatim::app

// Offline batch generation: `verbatim generate --prompts-file F.jsonl` runs every request of the file together
// through the engine (continuous batching) and prints one JSON line per request, in input order.
#pragma once

#include <string>

#include "engine/engine.h"

namespace verbatim::cli {

struct BatchOptions {
  std::string model;
  std::string tokenizer;
  std::string prompts_file;
  EngineOptions engine;
};

int run_generate_batch(const BatchOptions& opt);

}  // namespace verbatim::cli

// The default model: SmolLM2-135M-Instruct (Q4_1 GGUF), fetched into the repository's models/ folder by
// scripts/setup.sh. `generate`, `serve` and `demo` use it when no --model is given.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/config.h"

namespace verbatim {

class Model;

inline constexpr const char* kDefaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf";

// The places the default model is looked for: $VERBATIM_MODELS_DIR/<file> alone when that variable is set and not
// empty (so that pointing it at a folder without the file means "no default model"); otherwise, in order,
// <source root>/models/<file> (the checkout this binary was built from), then models/<file> next to the executable
// and two levels up from it (build/bin/verbatim -> <repo>/models).
std::vector<std::string> default_model_candidates();

// The first candidate that is an existing regular file, or nullopt.
std::optional<std::string> default_model_path();

// The default model's path, or an Error that says where it was looked for and how to get it (scripts/setup.sh, or
// --model PATH). `flag` names the option the user could have given ("--model").
std::string require_default_model(const std::string& flag = "--model");
// The same over an explicit list of candidates (tests).
std::string require_default_model(const std::string& flag, const std::vector<std::string>& candidates);

// Whether `path` names the default model's file (by file name, wherever it lies).
bool is_default_model_file(const std::string& path);

// The default model's sampling defaults: greedy. The GGUF carries none; plain temperature-1 sampling makes this 135M
// 4-bit model ramble, and even its model card's temperature 0.2 / top-p 0.9 often derails a short answer whose first
// token is a near-tie (for "What is the capital of France?": "The" -1.88 vs "L" -1.96 in log-probability).
GenerationDefaults default_model_generation();
// Gives `model` those defaults when its file is the default model (by file name) and it has none of its own.
void apply_default_model_generation(Model& model);

}  // namespace verbatim

// The system fingerprint every response carries. It hashes everything a response's bits depend on:
//   weights    the bytes of the model files (weights, config.json, generation_config.json: every .safetensors and
//              .json file of a Hugging Face directory; the whole .gguf or llama2.c .bin file)
//   tokenizer  the bytes of the tokenizer files (tokenizer.json, tokenizer_config.json with its chat template, ...)
//   config     the model configuration as loaded (architecture, sizes, RoPE, EOS ids, sampling defaults)
//   build      the engine build: version, compiler and its version, build type and flags
//   kernels    the kernel configuration: the kernel path each op takes on this device, KV block size
//   device     the backend and its device architecture
//   mode       invariant or fast (fast also hashes the batch limits: its outputs depend on the batch)
// The promise (Mode::Invariant): two responses to the same request with the same fingerprint carry bitwise
// identical choices (text, token ids, logprobs, finish reasons), whatever the server's load was.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/engine.h"
#include "model/model.h"

namespace verbatim::server {

struct Fingerprint {
  std::string value;                         // "fp_" + 16 hex digits: the hash of all the parts below
  std::string weights, tokenizer, config;    // hex hashes
  std::string build, kernels, device, mode;  // the text that was hashed

  nlohmann::json to_json() const;                         // {"system_fingerprint", "weights", ...}
  static Fingerprint from_json(const nlohmann::json& j);  // throws Error naming a missing part
  // "" when equal; otherwise names the parts that differ ("weights, build").
  std::string differing_parts(const Fingerprint& other) const;
};

// The engine build: version, compiler, build type and flags (compiled into the server library).
std::string build_info();

// tokenizer_path: the tokenizer the server loaded (may be the model file itself, as for GGUF).
Fingerprint compute_fingerprint(const Model& model, const std::string& tokenizer_path, const Engine& engine);

}  // namespace verbatim::server

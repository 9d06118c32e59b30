// libFuzzer target: bytes -> JSON -> config_from_hf_json (and, with the same JSON, apply_hf_generation_config).
// Non-JSON input is skipped; verbatim::Error is the only clean rejection of JSON; anything else is a bug.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "model/config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    verbatim::ModelConfig c = verbatim::config_from_hf_json(j, "config.json");
    verbatim::apply_hf_generation_config(c, j, "generation_config.json");
  } catch (const verbatim::Error&) {
  }
  return 0;
}

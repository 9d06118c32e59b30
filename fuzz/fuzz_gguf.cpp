// libFuzzer target: bytes -> gguf::File::parse_memory. When it parses, every tensor's bytes are touched (ASan checks
// the bounds the parser promised), the typed accessors are exercised, and the model loader runs on it (config from
// metadata, tensor checks, Q/K permutation). verbatim::Error is the only clean rejection; anything else is a bug.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "formats/gguf.h"
#include "model/load_common.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<const verbatim::gguf::File> file;
  try {
    file = verbatim::gguf::File::parse_memory(data, size, "fuzz.gguf");
  } catch (const verbatim::Error&) {
    return 0;
  }
  unsigned sum = 0;
  for (const auto& t : file->tensors()) {
    auto bytes = file->tensor_data(t);
    if (bytes.size() != t.nbytes) std::abort();
    if (!bytes.empty()) sum += bytes.front() + bytes.back();
  }
  for (const auto& [key, value] : file->metadata()) {
    try {
      (void)file->find_int(key);
    } catch (const verbatim::Error&) {
    }
    try {
      (void)file->find_float(key);
    } catch (const verbatim::Error&) {
    }
    try {
      (void)file->find_string_array(key);
    } catch (const verbatim::Error&) {
    }
  }
  try {
    auto model = verbatim::detail::load_gguf(file);
    for (const auto& layer : model->weights.layers) sum += static_cast<const uint8_t*>(layer.wq.data)[0];
  } catch (const verbatim::Error&) {
  }
  volatile unsigned sink = sum;
  (void)sink;
  return 0;
}

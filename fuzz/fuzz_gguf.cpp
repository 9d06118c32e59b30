// libFuzzer target: bytes -> gguf::File::parse_memory. When it parses, every tensor's bytes are touched (ASan checks
// the bounds the parser promised), the typed accessors are exercised, and the model loader runs on it (config from
// metadata, tensor checks, dequantization of quantized tensors, Q/K permutation); every tensor of a type the
// dequantizer knows is also dequantized on its own. verbatim::Error is the only clean rejection; anything else is a
// bug.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "formats/gguf.h"
#include "formats/gguf_quant.h"
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
    if (verbatim::gguf::can_dequantize(t.type) && t.numel() <= (uint64_t{1} << 22)) {
      std::vector<float> out(static_cast<size_t>(t.numel()));
      try {
        verbatim::gguf::dequantize(t.type, bytes, out, "fuzz.gguf", 2);
      } catch (const verbatim::Error&) {
        std::abort();  // the parser checked the sizes: dequantization must accept them
      }
      if (!out.empty()) sum += static_cast<unsigned>(out.back() == 0.0f);
    }
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

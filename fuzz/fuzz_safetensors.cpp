// libFuzzer target: bytes -> safetensors::File::parse_memory. When it parses, every tensor's bytes are touched (ASan
// checks the bounds the parser promised). verbatim::Error is the only clean rejection; anything else is a bug.
#include <cstdint>
#include <cstdlib>

#include "formats/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = verbatim::safetensors::File::parse_memory(data, size, "fuzz.safetensors");
    unsigned sum = 0;
    for (const auto& t : file->tensors()) {
      if (file->find(t.name) == nullptr) std::abort();
      auto bytes = file->data(t);
      if (bytes.size() != t.end - t.begin) std::abort();
      if (!bytes.empty()) sum += bytes.front() + bytes.back();
    }
    volatile unsigned sink = sum;
    (void)sink;
  } catch (const verbatim::Error&) {
  }
  return 0;
}

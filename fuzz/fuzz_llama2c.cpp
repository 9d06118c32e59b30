// libFuzzer target: the same bytes as a llama2.c checkpoint (parsed, then loaded into a Model: Q/K permutation
// included) and as a llama2.c tokenizer file. verbatim::Error is the only clean rejection; anything else is a bug.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "formats/llama2c.h"
#include "model/load_common.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Checkpoints are read from a map, which is page-aligned: give the parser float-aligned bytes.
  std::vector<float> aligned(size / sizeof(float) + 1);
  if (size) std::memcpy(aligned.data(), data, size);
  const auto* bytes = reinterpret_cast<const uint8_t*>(aligned.data());
  unsigned sum = 0;
  try {
    std::shared_ptr<const verbatim::llama2c::Checkpoint> ck =
        verbatim::llama2c::Checkpoint::parse_memory(bytes, size, "fuzz.bin");
    const auto& w = ck->weights();
    for (auto span :
         {w.token_embedding, w.rms_att, w.wq, w.wk, w.wv, w.wo, w.rms_ffn, w.w1, w.w2, w.w3, w.rms_final, w.wcls})
      if (!span.empty()) sum += (span.front() != 0.0f) + (span.back() != 0.0f);
    auto model = verbatim::detail::load_llama2c(ck);
    sum += static_cast<unsigned>(model->weights.layers.size());
  } catch (const verbatim::Error&) {
  }
  try {
    auto tok = verbatim::llama2c::parse_tokenizer({data, size}, "fuzz-tok.bin");
    if (tok.pieces.size() != tok.scores.size()) std::abort();
    for (const auto& p : tok.pieces) sum += static_cast<unsigned>(p.size());
  } catch (const verbatim::Error&) {
  }
  volatile unsigned sink = sum;
  (void)sink;
  return 0;
}

// Test-side builder of ggml quantized blocks: pseudo-random logical content (quants, sub-block scales and mins, the
// f16 super-scales, with extremes forced in) packed into the bytes of the format, and the values the format's
// definition assigns them, computed here element by element from the logical content (not by the library's decoder).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace verbatim::testing {

struct QuantBlocks {
  std::string bytes;          // n_blocks blocks, back to back
  std::vector<float> values;  // what they decode to
};

// The ggml types make_quant_blocks builds: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
const std::vector<uint32_t>& quant_types();
const char* quant_type_name(uint32_t type);
int quant_block_elems(uint32_t type);

// `n_blocks` blocks of `type` from `seed`. The first block of every call holds the extremes of each field (quant 0
// and the largest quant, the smallest and largest sub-scales and mins, a negative super-scale); later blocks are
// random, with super-scales drawn from every finite f16 (subnormals and negatives included).
QuantBlocks make_quant_blocks(uint32_t type, size_t n_blocks, uint32_t seed);

struct TinyModel;
// Gives every 2-D weight of `m` (embedding, projections, lm_head) quantized content: the i-th such tensor gets type
// types[i % types.size()], its blocks go to m.gguf_blocks and its HF values become what they decode to. Every row
// length must be a multiple of the types' block sizes.
void quantize_tiny(TinyModel& m, const std::vector<uint32_t>& types, uint32_t seed = 1);

}  // namespace verbatim::testing

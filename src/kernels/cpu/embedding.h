// Embedding lookup: copies rows of a [vocab, dim] table (F32/F16/BF16) into fp32.
#pragma once

#include <cstdint>

#include "util/dtype.h"

namespace verbatim::kernels::cpu {

struct EmbeddingParams {
  int64_t vocab = 0;  // rows of the table
  int64_t dim = 0;    // columns of the table
};

// out[t, :] = table[tokens[t], :] converted exactly to fp32.
// table: [vocab, dim] stored as `dtype`; tokens: [n_tokens], each in [0, vocab); out: [n_tokens, dim].
void embedding(const void* table, DType dtype, const int32_t* tokens, int64_t n_tokens, float* out,
               const EmbeddingParams& p);

}  // namespace verbatim::kernels::cpu

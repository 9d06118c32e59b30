// CUDA embedding lookup: out[r, :] = float(table[tokens[r], :]) for a bf16 table (exact). CPU reference:
// kernels/cpu/embedding.h.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

struct EmbeddingParams {
  int64_t vocab = 0;  // rows of the table
  int64_t dim = 0;    // columns
};

// table: [vocab, dim] bf16; tokens: [n_rows] device, each in [0, vocab) (a token outside gives a row of zeros);
// out: [n_rows, dim] fp32.
void embedding(const void* table, const int32_t* tokens, int64_t n_rows, float* out, const EmbeddingParams& p,
               cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

// CUDA row gather: out[i] = x[rows[i]] for rows of `row_bytes` bytes (a multiple of 4). A copy, no arithmetic.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

// rows: [n] device indices into x; x: [*, row_bytes]; out: [n, row_bytes].
void gather_rows(const void* x, const int32_t* rows, int64_t n, int64_t row_bytes, void* out, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

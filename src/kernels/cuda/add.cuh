// CUDA elementwise adds (CPU reference: kernels/cpu/add.h): the residual add and the bias add (Qwen2's q/k/v
// biases). No reduction.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

// residual[i] += x[i], fp32, n elements.
void add_inplace(float* residual, const float* x, int64_t n, cudaStream_t stream);

// y[r, j] += float(bias[j]) for r < rows, j < cols. y fp32 [rows, cols]; bias bf16 [cols].
void add_bias(float* y, const void* bias, int64_t rows, int64_t cols, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

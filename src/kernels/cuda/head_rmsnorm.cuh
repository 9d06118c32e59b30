// CUDA per-head RMSNorm in place (Qwen3's q_norm / k_norm): every head of head_dim values in each row is normed
// with the same weight [head_dim]. One warp per (row, head); each lane sums its strided elements in increasing order,
// then the warp butterfly of reduce.cuh: one order fixed by head_dim. CPU reference: kernels/cpu/rmsnorm.h applied to
// rows * heads rows of head_dim.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

struct HeadRmsNormParams {
  int64_t n_heads = 0;   // heads per row
  int64_t head_dim = 0;  // the weight's length
  float eps = 1e-6f;
};

// x: [rows, n_heads * head_dim] fp32, in place; w: [head_dim] bf16.
void head_rmsnorm(float* x, const void* w, int64_t rows, const HeadRmsNormParams& p, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

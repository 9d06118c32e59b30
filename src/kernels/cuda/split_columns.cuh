// CUDA column split: the output of one GEMM over stacked weights ([rows, total] fp32) copied into the per-weight
// outputs, each part's bias (bf16, optional) added in fp32 as the plain matmul + add_bias does (kernels/cpu/add.h).
// Elementwise: no reduction. With a row scale (rms_prep.cuh) each value is first multiplied by its row's inv_rms.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/rms_prep.cuh"

namespace verbatim::cuda_kernels {

struct SplitColumnsParams {
  static constexpr int kMaxParts = 4;
  int n_parts = 0;
  int64_t total = 0;                 // columns of the input (the sum of cols)
  int64_t cols[kMaxParts] = {};      // columns of each part, in order
  float* out[kMaxParts] = {};        // [rows, cols[i]] each
  const void* bias[kMaxParts] = {};  // [cols[i]] bf16 or null
};

void split_columns(const float* in, int64_t rows, const SplitColumnsParams& p, cudaStream_t stream,
                   const RowScale& scale = {});

}  // namespace verbatim::cuda_kernels

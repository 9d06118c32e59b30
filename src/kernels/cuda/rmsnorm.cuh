// CUDA RMSNorm, optionally fused with the residual add before it. One block of 8 warps per row; the sum of squares runs
// in fp32 in the order of row_math.cuh (the plain norm's; the scaled norm is rms_prep.cuh): one order
// per row, fixed by the row width alone. CPU references: kernels/cpu/rmsnorm.h, kernels/cpu/add_rmsnorm.h (same
// expressions: inv = 1 / sqrt(ss / n + eps), y = w * (x * inv)).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "util/dtype.h"

namespace verbatim::cuda_kernels {

struct RmsNormParams {
  int64_t n = 0;  // row width
  float eps = 1e-5f;
};

// residual == nullptr: out[r] = rmsnorm(x[r]) * w. Otherwise residual[r] += x[r] first and the norm is of the new
// residual[r]. x, residual: [rows, n] fp32; w: [n] bf16; out: [rows, n] of out_dtype (F32 or BF16).
void add_rmsnorm(float* residual, const float* x, const void* w, void* out, DType out_dtype, int64_t rows,
                 const RmsNormParams& p, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

// Linear layer without bias: y[i, j] = sum_t x[i, t] * W[j, t], W stored [n, k] (out_features, in_features) as
// F32/F16/BF16. The reference: one fp32 accumulator per output, starting at +0, then acc = fma(x[i, t], W[j, t], acc)
// (std::fma: the exact product added with one rounding) for t = 0, 1, ..., k - 1. Weights convert exactly, so bf16/f16
// W gives the same bits as the same W pre-converted to f32. m = 1 is the matrix-vector product of decoding.
// (Every other multiply-add of the kernels is a rounded multiply then a rounded add: the build uses
// -ffp-contract=off, so only an explicit fma fuses.)
#pragma once

#include <cstdint>

#include "util/dtype.h"

namespace verbatim::kernels::cpu {

struct MatmulParams {
  int64_t m = 0;  // rows of x and y (tokens)
  int64_t n = 0;  // output features: rows of W
  int64_t k = 0;  // input features: columns of x and W
};

// x: [m, k] fp32; w: [n, k] as `w_dtype`; y: [m, n] fp32 (must not alias x).
void matmul(const float* x, const void* w, DType w_dtype, float* y, const MatmulParams& p);

}  // namespace verbatim::kernels::cpu

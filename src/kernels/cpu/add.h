// Elementwise additions of the forward pass: the linear-layer bias (Qwen2's q/k/v) and the residual stream.
#pragma once

#include <cstdint>

#include "util/dtype.h"

namespace verbatim::kernels::cpu {

// y[i, j] += bias[j] for i < rows, j < n. y: [rows, n] fp32; bias: [n] as `bias_dtype`. Adding the bias after the
// matmul gives the same bits as starting from the finished sum: (sum) + b in fp32 either way.
void add_bias(float* y, const void* bias, DType bias_dtype, int64_t rows, int64_t n);

// x[i] += y[i] for i < n (the residual connection). x, y: [n] fp32.
void add_inplace(float* x, const float* y, int64_t n);

}  // namespace verbatim::kernels::cpu

// The residual add fused into the next RMSNorm: residual[r] += x[r]; y[r] = rmsnorm(residual[r]) * w, for many rows
// on many threads. Bitwise what kernels/cpu/add.h add_inplace followed by kernels/cpu/rmsnorm.h computes (same
// expressions, same sequential sum of squares), in one pass over each row while it is in L1.
#pragma once

#include <cstdint>

#include "kernels/cpu/rmsnorm.h"
#include "util/dtype.h"

namespace verbatim::kernels::cpu {

// residual, x, y: [rows, p.n] (y must not alias residual or x); w: [p.n] as `w_dtype`. Threads split rows.
void add_rmsnorm(float* residual, const float* x, const void* w, DType w_dtype, float* y, int64_t rows,
                 const RmsNormParams& p, int threads);

}  // namespace verbatim::kernels::cpu

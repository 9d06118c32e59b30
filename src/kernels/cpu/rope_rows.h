// RoPE for a step's rows: bitwise what kernels/cpu/rope.h computes (angle = float(pos) * inv_freq[i], cosf, sinf, the
// same rotation expressions), but with each row's cos/sin computed once and applied to all of its heads, and rows
// split over threads.
#pragma once

#include <cstdint>

#include "kernels/cpu/rope.h"

namespace verbatim::kernels::cpu {

// x: [n_rows, n_heads * head_dim] rotated in place; positions: [n_rows] (>= 0); inv_freq: [head_dim / 2].
void rope_rows(float* x, const int32_t* positions, int64_t n_rows, const float* inv_freq, const RopeParams& p,
               int threads);

}  // namespace verbatim::kernels::cpu

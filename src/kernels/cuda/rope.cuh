// CUDA rotary position embedding in place, the "rotate halves" convention (kernels/cpu/rope.h, the CPU reference
// kernels/cpu/rope_rows.h): angle = float(pos) * inv_freq[i], then cosf / sinf (CUDA's, within 2 ulp of the CPU's),
//   out[i] = x[i] * c - x[i + d/2] * s,   out[i + d/2] = x[i + d/2] * c + x[i] * s.
// One thread per (row, head, pair): no reduction.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

struct RopeParams {
  int n_heads = 0;
  int head_dim = 0;  // even
};

// x: [rows, n_heads * head_dim] fp32, rotated in place; positions: [rows] device; inv_freq: [head_dim / 2] device
// fp32. copy_bf16 (optional, [rows, n_heads * head_dim] bf16): also receives the rotated values rounded to bf16 (the
// attention kernel's query input), saving a conversion pass.
void rope(float* x, const int32_t* positions, int64_t rows, const float* inv_freq, const RopeParams& p, void* copy_bf16,
          cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

// The arithmetic of RMSNorm and SwiGLU, written once for every kernel that computes them: the standalone kernels
// (rmsnorm.cu, swiglu.cu) and the fused prologue and epilogues of the small-M GEMM (gemm_small_m.cu). A fused kernel
// and the standalone kernel it replaces must give the same bits, so that which of them a step runs (it follows the
// GEMM's M bucket) never shows in any output: both call these functions, whose every operation is an explicitly
// rounded intrinsic (no contraction into FMAs the compiler might choose differently in two places).
//
// RMSNorm of a row of n fp32 values: the row is read as 4-element groups; group g belongs to lane g % 32 and chain
// (g / 32) % 8 of that lane. Each of the 256 (lane, chain) pairs accumulates v * v over its groups in increasing g with
// fused multiply-adds; a lane's partial is then chain 0 + chain 1 + ... + chain 7 in that order, plus (where n % 4 !=
// 0) the square of the tail element 4 (n / 4) + lane for lanes < n % 4; the 32 partials go through the butterfly of
// reduce.cuh. One order per row, fixed by n alone, and computable alike by one warp (each lane runs its 8 chains: 8
// independent accumulators) or by 8 warps (warp w runs chain w of every lane), as the standalone kernel does.
// inv = 1 / sqrt(ss / n + eps); y = w * (x * inv) (kernels/cpu/rmsnorm.h's expressions). Device code only.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/reduce.cuh"

namespace verbatim::cuda_kernels::detail {

// Whether a row of n floats at `row` can be read as float4 groups.
__device__ __forceinline__ bool row_vec4(const float* row, int64_t n) {
  return n % 4 == 0 && reinterpret_cast<uintptr_t>(row) % 16 == 0;
}

__device__ __forceinline__ float4 load_group(const float* row, int64_t g, bool vec4) {
  if (vec4) return reinterpret_cast<const float4*>(row)[g];
  return make_float4(row[4 * g], row[4 * g + 1], row[4 * g + 2], row[4 * g + 3]);
}

__device__ __forceinline__ float sumsq_group(float ss, float4 v) {
  ss = __fmaf_rn(v.x, v.x, ss);
  ss = __fmaf_rn(v.y, v.y, ss);
  ss = __fmaf_rn(v.z, v.z, ss);
  return __fmaf_rn(v.w, v.w, ss);
}

// 1 / sqrt(ss / n + eps) from the warp total of the sums of squares.
__device__ __forceinline__ float inv_rms(float ss_total, int64_t n, float eps) {
  return __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss_total, static_cast<float>(n)), eps)));
}

inline constexpr int kRmsChains = 8;

// Chain c of `lane`: the sum of squares over groups g = lane + 32 c + 256 j, j = 0, 1, ... (vec4: float4 loads).
__device__ __forceinline__ float rms_chain(const float* row, int64_t groups, bool vec4, int lane, int c) {
  float ss = 0.0f;
#pragma unroll 4
  for (int64_t g = lane + 32 * c; g < groups; g += 32 * kRmsChains) ss = sumsq_group(ss, load_group(row, g, vec4));
  return ss;
}

// A lane's partial from its chains' sums (chain 0 first) and the tail.
__device__ __forceinline__ float rms_lane_partial(const float (&chain)[kRmsChains], const float* row, int64_t n,
                                                  int lane) {
  float p = chain[0];
#pragma unroll
  for (int c = 1; c < kRmsChains; ++c) p = __fadd_rn(p, chain[c]);
  if (lane < n % 4) {
    const float v = row[4 * (n / 4) + lane];
    p = __fmaf_rn(v, v, p);
  }
  return p;
}

// The row's inv_rms by one warp, returned to every lane (all 32 lanes call it). The 8 chains of a lane advance
// together, so that 8 (x 4, unrolled) loads are in flight per lane.
__device__ __forceinline__ float warp_row_inv_rms(const float* row, int64_t n, float eps, int lane) {
  const bool vec4 = row_vec4(row, n);
  const int64_t groups = n / 4;
  float chain[kRmsChains];
#pragma unroll
  for (int c = 0; c < kRmsChains; ++c) chain[c] = 0.0f;
#pragma unroll 2
  for (int64_t g0 = lane; g0 < groups; g0 += 32 * kRmsChains) {
    float4 v[kRmsChains];
#pragma unroll
    for (int c = 0; c < kRmsChains; ++c)
      v[c] = g0 + 32 * c < groups ? load_group(row, g0 + 32 * c, vec4) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
    for (int c = 0; c < kRmsChains; ++c)
      if (g0 + 32 * c < groups) chain[c] = sumsq_group(chain[c], v[c]);
  }
  return inv_rms(warp_sum(rms_lane_partial(chain, row, n, lane)), n, eps);
}

// One normed element: w * (x * inv).
__device__ __forceinline__ float rms_apply(float x, float inv, float w) {
  return __fmul_rn(w, __fmul_rn(x, inv));
}

// SwiGLU of one element: (g / (1 + expf(-g))) * u (kernels/cpu/swiglu.h's expression).
__device__ __forceinline__ float swiglu_one(float g, float u) {
  return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
}

}  // namespace verbatim::cuda_kernels::detail

// The arithmetic of RMSNorm and SwiGLU, written once for every kernel that computes them: the standalone kernels
// (rmsnorm.cu, rms_prep.cu, swiglu.cu, split_columns.cu, attention_inputs) and the fused epilogues of the small-M GEMM
// (gemm_small_m.cu). A fused kernel and the standalone kernel it replaces must give the same bits, so that which of
// them a step runs (it follows the GEMM's M bucket) never shows in any output: both call these functions, whose every
// operation is an explicitly rounded intrinsic (no contraction into FMAs the compiler might choose differently in two
// places).
//
// The plain RMSNorm of a row of n fp32 values (add_rmsnorm, rmsnorm.cu): the row is read as 4-element groups; group g
// belongs to lane g % 32 and chain (g / 32) % 8 of that lane. Each of the 256 (lane, chain) pairs accumulates v * v
// over its groups in increasing g with fused multiply-adds; a lane's partial is then chain 0 + chain 1 + ... + chain 7
// in that order, plus (where n % 4 != 0) the square of the tail element 4 (n / 4) + lane for lanes < n % 4; the 32
// partials go through the butterfly of reduce.cuh: one order per row, fixed by n alone (warp w of the kernel runs
// chain w of every lane). inv = 1 / sqrt(ss / n + eps); y = w * (x * inv) (kernels/cpu/rmsnorm.h's expressions).
// The scaled RMSNorm (below) has its own order, fixed by n alone too. Device code only.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/rms_prep.cuh"

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

// One normed element: w * (x * inv).
__device__ __forceinline__ float rms_apply(float x, float inv, float w) {
  return __fmul_rn(w, __fmul_rn(x, inv));
}

// The "scaled" RMSNorm of a GEMM's input (the backend's invariant decode path, docs/architecture.md): instead of
// X = bf16(w * (h * inv)), the normed row's consumer GEMM reads U = bf16(w * h) and its output is multiplied by the
// row's inv afterwards (fp32, one rounding: y = acc * inv), so that no kernel has to finish the row's sum of squares
// before the GEMM starts. The sum of squares is fixed by n alone (n % 16 == 0): the row's 16-column tiles t each give
// a partial from the 8 pairs (h[16t + g], h[16t + g + 8]), g = 0..7: a_g = fma(h1, h1, h0 * h0), combined by the
// butterfly over g (partner g ^ 4, then g ^ 2, then g ^ 1); inv comes from those partials: lane l of one warp adds
// tiles l, l + 32, ... in increasing order from +0, then the warp butterfly of reduce.cuh, then inv_rms. The small-M
// GEMM's residual epilogue computes the partial of its CTA's 16 columns (gemm_small_m.cu), the standalone rms_prep
// kernel the same for whole rows (rms_prep.cuh, which defines kNormTile = 16).
// A pair's contribution to its tile's partial.
__device__ __forceinline__ float tile_pair_sq(float h0, float h1) {
  return __fmaf_rn(h1, h1, __fmul_rn(h0, h0));
}

// The tile partial from each lane's pair contribution, where g (the pair) is lane bits b0 + 2, b0 + 1, b0 (so that
// partner g ^ 4 is lane ^ (4 << b0)): every lane of the 8 ends with the same bits.
template <int kG0>
__device__ __forceinline__ float tile_butterfly(float a) {
  a = __fadd_rn(a, __shfl_xor_sync(0xffffffffu, a, 4 << kG0));
  a = __fadd_rn(a, __shfl_xor_sync(0xffffffffu, a, 2 << kG0));
  return __fadd_rn(a, __shfl_xor_sync(0xffffffffu, a, 1 << kG0));
}

// inv from a row's tile partials (tiles = n / 16), returned to every lane (all 32 lanes call it).
__device__ __forceinline__ float inv_from_tiles(const float* ss, int64_t n, float eps, int lane) {
  float s = 0.0f;
  for (int64_t t = lane; t < n / kNormTile; t += 32) s = __fadd_rn(s, ss[t]);
  return inv_rms(warp_sum(s), n, eps);
}

// The same with the lane's partials already loaded (pre[u] = ss[lane + 32 u], zero past the row's tiles).
template <int kPre>
__device__ __forceinline__ float inv_from_loaded_tiles(const float (&pre)[kPre], int64_t n, float eps, int lane) {
  float s = 0.0f;
#pragma unroll
  for (int u = 0; u < kPre; ++u)
    if (lane + 32 * u < n / kNormTile) s = __fadd_rn(s, pre[u]);
  return inv_rms(warp_sum(s), n, eps);
}

// The same for a whole block, for row r of a RowScale (rms_prep.cuh): warp 0 computes it, a barrier publishes it in
// `*shared`. Every thread of the block calls it.
__device__ __forceinline__ float block_row_inv(const RowScale& s, int64_t r, float* shared) {
  if (threadIdx.x < 32) {
    const float v = inv_from_tiles(s.ss + r * (s.n / kNormTile), s.n, s.eps, static_cast<int>(threadIdx.x));
    if (threadIdx.x == 0) *shared = v;
  }
  __syncthreads();
  return *shared;
}

// SwiGLU of one element: (g / (1 + expf(-g))) * u (kernels/cpu/swiglu.h's expression).
__device__ __forceinline__ float swiglu_one(float g, float u) {
  return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
}

}  // namespace verbatim::cuda_kernels::detail

// A GEMM for few rows (decode): Y[M, N] = X[M, K] · W[N, K]^T, bf16 X and W, fp32 accumulation, bf16 or fp32 Y,
// M <= kSmallMMaxM. Memory-bound at these M: it streams W once at close to the copy rate.
//
// The arithmetic of every output y[i, j] is fixed by K alone: one fp32 accumulator starting at +0, then, for the
// 16-wide chunks c = 0, 1, ..., K/16 - 1 in increasing order, acc = mma(W[j, 16c .. 16c + 15], X[i, 16c .. 16c + 15],
// acc) — one bf16 tensor-core mma.sync m16n8k16 step with fp32 accumulation (W rows are the mma's A rows, X rows its B
// columns, "swap AB"). Which rows share an mma, how many rows M has and which CTA computes a tile do not enter an
// output's bits. This is also the order cuBLASLt's split-K-free kernels use (each output a chain of k16 mma steps in
// increasing k), which is why the backend's GEMM (backend/cuda/gemm.h) can offer this kernel as one more candidate
// for its small-M buckets: it verifies the bits against its cuBLASLt reference rows at start-up and uses the kernel
// only where they are equal.
//
// Fusions (a decode step's short kernels folded into the GEMMs around them, each bit for bit the standalone kernel it
// replaces: both use kernels/cuda/row_math.cuh, and tests/cuda/gemm_fused_test.cu and norm_prep_test.cu compare them):
//  - residual epilogue (residual): y (fp32) is stored and also added to residual[m, n] (fp32, residual + y): the add
//    of add_rmsnorm ahead of a plain norm;
//  - prep (prep_out, with residual): the residual epilogue, and instead of y the next norm's "scaled" input
//    (row_math.cuh, kNormTile): prep_out[m, n] = bf16(prep_w * residual) and the 16-column tile partial of the CTA's
//    columns into prep_ss[m, n / 16] — rms_prep (rms_prep.cuh) bit for bit, so that the add_rmsnorm disappears;
//  - row scale (row_ss, with swiglu_out): the gate and up accumulators are first multiplied by the row's inv_rms from
//    the tile partials row_ss[m, row_n / 16] (the consumer side of the scaled norm; swiglu_rows' row scale);
//  - SwiGLU epilogue (swiglu_out): W is a stacked [gate; up] matrix of n = 2 h rows; each CTA computes 16 gate rows and
//    the 16 matching up rows and stores swiglu_out[m, h] = bf16(silu(gate) * up) (swiglu.cuh's arithmetic); y is not
//    written.
// Fused variants need K % 64 == 0; residual + SwiGLU is not offered.
//
// Work split: one warp (one CTA) per 16 rows of W (SwiGLU: per 16 gate and 16 up rows), streaming them over K through a
// ring of tensor-copied stages in shared memory; no split over K. Launched as a programmatic dependent (pdl.cuh): it
// streams its first weight stages while the kernel ahead of it finishes. At M = 1 the stages hold X's one row only
// (not an 8-row box), which leaves room for a deeper ring, so that more of W is on its way before the kernel ahead
// ends (4 stages, or 6 where the grid fits two CTAs per SM; docs/performance.md: +3.3% batch-1 decode on an H200).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

inline constexpr int64_t kSmallMMaxM = 32;
inline constexpr int64_t kRowScaleMaxN = 8192;  // the row scale's partials are loaded into registers (16 per lane)

struct SmallMGemmParams {
  const void* x = nullptr;  // [m, k] bf16, row stride k
  const void* w = nullptr;  // [n, k] bf16, row stride k
  void* y = nullptr;        // [m, n], bf16 or fp32 (out_f32), row stride n (not written with swiglu_out)
  int64_t m = 0, n = 0, k = 0;
  bool out_f32 = false;
  float* residual = nullptr;   // residual epilogue: residual[m, n] += y (needs out_f32)
  void* swiglu_out = nullptr;  // SwiGLU epilogue: [m, n / 2] bf16
  // Prep (with residual; y is then not written): prep_out [m, n] bf16 = bf16(prep_w * residual), prep_ss [m, n / 16].
  const void* prep_w = nullptr;
  void* prep_out = nullptr;
  float* prep_ss = nullptr;
  // Row scale (with swiglu_out): inv_rms of the input row from row_ss [m, row_n / 16], eps row_eps.
  const float* row_ss = nullptr;
  int64_t row_n = 0;
  float row_eps = 0.0f;
};

// Whether the kernel serves this shape and fusion: 1 <= m <= kSmallMMaxM, n >= 1, k a positive multiple of 16 (of 64
// when fused), the pointers it uses 16-byte aligned; residual with out_f32 and without swiglu_out; swiglu_out with n a
// multiple of 32; prep_out with residual, prep_w, prep_ss and n a multiple of 16; row_ss with swiglu_out and row_n a
// positive multiple of 16 of at most kRowScaleMaxN.
bool gemm_small_m_supported(const SmallMGemmParams& p);

// Lets the kernels use the shared memory they need (over the default 48 KiB): once per device (and process) before
// the first gemm_small_m, outside any stream capture. Idempotent. Throws Error if the device refuses.
void gemm_small_m_prepare();

// Enqueues the GEMM on `stream` (launch errors are left to the caller's cudaGetLastError check). Throws Error
// (util/error.h) on an unsupported shape or a launch failure.
void gemm_small_m(const SmallMGemmParams& p, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

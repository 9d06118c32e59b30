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
// Work split: one warp (one CTA) per 16 rows of W, streaming them over K through a ring of tensor-copied stages in
// shared memory; no split over K. Launched as a programmatic dependent (pdl.cuh): it streams its first weight stages
// while the kernel ahead of it finishes.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

inline constexpr int64_t kSmallMMaxM = 32;

struct SmallMGemmParams {
  const void* x = nullptr;  // [m, k] bf16, row stride k
  const void* w = nullptr;  // [n, k] bf16, row stride k
  void* y = nullptr;        // [m, n], bf16 or fp32 (out_f32), row stride n
  int64_t m = 0, n = 0, k = 0;
  bool out_f32 = false;
};

// Whether the kernel serves this shape: 1 <= m <= kSmallMMaxM, n >= 1, k a positive multiple of 16, and x, w, y
// 16-byte aligned.
bool gemm_small_m_supported(const SmallMGemmParams& p);

// Lets the kernels use the shared memory they need (over the default 48 KiB): once per device (and process) before
// the first gemm_small_m, outside any stream capture. Idempotent. Throws Error if the device refuses.
void gemm_small_m_prepare();

// Enqueues the GEMM on `stream` (launch errors are left to the caller's cudaGetLastError check). Throws Error
// (util/error.h) on an unsupported shape or a launch failure.
void gemm_small_m(const SmallMGemmParams& p, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

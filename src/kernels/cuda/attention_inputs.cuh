// CUDA attention inputs in one pass (the ops head_rmsnorm, rope and kv_write of one layer fused): for each row, each
// query head is (optionally) RMS-normed with q_norm, rotated (RoPE at the row's position) and written as bf16 (the
// attention kernel's query) and fp32; each KV head's K is normed with k_norm, rotated and written to the paged cache
// as bf16, and V is written to the cache as bf16. Inputs are fp32 rows at any row stride with an optional bf16 bias
// per part (so they can be read straight from a stacked q/k/v GEMM output).
// One warp per (row, head); the norm's sum of squares: each lane over its elements {i, i + d/2 : i = lane + 32 j}
// in increasing j, then the warp butterfly (reduce.cuh): one order fixed by head_dim. RoPE as kernels/cuda/rope.cuh.
// With a row scale (rms_prep.cuh: the q/k/v GEMM's input was a scaled norm's) every q/k/v value is first multiplied by
// its row's inv_rms (each warp computes its row's from the tile partials).
// CPU references: kernels/cpu/rmsnorm.h, kernels/cpu/rope_rows.h, the bf16 rounding of the cache.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/rms_prep.cuh"

namespace verbatim::cuda_kernels {

struct AttentionInputsParams {
  const float* q = nullptr;  // [rows, q_ld] fp32, the first n_heads * head_dim columns
  const float* k = nullptr;  // [rows, k_ld]
  const float* v = nullptr;  // [rows, v_ld]
  int64_t q_ld = 0, k_ld = 0, v_ld = 0;
  const void* q_bias = nullptr;  // bf16 [n_heads * head_dim] or null (likewise k_bias, v_bias)
  const void* k_bias = nullptr;
  const void* v_bias = nullptr;
  const void* q_norm = nullptr;  // bf16 [head_dim] or null: no q/k norm
  const void* k_norm = nullptr;
  float eps = 1e-6f;
  const float* inv_freq = nullptr;     // [head_dim / 2] device
  const int32_t* positions = nullptr;  // [rows] device
  const int32_t* row_block = nullptr;  // [rows] device: the cache block of the row's position
  int n_heads = 0, n_kv_heads = 0, head_dim = 0, block_size = 0;
  float* q_out = nullptr;   // [rows, n_heads * head_dim] fp32 (may equal q when q_ld is its width and no bias)
  void* q_bf16 = nullptr;   // [rows, n_heads * head_dim] bf16
  void* k_cache = nullptr;  // this layer's caches: [num_blocks, n_kv_heads, block_size, head_dim] bf16
  void* v_cache = nullptr;
  RowScale scale;  // of the q/k/v rows (before the bias), or none
};

void attention_inputs(const AttentionInputsParams& p, int64_t rows, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

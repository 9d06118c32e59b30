// Internals of the paged-attention kernels (paged_attention.cuh): the launch arguments, the kernel choice, and the
// device helpers the two kernels share. Not for other callers.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/paged_attention.cuh"

namespace verbatim::cuda_kernels::detail {

constexpr int kThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

struct Args {
  PagedAttentionParams p;
  int group;      // query heads per KV head (G)
  int hg;         // query heads per CTA head group
  int n_hgroups;  // ceil(G / hg)
  int rows_per_cta;
  float scale_log2;          // scale * log2(e)
  float* ws_ml;              // [n_rows][n_heads][max_splits][2]
  float* ws_acc;             // [n_rows][n_heads][max_splits][head_dim]
  bool fused;                // paged_attention_with_inputs: the tensor-core kernel computes `in` first
  AttentionInputsParams in;  // (fused only)
};

__device__ __forceinline__ void cp_async16(void* smem_dst, const void* gsrc, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
  const int sz = valid ? 16 : 0;  // 0: zero-fill, nothing read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gsrc), "r"(sz) : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Two bf16 (low, high) of a 32-bit word to fp32, exactly.
__device__ __forceinline__ float bf_lo(uint32_t w) {
  return __uint_as_float(w << 16);
}
__device__ __forceinline__ float bf_hi(uint32_t w) {
  return __uint_as_float(w & 0xFFFF0000u);
}

__host__ __device__ constexpr size_t align16(size_t x) {
  return (x + 15) / 16 * 16;
}

using KernelFn = void (*)(Args);

// A kernel for a launch: the function, its dynamic shared memory, the query vectors (row, head pairs) one CTA holds.
struct KernelChoice {
  KernelFn fn = nullptr;
  size_t smem = 0;
  int qvmax = 0;
};

// The tensor-core kernel (paged_attention_mma.cu): head_dim 64, 128, 256. decode: the one-row-per-CTA shape.
KernelChoice mma_kernel(int head_dim, bool decode);
// The CUDA-core kernel (paged_attention_fma.cu): any other head_dim (multiple of 8 up to 256).
KernelChoice fma_kernel(int head_dim, bool decode);
bool mma_supported(int head_dim);

}  // namespace verbatim::cuda_kernels::detail

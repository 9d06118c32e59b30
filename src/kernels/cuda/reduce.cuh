// Device helpers for the CUDA kernels: bf16/fp32 loads and stores, and block reductions with ONE fixed order.
//
// Every reduction here is a butterfly (xor shuffle) within each warp, then the same butterfly over the warp totals:
// the order depends only on the block size (a compile-time constant of each kernel) and on which elements each
// thread holds — never on the data, the grid or the number of rows. Partner lanes compute a + b and b + a, equal in
// IEEE arithmetic, so every lane ends with the same bits. No atomics. Device code only (included by .cu files).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace verbatim::cuda_kernels::detail {

__device__ __forceinline__ float load_f(const float* p, int64_t i) {
  return p[i];
}
__device__ __forceinline__ float load_f(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}
__device__ __forceinline__ void store_f(float* p, int64_t i, float v) {
  p[i] = v;
}
__device__ __forceinline__ void store_f(__nv_bfloat16* p, int64_t i, float v) {
  p[i] = __float2bfloat16_rn(v);
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The sum of v over the block's kThreads threads, returned to every thread. `shared` holds 32 T; the call begins
// and ends with a barrier, so the same buffer can be reused by consecutive calls.
template <int kThreads, typename T>
__device__ __forceinline__ T block_sum(T v, T* shared) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "whole warps");
  constexpr int kWarps = kThreads / 32;
  v = warp_sum(v);
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T t = lane < kWarps ? shared[lane] : T(0);
  t = warp_sum(t);
  __syncthreads();
  return t;
}

template <int kThreads, typename T>
__device__ __forceinline__ T block_max(T v, T* shared, T lowest) {
  constexpr int kWarps = kThreads / 32;
  v = warp_max(v);
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  T t = lane < kWarps ? shared[lane] : lowest;
  t = warp_max(t);
  __syncthreads();
  return t;
}

}  // namespace verbatim::cuda_kernels::detail

#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kMaxPairsPerLane = 4;  // head_dim <= 256

__device__ __forceinline__ float bias_at(const void* b, int64_t i) {
  return b == nullptr ? 0.0f : __bfloat162float(static_cast<const __nv_bfloat16*>(b)[i]);
}

__global__ void attention_inputs_kernel(AttentionInputsParams p, int64_t rows) {
  // pdl.cuh: the next kernel may start. Before pdl_wait this kernel reads only what no kernel writes (the step plan's
  // positions and blocks, the norm weights, inv_freq) and computes the rotation from them, so the kernel ahead (the
  // q/k/v GEMM) hides that latency; the same operations as after the wait, so the same bits.
  pdl_allow_dependents();
  const int heads = p.n_heads + 2 * p.n_kv_heads;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (item >= rows * heads) {  // whole warps leave together
    pdl_wait();
    return;
  }
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t r = item / heads;
  const int h = static_cast<int>(item % heads);
  const int d = p.head_dim, half = d / 2;
  const int32_t position = p.positions[r];
  const int64_t slot = position % p.block_size;
  const int64_t block = p.row_block[r];
  const bool is_v = h >= p.n_heads + p.n_kv_heads;
  const bool is_q = h < p.n_heads;
  const void* norm = is_q ? p.q_norm : p.k_norm;
  float wa[kMaxPairsPerLane], wb[kMaxPairsPerLane], cs[kMaxPairsPerLane], sn[kMaxPairsPerLane];
  if (!is_v) {
    const float pos = static_cast<float>(position);
#pragma unroll
    for (int j = 0; j < kMaxPairsPerLane; ++j) {
      const int i = lane + 32 * j;
      wa[j] = wb[j] = 0.0f;
      cs[j] = sn[j] = 0.0f;
      if (i >= half) continue;
      if (norm != nullptr) {
        wa[j] = __bfloat162float(static_cast<const __nv_bfloat16*>(norm)[i]);
        wb[j] = __bfloat162float(static_cast<const __nv_bfloat16*>(norm)[i + half]);
      }
      const float angle = pos * p.inv_freq[i];
      cs[j] = cosf(angle);
      sn[j] = sinf(angle);
    }
  }
  pdl_wait();  // the q/k/v rows and the caches: everything the kernels ahead wrote is visible now
  if (is_v) {  // V: copy to the cache
    const int kh = h - p.n_heads - p.n_kv_heads;
    const float* src = p.v + r * p.v_ld + static_cast<int64_t>(kh) * d;
    __nv_bfloat16* dst =
        static_cast<__nv_bfloat16*>(p.v_cache) + ((block * p.n_kv_heads + kh) * p.block_size + slot) * d;
    for (int i = lane; i < d; i += 32) dst[i] = __float2bfloat16_rn(src[i] + bias_at(p.v_bias, kh * d + i));
    return;
  }
  const int hh = is_q ? h : h - p.n_heads;
  const float* src =
      is_q ? p.q + r * p.q_ld + static_cast<int64_t>(hh) * d : p.k + r * p.k_ld + static_cast<int64_t>(hh) * d;
  const void* bias = is_q ? p.q_bias : p.k_bias;
  float a[kMaxPairsPerLane], b[kMaxPairsPerLane];
#pragma unroll
  for (int j = 0; j < kMaxPairsPerLane; ++j) {
    const int i = lane + 32 * j;
    a[j] = i < half ? src[i] + bias_at(bias, hh * d + i) : 0.0f;
    b[j] = i < half ? src[i + half] + bias_at(bias, hh * d + i + half) : 0.0f;
  }
  if (norm != nullptr) {
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxPairsPerLane; ++j) {
      ss += a[j] * a[j];
      ss += b[j] * b[j];
    }
    ss = detail::warp_sum(ss);
    const float inv = 1.0f / sqrtf(ss / static_cast<float>(d) + p.eps);
#pragma unroll
    for (int j = 0; j < kMaxPairsPerLane; ++j) {
      const int i = lane + 32 * j;
      if (i < half) {
        a[j] = wa[j] * (a[j] * inv);
        b[j] = wb[j] * (b[j] * inv);
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kMaxPairsPerLane; ++j) {
    const int i = lane + 32 * j;
    if (i >= half) continue;
    const float c = cs[j], s = sn[j];
    const float lo = a[j] * c - b[j] * s, hi = b[j] * c + a[j] * s;
    if (is_q) {
      const int64_t at = (r * p.n_heads + hh) * d + i;
      p.q_out[at] = lo;
      p.q_out[at + half] = hi;
      static_cast<__nv_bfloat16*>(p.q_bf16)[at] = __float2bfloat16_rn(lo);
      static_cast<__nv_bfloat16*>(p.q_bf16)[at + half] = __float2bfloat16_rn(hi);
    } else {
      __nv_bfloat16* dst =
          static_cast<__nv_bfloat16*>(p.k_cache) + ((block * p.n_kv_heads + hh) * p.block_size + slot) * d;
      dst[i] = __float2bfloat16_rn(lo);
      dst[i + half] = __float2bfloat16_rn(hi);
    }
  }
}

}  // namespace

void attention_inputs(const AttentionInputsParams& p, int64_t rows, cudaStream_t stream) {
  const int64_t items = rows * (p.n_heads + 2 * p.n_kv_heads);
  if (items <= 0) return;
  const auto blocks = static_cast<unsigned>((items + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_pdl(attention_inputs_kernel, blocks, kWarpsPerBlock * 32, 0, stream, p, rows);
}

}  // namespace verbatim::cuda_kernels

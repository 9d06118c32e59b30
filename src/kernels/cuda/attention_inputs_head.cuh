// The work of attention_inputs (attention_inputs.cuh) on one (row, head), as device functions for one warp: used by
// attention_inputs_kernel and by the paged attention's fused-inputs prologue (paged_attention.cuh,
// paged_attention_with_inputs), so both run the same operations and give the same bits: every operation is an
// explicitly rounded intrinsic, so that no FMA contraction can differ between the two places these are inlined
// (plain `a * c - b * s` did, once the fused prologue loaded two heads before working on them). Device code only.
//   ai_rope / ai_norm_weights: a lane's RoPE factors (cos, sin of position * inv_freq[i]) and norm weights (norm[i],
//     norm[i + d/2]) for its pairs i = lane + 32 j < d/2, read before the q/k/v rows are (they depend on neither);
//   ai_row_scale: the row's inv_rms where the params carry a row scale (1 otherwise: x * 1 is exact);
//   ai_load: a lane's values of one head (the pairs i, i + d/2), so that a warp can issue the loads of several heads
//     before it works on them (the fused prologue does);
//   ai_v / ai_v_finish: V head kh of row r (times the row scale, plus its bias) to the cache in bf16;
//   ai_qk / ai_qk_finish: a Q or K head: the row scale, bias, rmsnorm over the head (each lane's pairs in increasing
//     j, then the warp butterfly of reduce.cuh) where a norm weight is given, RoPE; Q to q_out (fp32) and q_bf16
//     and/or a shared-memory row, K to the cache, in bf16. (ai_v and ai_qk: ai_load, ai_row_scale, then _finish.)
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/row_math.cuh"

namespace verbatim::cuda_kernels::detail {

constexpr int kAiMaxPairs = 4;  // head_dim <= 256

__device__ __forceinline__ float ai_bias(const void* b, int64_t i) {
  return b == nullptr ? 0.0f : __bfloat162float(static_cast<const __nv_bfloat16*>(b)[i]);
}

__device__ __forceinline__ void ai_rope(float (&cs)[kAiMaxPairs], float (&sn)[kAiMaxPairs], const float* inv_freq,
                                        int position, int half, int lane) {
  const float pos = static_cast<float>(position);
#pragma unroll
  for (int j = 0; j < kAiMaxPairs; ++j) {
    const int i = lane + 32 * j;
    cs[j] = sn[j] = 0.0f;
    if (i >= half) continue;
    const float angle = pos * inv_freq[i];
    cs[j] = cosf(angle);
    sn[j] = sinf(angle);
  }
}

__device__ __forceinline__ void ai_norm_weights(float (&wa)[kAiMaxPairs], float (&wb)[kAiMaxPairs], const void* norm,
                                                int half, int lane) {
#pragma unroll
  for (int j = 0; j < kAiMaxPairs; ++j) {
    const int i = lane + 32 * j;
    wa[j] = wb[j] = 0.0f;
    if (i >= half || norm == nullptr) continue;
    wa[j] = __bfloat162float(static_cast<const __nv_bfloat16*>(norm)[i]);
    wb[j] = __bfloat162float(static_cast<const __nv_bfloat16*>(norm)[i + half]);
  }
}

// The cache element offset of (block, KV head, slot).
__device__ __forceinline__ int64_t ai_cache_at(const AttentionInputsParams& p, int64_t block, int kh, int64_t slot) {
  return ((block * p.n_kv_heads + kh) * p.block_size + slot) * p.head_dim;
}

// All 32 lanes call it.
__device__ __forceinline__ float ai_row_scale(const AttentionInputsParams& p, int64_t r, int lane) {
  if (p.scale.ss == nullptr) return 1.0f;
  return inv_from_tiles(p.scale.ss + r * (p.scale.n / kNormTile), p.scale.n, p.scale.eps, lane);
}

// A lane's values of one head: a[j] = head[lane + 32 j] and b[j] = head[lane + 32 j + half] for lane + 32 j < half
// (a Q or K head, half = d / 2, the RoPE pairs), or for V (half = d / 2 too) the same split of its d values.
__device__ __forceinline__ void ai_load(const float* src, int half, int lane, float (&a)[kAiMaxPairs],
                                        float (&b)[kAiMaxPairs]) {
#pragma unroll
  for (int j = 0; j < kAiMaxPairs; ++j) {
    const int i = lane + 32 * j;
    a[j] = i < half ? src[i] : 0.0f;
    b[j] = i < half ? src[i + half] : 0.0f;
  }
}
__device__ __forceinline__ const float* ai_v_src(const AttentionInputsParams& p, int64_t r, int kh) {
  return p.v + r * p.v_ld + static_cast<int64_t>(kh) * p.head_dim;
}
__device__ __forceinline__ const float* ai_qk_src(const AttentionInputsParams& p, int64_t r, bool is_q, int hh) {
  return is_q ? p.q + r * p.q_ld + static_cast<int64_t>(hh) * p.head_dim
              : p.k + r * p.k_ld + static_cast<int64_t>(hh) * p.head_dim;
}

// V from its loaded values (ai_load) times the row scale; sv: also the bf16 row in shared memory, or null.
__device__ __forceinline__ void ai_v_finish(const AttentionInputsParams& p, int kh, int64_t block, int64_t slot,
                                            int lane, const float (&a)[kAiMaxPairs], const float (&b)[kAiMaxPairs],
                                            float scale, __nv_bfloat16* sv = nullptr) {
  const int d = p.head_dim, half = d / 2;
  __nv_bfloat16* dst = static_cast<__nv_bfloat16*>(p.v_cache) + ai_cache_at(p, block, kh, slot);
#pragma unroll
  for (int j = 0; j < kAiMaxPairs; ++j) {
    const int i = lane + 32 * j;
    if (i >= half) continue;
    const __nv_bfloat16 lo = __float2bfloat16_rn(__fadd_rn(__fmul_rn(a[j], scale), ai_bias(p.v_bias, kh * d + i)));
    const __nv_bfloat16 hi =
        __float2bfloat16_rn(__fadd_rn(__fmul_rn(b[j], scale), ai_bias(p.v_bias, kh * d + i + half)));
    dst[i] = lo, dst[i + half] = hi;
    if (sv != nullptr) sv[i] = lo, sv[i + half] = hi;
  }
}

__device__ __forceinline__ void ai_v(const AttentionInputsParams& p, int64_t r, int kh, int64_t block, int64_t slot,
                                     int lane) {
  float a[kAiMaxPairs], b[kAiMaxPairs];
  ai_load(ai_v_src(p, r, kh), p.head_dim / 2, lane, a, b);
  ai_v_finish(p, kh, block, slot, lane, a, b, ai_row_scale(p, r, lane));
}

// Head hh of row r's Q (is_q) or K, its values times the row scale (ai_row_scale) first. write_q: q_out and q_bf16 (Q);
// sq: the bf16 Q (or K, besides the cache) head's row in shared memory, or null.
// ai_qk from the head's loaded values (ai_load, modified in place) and the row scale.
__device__ __forceinline__ void ai_qk_finish(const AttentionInputsParams& p, int64_t r, bool is_q, int hh,
                                             int64_t block, int64_t slot, const float (&wa)[kAiMaxPairs],
                                             const float (&wb)[kAiMaxPairs], const float (&cs)[kAiMaxPairs],
                                             const float (&sn)[kAiMaxPairs], int lane, bool write_q, __nv_bfloat16* sq,
                                             float (&a)[kAiMaxPairs], float (&b)[kAiMaxPairs], float scale) {
  const int d = p.head_dim, half = d / 2;
  const void* bias = is_q ? p.q_bias : p.k_bias;
  const void* norm = is_q ? p.q_norm : p.k_norm;
#pragma unroll
  for (int j = 0; j < kAiMaxPairs; ++j) {
    const int i = lane + 32 * j;
    if (i >= half) continue;
    a[j] = __fadd_rn(__fmul_rn(a[j], scale), ai_bias(bias, hh * d + i));
    b[j] = __fadd_rn(__fmul_rn(b[j], scale), ai_bias(bias, hh * d + i + half));
  }
  if (norm != nullptr) {
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < kAiMaxPairs; ++j) {
      ss = __fmaf_rn(a[j], a[j], ss);
      ss = __fmaf_rn(b[j], b[j], ss);
    }
    ss = warp_sum(ss);
    const float inv = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, static_cast<float>(d)), p.eps)));
#pragma unroll
    for (int j = 0; j < kAiMaxPairs; ++j) {
      const int i = lane + 32 * j;
      if (i < half) {
        a[j] = __fmul_rn(wa[j], __fmul_rn(a[j], inv));
        b[j] = __fmul_rn(wb[j], __fmul_rn(b[j], inv));
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kAiMaxPairs; ++j) {
    const int i = lane + 32 * j;
    if (i >= half) continue;
    const float c = cs[j], s = sn[j];
    const float lo = __fsub_rn(__fmul_rn(a[j], c), __fmul_rn(b[j], s));
    const float hi = __fadd_rn(__fmul_rn(b[j], c), __fmul_rn(a[j], s));
    if (is_q) {
      const __nv_bfloat16 lo16 = __float2bfloat16_rn(lo), hi16 = __float2bfloat16_rn(hi);
      if (write_q) {
        const int64_t at = (r * p.n_heads + hh) * d + i;
        p.q_out[at] = lo;
        p.q_out[at + half] = hi;
        static_cast<__nv_bfloat16*>(p.q_bf16)[at] = lo16;
        static_cast<__nv_bfloat16*>(p.q_bf16)[at + half] = hi16;
      }
      if (sq != nullptr) sq[i] = lo16, sq[i + half] = hi16;
    } else {
      __nv_bfloat16* dst = static_cast<__nv_bfloat16*>(p.k_cache) + ai_cache_at(p, block, hh, slot);
      const __nv_bfloat16 lo16 = __float2bfloat16_rn(lo), hi16 = __float2bfloat16_rn(hi);
      dst[i] = lo16, dst[i + half] = hi16;
      if (sq != nullptr) sq[i] = lo16, sq[i + half] = hi16;
    }
  }
}

__device__ __forceinline__ void ai_qk(const AttentionInputsParams& p, int64_t r, bool is_q, int hh, int64_t block,
                                      int64_t slot, const float (&wa)[kAiMaxPairs], const float (&wb)[kAiMaxPairs],
                                      const float (&cs)[kAiMaxPairs], const float (&sn)[kAiMaxPairs], int lane,
                                      bool write_q, __nv_bfloat16* sq) {
  float a[kAiMaxPairs], b[kAiMaxPairs];
  ai_load(ai_qk_src(p, r, is_q, hh), p.head_dim / 2, lane, a, b);
  const float scale = ai_row_scale(p, r, lane);  // its loads in flight with the head's
  ai_qk_finish(p, r, is_q, hh, block, slot, wa, wb, cs, sn, lane, write_q, sq, a, b, scale);
}

}  // namespace verbatim::cuda_kernels::detail

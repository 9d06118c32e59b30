// A prototype of a persistent batch-1 decode kernel (bench_persistent_cuda.cu measures it): every layer of a
// qwen3-8b-shaped stack (q/k/v, a stand-in attention, o_proj, gate/up with SwiGLU, down) in ONE launch of one CTA per
// SM, so that each SM streams the weights of the whole step through its rings without a kernel boundary: the weight
// copies of the next tiles (of the next GEMM, of the next layer) go out as soon as a ring slot is free, and only the
// mma warps wait for the data a tile depends on (counters in global memory, one per layer and phase).
//
// What it is for: an upper bound of what the step could gain from a persistent layer kernel before one is built into
// the backend. Its GEMMs are the small-M GEMM's arithmetic bit for bit (the same mma chain per output, the same
// prep / SwiGLU epilogues of row_math.cuh), which the benchmark checks against gemm_small_m launches; its attention
// is NOT the backend's: one warp per query head over the new row's K/V and `ctx` cached positions, fp32 CUDA-core
// arithmetic (a stand-in with a similar chain of dependent loads), checked only against itself launched alone.
//
// CTA: V workers (a producer warp and an mma warp each, with a private ring of S stages of 16 KiB), 4 attention warps,
// and two X buffers (A: 8 KiB for q/k/v and gate/up, B: 24 KiB for o_proj and down), loaded once per phase by the
// first mma warp of the CTA that needs them. Worker w = v * gridDim.x + blockIdx.x takes tiles w, w + V * gridDim.x,
// ... of every phase. Needs every CTA resident at once (a cooperative launch).
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/row_math.cuh"
#include "kernels/cuda/tma_ring.cuh"

namespace proto {

using bf16 = __nv_bfloat16;
namespace vk = verbatim::cuda_kernels;
namespace tma = verbatim::cuda_kernels::tma;

// qwen3-8b's shapes.
constexpr int kHidden = 4096, kQkv = 6144, kInter = 12288, kHeads = 32, kKvHeads = 8, kHeadDim = 128;
constexpr int kGroup = kHeads / kKvHeads;
constexpr int kTilesQkv = kQkv / 16, kTilesO = kHidden / 16, kTilesGu = kInter / 16, kTilesDown = kHidden / 16;
constexpr int kStageBytes = 16384;  // 16 rows x 512 columns (or 2 tiles x 16 rows x 256 columns) of bf16
constexpr int kXaBytes = kHidden * 2, kXbBytes = kInter * 2;
constexpr int kFlagsPerLayer = 16;  // [0, 8) q/k/v tiles per KV head, 8 attention warps, 9 o, 10 gate/up, 11 down
constexpr int kAttnWarps = 4, kMaxCtxPerLane = 8;  // the stand-in attention: ctx + 1 <= 32 * kMaxCtxPerLane
constexpr float kEps = 1e-6f;

struct Params {
  int layers = 0, ctx = 0;
  bool skip_attention = false;        // o_proj waits for q/k/v itself (the attention's cost removed: a bound)
  unsigned poll_ns = 0;               // the pollers' sleep between polls of a counter (lane 0 of a warp polls)
  const bf16* w_in_norm = nullptr;    // [layers + 1][hidden]: layer l's input norm (the last: the final norm)
  const bf16* w_post_norm = nullptr;  // [layers][hidden]
  float* residual = nullptr;          // [hidden] fp32, updated in place
  bf16* u = nullptr;                  // [layers + 1][hidden]: q/k/v's X (u[0] the input)
  float* ss = nullptr;                // [layers + 1][hidden / 16]: its tile partials
  bf16* qkv = nullptr;                // [layers][6144]
  bf16* attn = nullptr;               // [layers][hidden]
  bf16* u2 = nullptr;                 // [layers][hidden]: gate/up's X
  float* ss2 = nullptr;               // [layers][hidden / 16]
  bf16* swi = nullptr;                // [layers][inter]
  bf16* k_cache = nullptr;            // [layers][kv heads][ctx + 1][head dim]
  bf16* v_cache = nullptr;
  int* flags = nullptr;  // [layers][kFlagsPerLayer], zero at the launch
};

struct Maps {
  CUtensorMap qkv, o, gu, down;  // 3-D, 128-byte swizzle; box {64, 16, 8} (gu: {64, 16, 4})
};

__device__ __forceinline__ int ld_acquire(const int* p) {
  int v;
  asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
  return v;
}
// Lane 0 polls (with a short sleep: hundreds of warps poll one counter, one L2 slice serves it), the warp follows.
__device__ __forceinline__ void wait_count(const int* p, int target, unsigned ns) {
  if ((threadIdx.x & 31) == 0) {
    while (ld_acquire(p) < target)
      if (ns > 0) __nanosleep(ns);
  }
  __syncwarp();
}
// The warp's stores before one arrival on *p (every lane fences; lane 0 adds).
__device__ __forceinline__ void warp_signal(int* p, int lane) {
  __threadfence();
  __syncwarp();
  if (lane == 0) asm volatile("red.release.gpu.global.add.s32 [%0], 1;\n" ::"l"(p) : "memory");
}
__device__ __forceinline__ float ldcg(const float* p) {
  return __ldcg(p);
}
__device__ __forceinline__ float ldcg_bf(const bf16* p) {
  return __bfloat162float(__ldcg(p));
}

// The stand-in attention of query head qh (one warp) for layer l: q, k, v of the new row from q/k/v's output times
// the input row's inv_rms, the new K/V written to position ctx by warp 0 of the KV head, scores over positions 0 ..
// ctx (lane j: positions j, j + 32, ...), a softmax, and the value sum (lane j: dims 4 j .. 4 j + 3) in increasing
// position. Deterministic; the same function runs in the persistent kernel and in the reference launch.
__device__ __forceinline__ void attention_head(const Params& p, int l, int qh, int lane, float* q_smem, float* kv_smem,
                                               bool kv_writer) {
  __syncwarp();  // the warp's last head is done with the scratch
  const int h = qh / kGroup, ctx = p.ctx;
  const bf16* row = p.qkv + int64_t{l} * kQkv;
  float pre[kHidden / 16 / 32];
#pragma unroll
  for (int u = 0; u < kHidden / 16 / 32; ++u) pre[u] = ldcg(p.ss + int64_t{l} * (kHidden / 16) + lane + 32 * u);
  float qv[4], kv[4], vv[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int d = 4 * lane + i;
    qv[i] = ldcg_bf(row + qh * kHeadDim + d);
    kv[i] = ldcg_bf(row + kHidden + h * kHeadDim + d);
    vv[i] = ldcg_bf(row + kHidden + kKvHeads * kHeadDim + h * kHeadDim + d);
  }
  const float inv = vk::detail::inv_from_loaded_tiles(pre, kHidden, kEps, lane);
  const size_t head_base = (size_t(l) * kKvHeads + h) * size_t(ctx + 1) * kHeadDim;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int d = 4 * lane + i;
    q_smem[d] = __fmul_rn(qv[i], inv);
    const bf16 kb = __float2bfloat16_rn(__fmul_rn(kv[i], inv)), vb = __float2bfloat16_rn(__fmul_rn(vv[i], inv));
    kv_smem[d] = __bfloat162float(kb);
    kv_smem[kHeadDim + d] = __bfloat162float(vb);
    if (kv_writer) {
      p.k_cache[head_base + size_t(ctx) * kHeadDim + d] = kb;
      p.v_cache[head_base + size_t(ctx) * kHeadDim + d] = vb;
    }
  }
  __syncwarp();
  const float scale = 0.08838834764831845f;  // 1 / sqrt(128)
  float s[kMaxCtxPerLane];
  float mx = -INFINITY;
#pragma unroll
  for (int r = 0; r < kMaxCtxPerLane; ++r) {
    const int pos = lane + 32 * r;
    s[r] = -INFINITY;
    if (pos > ctx) continue;
    float dot = 0.0f;
    if (pos == ctx) {
      for (int d = 0; d < kHeadDim; ++d) dot = __fmaf_rn(q_smem[d], kv_smem[d], dot);
    } else {
      const bf16* kr = p.k_cache + head_base + size_t(pos) * kHeadDim;
      for (int d = 0; d < kHeadDim; d += 8) {
        const uint4 w = __ldcg(reinterpret_cast<const uint4*>(kr + d));
        const uint32_t ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          dot = __fmaf_rn(q_smem[d + 2 * e], __uint_as_float(ws[e] << 16), dot);
          dot = __fmaf_rn(q_smem[d + 2 * e + 1], __uint_as_float(ws[e] & 0xFFFF0000u), dot);
        }
      }
    }
    s[r] = __fmul_rn(dot, scale);
    mx = fmaxf(mx, s[r]);
  }
  mx = vk::detail::warp_max(mx);
  float sum = 0.0f;
#pragma unroll
  for (int r = 0; r < kMaxCtxPerLane; ++r) {
    s[r] = lane + 32 * r <= ctx ? expf(__fsub_rn(s[r], mx)) : 0.0f;
    sum = __fadd_rn(sum, s[r]);
  }
  sum = vk::detail::warp_sum(sum);
  // The value sum in increasing position, 32 positions at a time: the block's V loads go out first.
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int p0 = 0; p0 <= ctx; p0 += 32) {
    uint2 vw[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const int pos = p0 + i;
      vw[i] = make_uint2(0u, 0u);
      if (pos < ctx)
        vw[i] = __ldcg(reinterpret_cast<const uint2*>(p.v_cache + head_base + size_t(pos) * kHeadDim) + lane);
    }
    const int r0 = p0 / 32;
    float sr = s[0];
#pragma unroll
    for (int r = 1; r < kMaxCtxPerLane; ++r)
      if (r == r0) sr = s[r];
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const int pos = p0 + i;
      const float ev = __shfl_sync(0xffffffffu, sr, i);
      if (pos > ctx) continue;
      float v4[4];
      if (pos == ctx) {
#pragma unroll
        for (int e = 0; e < 4; ++e) v4[e] = kv_smem[kHeadDim + 4 * lane + e];
      } else {
        v4[0] = __uint_as_float(vw[i].x << 16), v4[1] = __uint_as_float(vw[i].x & 0xFFFF0000u);
        v4[2] = __uint_as_float(vw[i].y << 16), v4[3] = __uint_as_float(vw[i].y & 0xFFFF0000u);
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[e] = __fmaf_rn(ev, v4[e], acc[e]);
    }
  }
  const float rs = __fdiv_rn(1.0f, sum);
#pragma unroll
  for (int i = 0; i < 4; ++i)
    p.attn[int64_t{l} * kHidden + qh * kHeadDim + 4 * lane + i] = __float2bfloat16_rn(__fmul_rn(acc[i], rs));
}

// The reference launch of the stand-in attention: one CTA per KV head, one warp per query head.
__global__ void attention_ref_kernel(const Params p, int l) {
  vk::pdl_enter();
  __shared__ float q_smem[kGroup][kHeadDim], kv_smem[kGroup][2 * kHeadDim];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  attention_head(p, l, blockIdx.x * kGroup + warp, lane, q_smem[warp], kv_smem[warp], warp == 0);
}

// The mma steps of one stage (gemm_small_m.cu's stage_mma at M = 1 with single-row X): T tiles of 16 W rows, their
// chunks one after the other at `slot`; X's columns of the stage at `xs` (plain bf16).
template <int T>
__device__ __forceinline__ void stage_mma(float (&acc)[2][4], unsigned slot, unsigned xs, const tma::LaneOffsets& o) {
  constexpr int boxes = 8 / T, steps = 4 * boxes, w_box = 2048, x_box = 128;
  uint32_t a[2][T][4], bf[2][2];
  auto load = [&](int j, int set) {
    const int jj = j % 4, box = j / 4;
#pragma unroll
    for (int t = 0; t < T; ++t) tma::ldmatrix_x4(a[set][t], slot + t * boxes * w_box + o.w[jj] + box * w_box);
    bf[set][0] = tma::ld_shared(xs + o.x0[jj] + box * x_box);
    bf[set][1] = tma::ld_shared(xs + o.x1[jj] + box * x_box);
  };
  load(0, 0);
#pragma unroll
  for (int j = 0; j < steps; ++j) {
    if (j + 1 < steps) load(j + 1, (j + 1) & 1);
#pragma unroll
    for (int t = 0; t < T; ++t) vk::mma_bf16(acc[t], a[j & 1][t], bf[j & 1][0], bf[j & 1][1]);
  }
}

enum Phase : int { kPhQkv = 0, kPhO = 1, kPhGu = 2, kPhDown = 3 };

__host__ __device__ constexpr int phase_tiles(int ph) {
  return ph == kPhQkv ? kTilesQkv : ph == kPhO ? kTilesO : ph == kPhGu ? kTilesGu : kTilesDown;
}
__host__ __device__ constexpr int phase_stages(int ph) {  // stages per tile
  return ph == kPhGu ? kHidden / 256 : ph == kPhDown ? kInter / 512 : kHidden / 512;
}

template <int V, int S>
struct Geo {
  static constexpr int threads = (2 * V + kAttnWarps) * 32;
  static constexpr int ring = 2048;  // after 1024 alignment slack: barriers, X-buffer state, attention scratch
  static constexpr int rings = ring + 8192;
  static constexpr int xa = rings + V * S * kStageBytes, xb = xa + kXaBytes;
  static constexpr size_t smem = 1024 + size_t(xb) + kXbBytes;
};

// The mma warp of worker w: every tile of every phase and layer, in the producer's order.
template <int V, int S>
__device__ __forceinline__ void mma_worker(const Params& p, int v, int w, int nw, int lane, unsigned base,
                                           int* x_state) {
  using G = Geo<V, S>;
  const unsigned full = base + v * S * 16, empty = full + 8;
  const unsigned ring = base + G::rings + v * S * kStageBytes;
  const tma::LaneOffsets offs(lane, true);
  const int g = lane >> 2, q = lane & 3;
  int gs = 0;  // stages consumed
  for (int l = 0; l < p.layers; ++l) {
    int* fl = p.flags + l * kFlagsPerLayer;
    for (int ph = 0; ph < 4; ++ph) {
      const int tiles = phase_tiles(ph);
      if (w >= tiles) continue;
      // The dependency: all tiles of the phase ahead (for q/k/v: the last layer's down; o: the attention).
      if (ph == kPhQkv && l > 0) wait_count(p.flags + (l - 1) * kFlagsPerLayer + 11, kTilesDown, p.poll_ns);
      if (ph == kPhO && !p.skip_attention) wait_count(fl + 8, kHeads, p.poll_ns);
      if (ph == kPhO && p.skip_attention)
        for (int h = 0; h < kKvHeads; ++h) wait_count(fl + h, (kGroup + 2) * kHeadDim / 16, p.poll_ns);
      if (ph == kPhGu) wait_count(fl + 9, kTilesO, p.poll_ns);
      if (ph == kPhDown) wait_count(fl + 10, kTilesGu, p.poll_ns);
      // X into the CTA's buffer: the first mma warp of the CTA to get here loads it; the others wait for it.
      const int b = (ph == kPhQkv || ph == kPhGu) ? 0 : 1, seq = l * 4 + ph;
      const int k = ph == kPhDown ? kInter : kHidden;
      const bf16* src = ph == kPhQkv  ? p.u + int64_t{l} * kHidden
                        : ph == kPhO  ? p.attn + int64_t{l} * kHidden
                        : ph == kPhGu ? p.u2 + int64_t{l} * kHidden
                                      : p.swi + int64_t{l} * kInter;
      const unsigned xbuf = base + (b == 0 ? G::xa : G::xb);
      int loader = 0;
      if (lane == 0) loader = atomicMax(&x_state[b], seq) < seq;
      loader = __shfl_sync(0xffffffffu, loader, 0);
      if (loader) {
        // 16 loads per lane in flight at a time (K = 4096: one batch; 12288: three).
        const uint4* s4 = reinterpret_cast<const uint4*>(src);
        for (int i0 = 0; i0 < k / 8; i0 += 32 * 16) {
          uint4 x[16];
#pragma unroll
          for (int u = 0; u < 16; ++u) x[u] = __ldcg(s4 + i0 + 32 * u + lane);
#pragma unroll
          for (int u = 0; u < 16; ++u) {
            const unsigned a = xbuf + 16 * (i0 + 32 * u + lane);
            asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"r"(a), "r"(x[u].x), "r"(x[u].y), "r"(x[u].z),
                         "r"(x[u].w)
                         : "memory");
          }
        }
        __syncwarp();
        __threadfence_block();
        if (lane == 0) atomicExch(&x_state[2 + b], seq);
      } else {
        while (atomicAdd(&x_state[2 + b], 0) < seq) {
        }
        __threadfence_block();
      }
      __syncwarp();
      for (int t = w; t < tiles; t += nw) {
        const int n0 = t * 16;
        constexpr int kPre = kHidden / 16 / 32;
        float res_pre[2] = {0.0f, 0.0f}, w_pre[2] = {0.0f, 0.0f}, ss_pre[kPre];
        if (ph == kPhO || ph == kPhDown) {
          if (q == 0) res_pre[0] = ldcg(p.residual + n0 + g), res_pre[1] = ldcg(p.residual + n0 + g + 8);
          const bf16* pw = ph == kPhO ? p.w_post_norm + int64_t{l} * kHidden : p.w_in_norm + int64_t{l + 1} * kHidden;
          w_pre[0] = __bfloat162float(pw[n0 + g]), w_pre[1] = __bfloat162float(pw[n0 + g + 8]);
        }
        if (ph == kPhGu) {
#pragma unroll
          for (int u = 0; u < kPre; ++u) ss_pre[u] = ldcg(p.ss2 + int64_t{l} * (kHidden / 16) + lane + 32 * u);
        }
        float acc[2][4] = {};
        const int stages = phase_stages(ph);
        for (int s = 0; s < stages; ++s, ++gs) {
          const int slot_i = gs % S;
          tma::mbar_wait(full + 16 * slot_i, static_cast<uint32_t>((gs / S) & 1));
          const unsigned slot = ring + slot_i * kStageBytes;
          if (ph == kPhGu) {
            stage_mma<2>(acc, slot, xbuf + s * 512, offs);
          } else {
            stage_mma<1>(acc, slot, xbuf + s * 1024, offs);
          }
          __syncwarp();
          if (lane == 0) tma::mbar_arrive(empty + 16 * slot_i);
        }
        // Epilogue (M = 1: lanes q == 0 hold outputs n0 + g and n0 + g + 8 in acc[.][0] and acc[.][2]).
        if (ph == kPhQkv) {
          if (q == 0) {
            p.qkv[int64_t{l} * kQkv + n0 + g] = __float2bfloat16_rn(acc[0][0]);
            p.qkv[int64_t{l} * kQkv + n0 + g + 8] = __float2bfloat16_rn(acc[0][2]);
          }
          const int kvh = n0 < kHidden ? n0 / kHeadDim / kGroup : (n0 - kHidden) % (kKvHeads * kHeadDim) / kHeadDim;
          warp_signal(fl + kvh, lane);
        } else if (ph == kPhGu) {
          const float inv = vk::detail::inv_from_loaded_tiles(ss_pre, kHidden, kEps, lane);
          if (q == 0) {
#pragma unroll
            for (int e = 0; e < 4; e += 2) {
              const float gv = __fmul_rn(acc[0][e], inv), uv = __fmul_rn(acc[1][e], inv);
              p.swi[int64_t{l} * kInter + n0 + g + (e >> 1) * 8] = __float2bfloat16_rn(vk::detail::swiglu_one(gv, uv));
            }
          }
          warp_signal(fl + 10, lane);
        } else {  // prep: residual += y; the next norm's scaled input and the tile partial
          bf16* out = ph == kPhO ? p.u2 + int64_t{l} * kHidden : p.u + int64_t{l + 1} * kHidden;
          float* ss = ph == kPhO ? p.ss2 + int64_t{l} * (kHidden / 16) : p.ss + int64_t{l + 1} * (kHidden / 16);
          float h[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          if (q == 0) {
#pragma unroll
            for (int e = 0; e < 4; e += 2) {
              const int j = n0 + g + (e >> 1) * 8;
              h[e] = __fadd_rn(res_pre[e >> 1], acc[0][e]);
              p.residual[j] = h[e];
              out[j] = __float2bfloat16_rn(__fmul_rn(w_pre[e >> 1], h[e]));
            }
          }
#pragma unroll
          for (int c = 0; c < 2; ++c) {
            const float a = vk::detail::tile_butterfly<2>(vk::detail::tile_pair_sq(h[c], h[c + 2]));
            if (g == 0 && 2 * q + c < 1) ss[t] = a;
          }
          warp_signal(fl + (ph == kPhO ? 9 : 11), lane);
        }
      }
    }
  }
}

template <int V, int S>
__device__ __forceinline__ void producer(const Params& p, const Maps& m, int v, int w, int nw, unsigned base) {
  using G = Geo<V, S>;
  const unsigned full = base + v * S * 16, empty = full + 8;
  const unsigned ring = base + G::rings + v * S * kStageBytes;
  uint64_t policy;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
  int gs = 0;
  for (int l = 0; l < p.layers; ++l)
    for (int ph = 0; ph < 4; ++ph)
      for (int t = w; t < phase_tiles(ph); t += nw)
        for (int s = 0; s < phase_stages(ph); ++s, ++gs) {
          const int slot_i = gs % S;
          if (gs >= S) tma::mbar_wait(empty + 16 * slot_i, static_cast<uint32_t>((gs / S - 1) & 1));
          asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
          const unsigned slot = ring + slot_i * kStageBytes, bar = full + 16 * slot_i;
          tma::mbar_arrive_expect(bar, kStageBytes);
          if (ph == kPhGu) {
            const int r0 = l * 2 * kInter + t * 16;
            tma::tensor_copy_3d_hint(slot, &m.gu, 0, r0, s * 4, bar, policy);
            tma::tensor_copy_3d_hint(slot + 4 * 2048, &m.gu, 0, r0 + kInter, s * 4, bar, policy);
          } else {
            const CUtensorMap* map = ph == kPhQkv ? &m.qkv : ph == kPhO ? &m.o : &m.down;
            const int rows = ph == kPhQkv ? kQkv : kHidden;
            tma::tensor_copy_3d_hint(slot, map, 0, l * rows + t * 16, s * 8, bar, policy);
          }
        }
}

template <int V, int S>
__global__ void __launch_bounds__(Geo<V, S>::threads, 1)
    persistent_kernel(const __grid_constant__ Maps maps, const Params p) {
  using G = Geo<V, S>;
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned base = (tma::smem_addr(smem_raw) + 1023u) & ~1023u;
  unsigned char* base_ptr = smem_raw + (base - tma::smem_addr(smem_raw));
  int* x_state = reinterpret_cast<int*>(base_ptr + 1024);  // [0, 2) claimed seq, [2, 4) loaded seq of buffers A, B
  float* attn_scratch = reinterpret_cast<float*>(base_ptr + G::ring);  // [4][128] q, [4][256] k/v
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (threadIdx.x == 0) {
    for (int i = 0; i < 2 * V * S; ++i) tma::mbar_init(base + 8 * i);
    x_state[0] = x_state[1] = x_state[2] = x_state[3] = -1;
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  const int nw = V * gridDim.x;
  if (warp < V) {
    if (lane == 0) producer<V, S>(p, maps, warp, warp * gridDim.x + blockIdx.x, nw, base);
  } else if (warp < 2 * V) {
    const int v = warp - V;
    mma_worker<V, S>(p, v, v * gridDim.x + blockIdx.x, nw, lane, base, x_state);
  } else if (!p.skip_attention) {
    const int aw = warp - 2 * V;  // query head aw of the KV head of this CTA (KV head kh: CTA kh * grid / 8)
    for (int kh = 0; kh < kKvHeads; ++kh) {
      if (static_cast<int>(blockIdx.x) != kh * static_cast<int>(gridDim.x) / kKvHeads) continue;
      for (int l = 0; l < p.layers; ++l) {
        wait_count(p.flags + l * kFlagsPerLayer + kh, (kGroup + 2) * kHeadDim / 16, p.poll_ns);
        attention_head(p, l, kh * kGroup + aw, lane, attn_scratch + aw * kHeadDim,
                       attn_scratch + kGroup * kHeadDim + aw * 2 * kHeadDim, aw == 0);
        warp_signal(p.flags + l * kFlagsPerLayer + 8, lane);
      }
    }
  }
}

}  // namespace proto

// The paged-attention kernel family of paged_attention.cuh: one split-KV kernel (prefill, decode, chunked prefill and
// prefix-cache hits alike) and the merge of a row's splits. The arithmetic per (row, head) is spelled out in the
// header; this file keeps to it for every launch shape.
//
// CTA = (a tile of R consecutive rows, a group of query heads of one KV head, one split). It walks the runs of rows of
// one sequence inside its row tile; for each run it streams the split's K/V tiles (T positions, cp.async 16-byte
// copies, two stages) into shared memory once for all the run's "query vectors" (row, head pairs: at most QVMAX), and
// every query vector runs the same operations as it would alone:
//   scores: thread (t, qv) computes its dot product as one sequential fma chain over the head dimension;
//   softmax: one warp per qv, a fixed butterfly over the tile's T slots (max exact; sum in a fixed tree);
//   values: thread (dim pair, qv) runs acc = acc * alpha, then one fma per valid position in increasing order.
// Which threads do which (row, head), how many rows share the CTA, R, QVMAX, the grid: none of it enters a row's bits.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/cuda/paged_attention.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 128;
constexpr int kKPad = 8;  // bf16 elements of padding per K row in shared memory (16 bytes: no bank conflicts)
constexpr float kLog2e = 1.4426950408889634f;

struct Args {
  PagedAttentionParams p;
  int group;      // query heads per KV head (G)
  int hg;         // query heads per CTA head group
  int n_hgroups;  // ceil(G / hg)
  int rows_per_cta;
  float scale_log2;  // scale * log2(e)
  float* ws_ml;      // [n_rows][n_heads][max_splits][2]
  float* ws_acc;     // [n_rows][n_heads][max_splits][head_dim]
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

// Shared-memory layout (bytes from the base), the same formula on host and device.
struct SmemLayout {
  size_t k, v, q, p, m, l, alpha, nvalid, rowpos, off, total;
  __host__ __device__ SmemLayout(int hd, int t, int qvmax) {
    size_t o = 0;
    k = o, o = align16(o + size_t{2} * t * (hd + kKPad) * 2);
    v = o, o = align16(o + size_t{2} * t * hd * 2);
    q = o, o = align16(o + size_t{4} * qvmax * hd);
    p = o, o = align16(o + size_t{4} * qvmax * (t + 4));
    m = o, o = align16(o + size_t{4} * qvmax);
    l = o, o = align16(o + size_t{4} * qvmax);
    alpha = o, o = align16(o + size_t{4} * qvmax);
    nvalid = o, o = align16(o + size_t{4} * qvmax);
    rowpos = o, o = align16(o + size_t{4} * qvmax);
    off = o, o = align16(o + size_t{8} * 2 * t);
    total = o;
  }
};

// HD_T: head_dim at compile time (0: run-time head_dim <= HDMAX). T: positions per tile. QVMAX: query vectors per CTA.
template <int HD_T, int T, int QVMAX>
__global__ void __launch_bounds__(kThreads) paged_attention_kernel(const Args a) {
  constexpr int HDMAX = HD_T != 0 ? HD_T : (T == 64 ? 128 : 256);
  constexpr int QS = kThreads / T;           // query-vector stride of the score threads
  constexpr int NQ = (QVMAX + QS - 1) / QS;  // score accumulators per thread
  constexpr int NDPMAX = HDMAX / 2;
  constexpr int NSLOT = (QVMAX * NDPMAX + kThreads - 1) / kThreads;  // (dim pair, qv) slots per thread
  constexpr bool kSharedDp =
      HD_T != 0 && kThreads % (HD_T != 0 ? HD_T / 2 : 1) == 0;  // every slot of a thread has one dim pair
  constexpr int PS = T + 4;                                     // row stride of sP (floats)
  static_assert(T % 32 == 0 && kThreads % T == 0 && T % 4 == 0, "tile");

  const PagedAttentionParams& p = a.p;
  const int HD = HD_T != 0 ? HD_T : p.head_dim;
  const int KS = HD + kKPad;
  const int NC = HD / 8;   // 16-byte chunks per position
  const int NDP = HD / 2;  // dim pairs
  const int S = p.split_size;

  extern __shared__ __align__(16) unsigned char smem[];
  const SmemLayout L(HD, T, QVMAX);
  __nv_bfloat16* sK = reinterpret_cast<__nv_bfloat16*>(smem + L.k);  // [2][T][KS]
  __nv_bfloat16* sV = reinterpret_cast<__nv_bfloat16*>(smem + L.v);  // [2][T][HD]
  float* sQ = reinterpret_cast<float*>(smem + L.q);                  // [QVMAX][HD]
  float* sP = reinterpret_cast<float*>(smem + L.p);                  // [QVMAX][PS]
  float* sM = reinterpret_cast<float*>(smem + L.m);
  float* sL = reinterpret_cast<float*>(smem + L.l);
  float* sAlpha = reinterpret_cast<float*>(smem + L.alpha);
  int* sNValid = reinterpret_cast<int*>(smem + L.nvalid);
  int* sRowPos = reinterpret_cast<int*>(smem + L.rowpos);
  long long* sOff = reinterpret_cast<long long*>(smem + L.off);  // [2][T]: element offset of a position, -1: none

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int tile_idx = static_cast<int>(blockIdx.x) / a.n_hgroups;
  const int hgi = static_cast<int>(blockIdx.x) % a.n_hgroups;
  const int kvh = static_cast<int>(blockIdx.y);
  const int split = static_cast<int>(blockIdx.z);
  const int hgs = min(a.hg, a.group - hgi * a.hg);  // heads in this group
  const int head0 = kvh * a.group + hgi * a.hg;
  const int s0 = split * S, s1 = s0 + S;
  const int r_begin = tile_idx * a.rows_per_cta;
  const int r_end = min(r_begin + a.rows_per_cta, p.n_rows);
  const int64_t q_stride = static_cast<int64_t>(p.n_heads) * HD;

  for (int a0 = r_begin; a0 < r_end;) {
    // The run [a0, a1): consecutive rows of one sequence.
    const int seq = p.row_seq[a0];
    int a1 = a0 + 1;
    int maxp = p.positions[a0], minp = maxp;
    while (a1 < r_end && p.row_seq[a1] == seq) {
      const int pos = p.positions[a1];
      maxp = max(maxp, pos), minp = min(minp, pos);
      ++a1;
    }
    const int run0 = a0;
    a0 = a1;
    if (maxp < s0) continue;  // no row of the run reaches this split
    const int n_qv = (a1 - run0) * hgs;
    const int load_end = min(s1, maxp + 1);
    const int n_tiles = (load_end - s0 + T - 1) / T;
    const int32_t* table = p.block_table + p.seq_table_begin[seq];
    const int bs = p.block_size;
    auto offset_of = [&](int pos) -> long long {
      if (pos >= load_end) return -1;
      const long long blk = table[pos / bs];
      return ((blk * p.n_kv_heads + kvh) * bs + pos % bs) * HD;
    };

    __syncthreads();  // the previous run is done with shared memory
    for (int i = tid; i < n_qv * HD; i += kThreads) {
      const int qv = i / HD, d = i % HD;
      const int row = run0 + qv / hgs, head = head0 + qv % hgs;
      sQ[i] = __bfloat162float(p.q[row * q_stride + static_cast<int64_t>(head) * HD + d]);
    }
    for (int qv = tid; qv < n_qv; qv += kThreads) {
      sRowPos[qv] = p.positions[run0 + qv / hgs];
      sM[qv] = -INFINITY;
      sL[qv] = 0.0f;
    }
    if (tid < T) {
      sOff[tid] = offset_of(s0 + tid);
      sOff[T + tid] = n_tiles > 1 ? offset_of(s0 + T + tid) : -1;
    }
    __syncthreads();

    auto issue_tile = [&](int buf) {
      const long long* offs = sOff + buf * T;
      __nv_bfloat16* dk = sK + buf * T * KS;
      __nv_bfloat16* dv = sV + buf * T * HD;
      for (int c = tid; c < T * NC; c += kThreads) {
        const int t = c / NC, ch = c % NC;
        const long long off = offs[t];
        const bool valid = off >= 0;
        const long long src = valid ? off + ch * 8 : 0;
        cp_async16(dk + t * KS + ch * 8, p.k_cache + src, valid);
        cp_async16(dv + t * HD + ch * 8, p.v_cache + src, valid);
      }
    };
    issue_tile(0);
    cp_async_commit();

    // Value accumulators: slot k is (dim pair dp[k], query vector qv[k]).
    float acc0[NSLOT], acc1[NSLOT];
    int sdp[NSLOT], sqv[NSLOT];
    bool sact[NSLOT];
#pragma unroll
    for (int k = 0; k < NSLOT; ++k) {
      const int slot = tid + k * kThreads;
      sdp[k] = slot % NDP;
      sqv[k] = slot / NDP;
      sact[k] = slot < NDP * n_qv;
      acc0[k] = 0.0f;
      acc1[k] = 0.0f;
    }

    for (int j = 0; j < n_tiles; ++j) {
      const int buf = j & 1;
      const int t0 = s0 + j * T;
      if (j + 1 < n_tiles) issue_tile(buf ^ 1);
      cp_async_commit();
      long long off_next = -1;  // position tid of tile j + 2, stored after this tile's work (latency hidden)
      if (tid < T && j + 2 < n_tiles) off_next = offset_of(t0 + 2 * T + tid);
      cp_async_wait<1>();
      __syncthreads();

      // ---- Scores: thread (t, qv) = (tid % T, tid / T + i * QS); one fma chain over the head dimension ----
      {
        const int t = tid % T;
        const int qv_first = tid / T;
        const __nv_bfloat16* kr = sK + buf * T * KS + t * KS;
        float dot[NQ];
#pragma unroll
        for (int i = 0; i < NQ; ++i) dot[i] = 0.0f;
#pragma unroll 2
        for (int ch = 0; ch < NC; ++ch) {
          const uint4 kw = *reinterpret_cast<const uint4*>(kr + ch * 8);
          const float k0 = bf_lo(kw.x), k1 = bf_hi(kw.x), k2 = bf_lo(kw.y), k3 = bf_hi(kw.y);
          const float k4 = bf_lo(kw.z), k5 = bf_hi(kw.z), k6 = bf_lo(kw.w), k7 = bf_hi(kw.w);
#pragma unroll
          for (int i = 0; i < NQ; ++i) {
            const int qv = qv_first + i * QS;
            if (qv < n_qv) {
              const float4* qp = reinterpret_cast<const float4*>(sQ + qv * HD + ch * 8);
              const float4 qa = qp[0], qb = qp[1];
              float d = dot[i];
              d = __fmaf_rn(qa.x, k0, d);
              d = __fmaf_rn(qa.y, k1, d);
              d = __fmaf_rn(qa.z, k2, d);
              d = __fmaf_rn(qa.w, k3, d);
              d = __fmaf_rn(qb.x, k4, d);
              d = __fmaf_rn(qb.y, k5, d);
              d = __fmaf_rn(qb.z, k6, d);
              d = __fmaf_rn(qb.w, k7, d);
              dot[i] = d;
            }
          }
        }
        const int tabs = t0 + t;
#pragma unroll
        for (int i = 0; i < NQ; ++i) {
          const int qv = qv_first + i * QS;
          if (qv < n_qv) {
            const bool valid = tabs <= sRowPos[qv] && tabs < s1;
            sP[qv * PS + t] = valid ? __fmul_rn(dot[i], a.scale_log2) : -INFINITY;
          }
        }
      }
      __syncthreads();

      // ---- Softmax update: one warp per query vector ----
      for (int qv = warp; qv < n_qv; qv += kThreads / 32) {
        const int rowpos = sRowPos[qv];
        if (t0 > rowpos) {  // the row has no position in this tile: its state stays as it is
          if (lane == 0) sAlpha[qv] = 1.0f, sNValid[qv] = 0;
          continue;
        }
        float sc[T / 32];
#pragma unroll
        for (int k = 0; k < T / 32; ++k) sc[k] = sP[qv * PS + lane + 32 * k];
        float mx = sc[0];
#pragma unroll
        for (int k = 1; k < T / 32; ++k) mx = fmaxf(mx, sc[k]);
#pragma unroll
        for (int o = 16; o > 0; o /= 2) mx = fmaxf(mx, __shfl_xor_sync(0xFFFFFFFFu, mx, o));
        const float m_old = sM[qv];
        const float m_new = fmaxf(m_old, mx);
        const float alpha = exp2f(__fsub_rn(m_old, m_new));  // 0 on the row's first tile (m_old = -inf)
        float sum = 0.0f;
#pragma unroll
        for (int k = 0; k < T / 32; ++k) {
          const float e = exp2f(__fsub_rn(sc[k], m_new));  // 0 where masked
          sP[qv * PS + lane + 32 * k] = e;
          sum = k == 0 ? e : __fadd_rn(sum, e);
        }
#pragma unroll
        for (int o = 16; o > 0; o /= 2) sum = __fadd_rn(sum, __shfl_xor_sync(0xFFFFFFFFu, sum, o));
        __syncwarp();
        if (lane == 0) {
          sM[qv] = m_new;
          sL[qv] = __fmaf_rn(sL[qv], alpha, sum);
          sAlpha[qv] = alpha;
          sNValid[qv] = min(min(rowpos + 1, s1), t0 + T) - t0;
        }
      }
      __syncthreads();

      // ---- Values: acc = acc * alpha, then fma over the tile's valid positions in order ----
      {
        float alpha_k[NSLOT];
        int nv_k[NSLOT];
#pragma unroll
        for (int k = 0; k < NSLOT; ++k) {
          alpha_k[k] = sact[k] ? sAlpha[sqv[k]] : 1.0f;
          nv_k[k] = sact[k] ? sNValid[sqv[k]] : 0;
          acc0[k] = __fmul_rn(acc0[k], alpha_k[k]);
          acc1[k] = __fmul_rn(acc1[k], alpha_k[k]);
        }
        // Every query vector of the run sees all T positions of this tile: no per-position guard needed.
        const bool full = t0 + T - 1 <= minp && t0 + T <= s1;
        const uint32_t* vb = reinterpret_cast<const uint32_t*>(sV + buf * T * HD);  // [T][NDP] bf16 pairs
        auto values = [&](auto guarded) {
          constexpr bool kGuard = decltype(guarded)::value;
#pragma unroll 2
          for (int t = 0; t < T; t += 4) {
            [[maybe_unused]] float2 vsh[4];
            if constexpr (kSharedDp) {
#pragma unroll
              for (int u = 0; u < 4; ++u) {
                const uint32_t w = vb[(t + u) * NDP + sdp[0]];
                vsh[u] = make_float2(bf_lo(w), bf_hi(w));
              }
            }
#pragma unroll
            for (int k = 0; k < NSLOT; ++k) {
              if (!sact[k]) continue;
              float2 v[4];
#pragma unroll
              for (int u = 0; u < 4; ++u) {
                if constexpr (kSharedDp) {
                  v[u] = vsh[u];
                } else {
                  const uint32_t w = vb[(t + u) * NDP + sdp[k]];
                  v[u] = make_float2(bf_lo(w), bf_hi(w));
                }
              }
              const float4 pp = *reinterpret_cast<const float4*>(sP + sqv[k] * PS + t);
              const float pu[4] = {pp.x, pp.y, pp.z, pp.w};
#pragma unroll
              for (int u = 0; u < 4; ++u) {
                if (!kGuard || t + u < nv_k[k]) {
                  acc0[k] = __fmaf_rn(pu[u], v[u].x, acc0[k]);
                  acc1[k] = __fmaf_rn(pu[u], v[u].y, acc1[k]);
                }
              }
            }
          }
        };
        if (full) {
          values(std::false_type{});
        } else {
          values(std::true_type{});
        }
      }
      if (tid < T) sOff[buf * T + tid] = off_next;  // buf's offsets were used when tile j was issued
      __syncthreads();  // this tile's buffers are free; the offsets for tile j + 2 are visible
    }
    cp_async_wait<0>();

    // ---- The run's results: direct output for one-split rows, partials otherwise ----
#pragma unroll
    for (int k = 0; k < NSLOT; ++k) {
      if (!sact[k]) continue;
      const int qv = sqv[k];
      const int rowpos = sRowPos[qv];
      if (rowpos < s0) continue;  // the row does not reach this split
      const int row = run0 + qv / hgs, head = head0 + qv % hgs;
      const int n_splits = rowpos / S + 1;
      const int d = 2 * sdp[k];
      const int64_t rh = static_cast<int64_t>(row) * p.n_heads + head;
      if (n_splits == 1) {
        const float inv = __frcp_rn(sL[qv]);
        *reinterpret_cast<__nv_bfloat162*>(p.out + rh * HD + d) =
            __floats2bfloat162_rn(__fmul_rn(acc0[k], inv), __fmul_rn(acc1[k], inv));
      } else if (n_splits > p.max_splits) {  // the caller's max_splits is too small: NaN, loudly
        if (split == 0) {
          *reinterpret_cast<__nv_bfloat162*>(p.out + rh * HD + d) = __floats2bfloat162_rn(NAN, NAN);
        }
      } else {
        const int64_t rs = rh * p.max_splits + split;
        *reinterpret_cast<float2*>(a.ws_acc + rs * HD + d) = make_float2(acc0[k], acc1[k]);
        if (sdp[k] == 0) *reinterpret_cast<float2*>(a.ws_ml + rs * 2) = make_float2(sM[qv], sL[qv]);
      }
    }
  }
}

// One CTA per (row, head) of a row with 2..max_splits splits: the merge in increasing split order. Every thread
// computes M, the weights and L by the same operations; thread i then merges dims i, i + blockDim, ...
__global__ void paged_attention_merge_kernel(const Args a) {
  const PagedAttentionParams& p = a.p;
  extern __shared__ float wsm[];  // [max_splits] weights
  const int64_t rh = blockIdx.x;
  const int row = static_cast<int>(rh / p.n_heads);
  const int pos = p.positions[row];
  const int n_splits = pos / p.split_size + 1;
  if (n_splits == 1 || n_splits > p.max_splits) return;  // written by the attention kernel
  const float* ml = a.ws_ml + rh * p.max_splits * 2;
  const float* acc = a.ws_acc + rh * p.max_splits * p.head_dim;
  float m = ml[0];
  for (int s = 1; s < n_splits; ++s) m = fmaxf(m, ml[2 * s]);
  for (int s = static_cast<int>(threadIdx.x); s < n_splits; s += static_cast<int>(blockDim.x)) {
    wsm[s] = exp2f(__fsub_rn(ml[2 * s], m));
  }
  __syncthreads();
  float l = __fmul_rn(ml[1], wsm[0]);
  for (int s = 1; s < n_splits; ++s) l = __fmaf_rn(ml[2 * s + 1], wsm[s], l);
  const float inv = __frcp_rn(l);
  for (int d = static_cast<int>(threadIdx.x); d < p.head_dim; d += static_cast<int>(blockDim.x)) {
    float o = __fmul_rn(acc[d], wsm[0]);
    for (int s = 1; s < n_splits; ++s) o = __fmaf_rn(acc[static_cast<int64_t>(s) * p.head_dim + d], wsm[s], o);
    p.out[rh * p.head_dim + d] = __float2bfloat16_rn(__fmul_rn(o, inv));
  }
}

using KernelFn = void (*)(Args);

template <int QVMAX>
KernelFn pick_kernel(int hd) {
  switch (hd) {
    case 64:
      return paged_attention_kernel<64, 64, QVMAX>;
    case 128:
      return paged_attention_kernel<128, 64, QVMAX>;
    case 256:
      return paged_attention_kernel<256, 32, QVMAX>;
    default:
      return hd <= 128 ? paged_attention_kernel<0, 64, QVMAX> : paged_attention_kernel<0, 32, QVMAX>;
  }
}

[[noreturn]] void bad(const std::string& what) {
  fail("cuda paged_attention", what);
}

bool aligned16(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
}

}  // namespace

int paged_attention_tile(int head_dim) {
  if (head_dim < 8 || head_dim > 256 || head_dim % 8 != 0) return 0;
  return head_dim <= 128 ? 64 : 32;
}

size_t paged_attention_workspace_bytes(int n_rows, int n_heads, int head_dim, int max_splits) {
  if (max_splits <= 1 || n_rows <= 0) return 0;
  const size_t n = static_cast<size_t>(n_rows) * static_cast<size_t>(n_heads) * static_cast<size_t>(max_splits);
  const size_t ml_floats = (2 * n + 3) / 4 * 4;  // keeps the acc part 16-byte aligned
  return (ml_floats + n * static_cast<size_t>(head_dim)) * sizeof(float);
}

int fast_split_size(int n_rows, int max_context, int block_size, int sm_count) {
  if (block_size <= 0) bad("fast_split_size: block_size must be positive, got " + std::to_string(block_size));
  const int rows = std::max(n_rows, 1), ctx = std::max(max_context, 1), sms = std::max(sm_count, 1);
  const int max_split_count = (ctx + block_size - 1) / block_size;  // at least one block per split
  const int splits = std::clamp((2 * sms + rows - 1) / rows, 1, max_split_count);
  const int unit = 64 % block_size == 0 ? 64 : block_size;
  const int size = (ctx + splits - 1) / splits;
  return (size + unit - 1) / unit * unit;
}

void paged_attention(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.n_rows < 0) bad("n_rows is negative (" + std::to_string(p.n_rows) + ")");
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0) {
    bad("n_heads (" + std::to_string(p.n_heads) + ") must be a positive multiple of n_kv_heads (" +
        std::to_string(p.n_kv_heads) + ")");
  }
  if (paged_attention_tile(p.head_dim) == 0) {
    bad("head_dim " + std::to_string(p.head_dim) + " is not supported (a multiple of 8 from 8 to 256)");
  }
  if (p.block_size <= 0) bad("block_size must be positive, got " + std::to_string(p.block_size));
  if (p.split_size <= 0 || p.split_size % p.block_size != 0) {
    bad("split_size " + std::to_string(p.split_size) + " is not a positive multiple of block_size " +
        std::to_string(p.block_size));
  }
  if (p.max_splits < 1) bad("max_splits must be >= 1, got " + std::to_string(p.max_splits));
  if (!(p.scale > 0.0f) || !std::isfinite(p.scale)) bad("scale must be positive and finite");
  if (p.n_rows == 0) return;
  if (p.q == nullptr || p.out == nullptr || p.k_cache == nullptr || p.v_cache == nullptr || p.positions == nullptr ||
      p.row_seq == nullptr || p.seq_table_begin == nullptr || p.block_table == nullptr) {
    bad("a required pointer is null");
  }
  if (!aligned16(p.q) || !aligned16(p.out) || !aligned16(p.k_cache) || !aligned16(p.v_cache)) {
    bad("q, out, k_cache and v_cache must be 16-byte aligned");
  }
  if (static_cast<const void*>(p.q) == static_cast<const void*>(p.out)) bad("out must not alias q");
  if (p.max_splits > 1 && (p.workspace == nullptr || !aligned16(p.workspace))) {
    bad("max_splits > 1 needs a 16-byte aligned workspace of paged_attention_workspace_bytes()");
  }
  if (p.max_splits > 8192) bad("max_splits " + std::to_string(p.max_splits) + " exceeds 8192");
  if (p.n_kv_heads > 65535) bad("n_kv_heads exceeds 65535");

  Args a{};
  a.p = p;
  a.group = p.n_heads / p.n_kv_heads;
  const bool decode = p.rows_per_seq_hint == 1;
  const int qvmax = decode ? 8 : 32;
  a.hg = std::min(a.group, qvmax);
  a.n_hgroups = (a.group + a.hg - 1) / a.hg;
  a.rows_per_cta = std::max(1, qvmax / a.hg);
  if (p.rows_per_seq_hint > 0) a.rows_per_cta = std::min(a.rows_per_cta, p.rows_per_seq_hint);
  a.scale_log2 = p.scale * kLog2e;
  if (p.max_splits > 1) {
    const size_t n = static_cast<size_t>(p.n_rows) * p.n_heads * p.max_splits;
    a.ws_ml = p.workspace;
    a.ws_acc = p.workspace + (2 * n + 3) / 4 * 4;
  }

  const int tile = paged_attention_tile(p.head_dim);
  const KernelFn fn = decode ? pick_kernel<8>(p.head_dim) : pick_kernel<32>(p.head_dim);
  const size_t smem = SmemLayout(p.head_dim, tile, qvmax).total;
  cudaError_t e = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (e == cudaSuccess) e = cudaFuncSetAttribute(fn, cudaFuncAttributePreferredSharedMemoryCarveout, 100);
  if (e != cudaSuccess) bad(std::string("cudaFuncSetAttribute failed: ") + cudaGetErrorString(e));
  const long long tiles = (static_cast<long long>(p.n_rows) + a.rows_per_cta - 1) / a.rows_per_cta;
  const long long gx = tiles * a.n_hgroups;
  if (gx > 0x7FFFFFFFLL) bad("too many rows for one launch");
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(p.n_kv_heads), static_cast<unsigned>(p.max_splits));
  fn<<<grid, kThreads, smem, stream>>>(a);
  e = cudaGetLastError();
  if (e != cudaSuccess) bad(std::string("attention kernel launch failed: ") + cudaGetErrorString(e));
  if (p.max_splits > 1) {
    const long long n_rh = static_cast<long long>(p.n_rows) * p.n_heads;
    if (n_rh > 0x7FFFFFFFLL) bad("too many (row, head) pairs for one launch");
    const int threads = p.head_dim >= 128 ? 128 : 64;
    paged_attention_merge_kernel<<<static_cast<unsigned>(n_rh), threads, sizeof(float) * p.max_splits, stream>>>(a);
    e = cudaGetLastError();
    if (e != cudaSuccess) bad(std::string("merge kernel launch failed: ") + cudaGetErrorString(e));
  }
}

}  // namespace verbatim::cuda_kernels

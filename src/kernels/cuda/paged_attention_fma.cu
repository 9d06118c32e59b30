// The CUDA-core member of the paged-attention family (paged_attention.cuh): head dims without a tensor-core kernel
// (any multiple of 8 up to 256 other than 64, 128, 256; stories260K's 8, say). The arithmetic per (row, head):
//   scores: thread (t, qv) computes its dot product as one sequential fma chain over the head dimension;
//   softmax: one warp per qv, a fixed butterfly over the tile's T slots (max exact; sum in a fixed tree);
//   values: thread (dim pair, qv) runs acc = acc * alpha, then one fma per valid position in increasing order.
// CTA = (a tile of R consecutive rows, a group of query heads of one KV head, one split); it walks the runs of rows of
// one sequence in its row tile and streams the split's K/V tiles (cp.async, two stages) once for all the run's query
// vectors. Which threads do which (row, head), R, QVMAX, the grid: none of it enters a row's bits.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/paged_attention_internal.cuh"
#include "kernels/cuda/pdl.cuh"

namespace verbatim::cuda_kernels::detail {
namespace {

constexpr int kKPad = 8;  // bf16 elements of padding per K row in shared memory

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
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
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
  const int r_begin = tile_idx * a.rows_per_cta;
  const int r_end = min(r_begin + a.rows_per_cta, p.n_rows);
  const int64_t q_stride = static_cast<int64_t>(p.n_heads) * HD;

  for (int a0 = r_begin; a0 < r_end;) {
    // The run [a0, a1): consecutive rows of one sequence.
    const int seq = p.row_seq[a0];
    int a1 = a0 + 1;
    int maxp = p.positions[a0], minp = maxp;
    // A run also ends where the split size changes (the rows of a run share their splits' bounds).
    const int S = paged_attention_split_at(maxp, p.split_size, p.split_min, p.split_target);
    while (a1 < r_end && p.row_seq[a1] == seq &&
           paged_attention_split_at(p.positions[a1], p.split_size, p.split_min, p.split_target) == S) {
      const int pos = p.positions[a1];
      maxp = max(maxp, pos), minp = min(minp, pos);
      ++a1;
    }
    const int run0 = a0;
    a0 = a1;
    const int s0 = split * S, s1 = s0 + S;
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

}  // namespace

KernelChoice fma_kernel(int head_dim, bool decode) {
  const int tile = head_dim <= 128 ? 64 : 32;
  KernelChoice c;
  c.qvmax = decode ? 8 : 32;
  if (decode) {
    c.fn = tile == 64 ? paged_attention_kernel<0, 64, 8> : paged_attention_kernel<0, 32, 8>;
  } else {
    c.fn = tile == 64 ? paged_attention_kernel<0, 64, 32> : paged_attention_kernel<0, 32, 32>;
  }
  c.smem = SmemLayout(head_dim, tile, c.qvmax).total;
  return c;
}

}  // namespace verbatim::cuda_kernels::detail

// The tensor-core member of the paged-attention family (paged_attention.cuh), for head_dim 64, 128 and 256. The
// arithmetic per (row, head) in a tile of T positions:
//   S = q . k[t]: bf16 mma.sync m16n8k16 with fp32 accumulation, over 16-dim chunks of the head in increasing order
//       (each output element depends on its own q row and k column only: the hardware's order is fixed);
//   s = S * scale * log2(e); -inf past the row's position or the split;
//   softmax: one warp per (row, head), fixed butterfly over the T slots; p = bf16(exp2(s - m')), l' = fma(l, alpha,
//       sum of those p);
//   acc = acc * alpha, then acc += P . V by mma over 16-position chunks of the tile in increasing order.
// The rows of an mma that hold other (row, head) pairs, or zero padding, do not enter a row's result; neither does
// which warp holds which positions or dims. So the bits are those of the row alone, whatever the launch.
// With fused inputs (paged_attention_with_inputs, one row per CTA) the Q rows come from attention_inputs' per-head code
// (attention_inputs_head.cuh) run in this CTA instead of from q; the row's last split writes its new K/V to the cache
// and takes them into its tile from shared memory, and the first tile's older positions are copied before pdl_wait.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/attention_inputs_head.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/paged_attention_internal.cuh"
#include "kernels/cuda/pdl.cuh"

namespace verbatim::cuda_kernels::detail {
namespace {

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3,
                                                  const void* p) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(s));
}

__device__ __forceinline__ uint32_t ld32(const __nv_bfloat16* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Shared-memory layout (bytes), the same formula on host and device. K and V tiles are [T][HD] bf16 with the 16-byte
// chunks of row r XOR-swizzled by r % 8 (conflict-free fragment loads without padding); Q is [QVMAX][HD + 8] bf16.
struct MmaSmem {
  size_t k, v, q, p, m, l, alpha, rowpos, off, fresh, total;
  __host__ __device__ MmaSmem(int hd, int t, int qvmax) {
    size_t o = 0;
    k = o, o = align16(o + size_t{2} * t * hd * 2);
    v = o, o = align16(o + size_t{2} * t * hd * 2);
    q = o, o = align16(o + size_t{2} * qvmax * (hd + 8));
    p = o, o = align16(o + size_t{4} * qvmax * (t + 8));
    m = o, o = align16(o + size_t{4} * qvmax);
    l = o, o = align16(o + size_t{4} * qvmax);
    alpha = o, o = align16(o + size_t{4} * qvmax);
    rowpos = o, o = align16(o + size_t{4} * qvmax);
    off = o, o = align16(o + size_t{8} * 2 * t);
    fresh = o, o = align16(o + size_t{2} * 2 * hd);
    total = o;
  }
};

// HD: head_dim (64, 128, 256). T: positions per tile. MB: 16-row mma blocks of query vectors per CTA.
template <int HD, int T, int MB>
__global__ void __launch_bounds__(kThreads) paged_attention_mma_kernel(const Args a) {
  // pdl.cuh: the next kernel may start. Until the first Q load below this CTA reads only the step plan (row_seq,
  // positions, block tables), which no kernel writes, so that part of the setup overlaps the kernel ahead; pdl_wait
  // comes before the first read of q (and of the cache, which the kernel ahead writes) and before any store.
  pdl_allow_dependents();
  bool waited = false;
  constexpr int QVMAX = 16 * MB;
  constexpr int NCH = HD / 8;     // 16-byte chunks per K/V row
  constexpr int QKS = HD + 8;     // Q row stride (elements)
  constexpr int PS = T + 8;       // P row stride (floats)
  constexpr int NB_QK = T / 32;   // 8-position n-blocks per warp in S = Q K^T (T / 4 positions per warp)
  constexpr int NB_PV = HD / 32;  // 8-dim n-blocks per warp in O = P V (HD / 4 dims per warp)
  constexpr int KSTEPS = HD / 16;
  static_assert(kThreads == 128, "four warps");
  static_assert(NCH % 8 == 0 && NB_PV % 2 == 0 && NB_QK >= 1 && T % 32 == 0, "shape");

  const PagedAttentionParams& p = a.p;
  extern __shared__ __align__(16) unsigned char smem[];
  const MmaSmem L(HD, T, QVMAX);
  __nv_bfloat16* sK = reinterpret_cast<__nv_bfloat16*>(smem + L.k);  // [2][T][HD] swizzled
  __nv_bfloat16* sV = reinterpret_cast<__nv_bfloat16*>(smem + L.v);  // [2][T][HD] swizzled
  __nv_bfloat16* sQ = reinterpret_cast<__nv_bfloat16*>(smem + L.q);  // [QVMAX][QKS]
  float* sP = reinterpret_cast<float*>(smem + L.p);                  // [QVMAX][PS]
  float* sM = reinterpret_cast<float*>(smem + L.m);
  float* sL = reinterpret_cast<float*>(smem + L.l);
  float* sAlpha = reinterpret_cast<float*>(smem + L.alpha);
  int* sRowPos = reinterpret_cast<int*>(smem + L.rowpos);
  long long* sOff = reinterpret_cast<long long*>(smem + L.off);  // [2][T]
  // Fused inputs: the new position's K and V rows (bf16, as written to the cache), which the tiles take from here.
  __nv_bfloat16* sFresh = reinterpret_cast<__nv_bfloat16*>(smem + L.fresh);  // [2][HD]

  // Element offset of (row r, element e) in a swizzled [T][HD] tile.
  auto swz = [](int r, int e) { return r * HD + (((e >> 3) ^ (r & 7)) << 3) + (e & 7); };

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, c = lane % 4;  // mma fragment coordinates
  const int tile_idx = static_cast<int>(blockIdx.x) / a.n_hgroups;
  const int hgi = static_cast<int>(blockIdx.x) % a.n_hgroups;
  const int kvh = static_cast<int>(blockIdx.y);
  const int split = static_cast<int>(blockIdx.z);
  const int hgs = min(a.hg, a.group - hgi * a.hg);
  const int head0 = kvh * a.group + hgi * a.hg;
  const int r_begin = tile_idx * a.rows_per_cta;
  const int r_end = min(r_begin + a.rows_per_cta, p.n_rows);
  const int64_t q_stride = static_cast<int64_t>(p.n_heads) * HD;

  for (int a0 = r_begin; a0 < r_end;) {
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
    (void)minp;
    const int run0 = a0;
    a0 = a1;
    const int s0 = split * S, s1 = s0 + S;
    if (maxp < s0) continue;
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
    if (tid < T) {
      sOff[tid] = offset_of(s0 + tid);
      sOff[T + tid] = n_tiles > 1 ? offset_of(s0 + T + tid) : -1;
    }
    // Fused inputs (a.fused: a decode run of one row, paged_attention_with_inputs): the lane's RoPE factors and norm
    // weights, which no kernel writes, before the wait.
    float wq[kAiMaxPairs], wbq[kAiMaxPairs], wk[kAiMaxPairs], wbk[kAiMaxPairs], cs[kAiMaxPairs], sn[kAiMaxPairs];
    if (a.fused) {
      ai_norm_weights(wq, wbq, a.in.q_norm, HD / 2, lane);
      ai_norm_weights(wk, wbk, a.in.k_norm, HD / 2, lane);
      ai_rope(cs, sn, a.in.inv_freq, maxp, HD / 2, lane);
    }
    // Fused inputs: the writer CTA (the one CTA that reads the row's new position) computes its K/V itself, so its
    // tiles take them from sFresh instead of rereading the cache slot it writes: no fence, no load after the writes.
    const bool writer = a.fused && hgi == 0 && split == min(maxp / S, static_cast<int>(gridDim.z) - 1);
    const int fresh = writer ? maxp : -1;
    // Tile `tile` of the run into buffer buf (positions s0 + tile T + t): 16-byte copies from the cache, but the new
    // position's chunks from sFresh (fresh_ready) or not at all (put_fresh fills them once sFresh is written).
    auto put_chunk = [&](int buf, int t, int ch) {
      *reinterpret_cast<uint4*>(sK + buf * T * HD + swz(t, ch * 8)) = *reinterpret_cast<const uint4*>(sFresh + ch * 8);
      *reinterpret_cast<uint4*>(sV + buf * T * HD + swz(t, ch * 8)) =
          *reinterpret_cast<const uint4*>(sFresh + HD + ch * 8);
    };
    auto put_fresh = [&](int buf, int t) {
      for (int ch = tid; ch < NCH; ch += kThreads) put_chunk(buf, t, ch);
    };
    auto issue_tile = [&](int buf, int tile, bool fresh_ready) {
      const long long* offs = sOff + buf * T;
      __nv_bfloat16* dk = sK + buf * T * HD;
      __nv_bfloat16* dv = sV + buf * T * HD;
      const int fresh_t = fresh - (s0 + tile * T);  // in [0, T) where the tile holds the new position
#pragma unroll 4
      for (int ci = tid; ci < T * NCH; ci += kThreads) {
        const int t = ci / NCH, ch = ci % NCH;
        if (t == fresh_t) {
          if (fresh_ready) put_chunk(buf, t, ch);
          continue;
        }
        const long long off = offs[t];
        const bool valid = off >= 0;
        const long long src = valid ? off + ch * 8 : 0;
        cp_async16(dk + swz(t, ch * 8), p.k_cache + src, valid);
        cp_async16(dv + swz(t, ch * 8), p.v_cache + src, valid);
      }
    };
    // A fused (decode) launch copies its first tile of older positions before pdl_wait: earlier steps wrote them, and
    // no kernel ahead of it in its step writes this layer's cache (paged_attention.cuh states the condition).
    bool tile0_issued = false;
    if (a.fused && !waited) {
      __syncthreads();  // sOff
      issue_tile(0, 0, false);
      cp_async_commit();
      tile0_issued = true;
    }
    if (!waited) {
      pdl_wait();
      waited = true;
    }
    if (a.fused) {
      // attention_inputs' work for this row in this CTA (attention_inputs_head.cuh, the same operations): warp w
      // computes Q heads w, w + 4, ... of the group into sQ (split 0 also stores them to q_out / q_bf16, as the
      // separate op would), and the CTA of the row's last split (the one that reads its new position) writes its K
      // and V to the cache before the tile loads below read them.
      for (int i = tid; i < QVMAX * (HD / 2); i += kThreads) {
        const int qv = i / (HD / 2), d = 2 * (i % (HD / 2));
        if (qv >= n_qv) *reinterpret_cast<uint32_t*>(sQ + qv * QKS + d) = 0;
      }
      const int64_t slot = maxp % bs, block = a.in.row_block[run0];
      const int tasks = hgs + (writer ? 2 : 0);
      // Warp w takes tasks w, w + 4, ... two at a time: both tasks' loads first, then the tasks, so that each pair
      // costs one round of load latency (at qwen3's 4 q heads + K + V, warps 0 and 1 have two tasks each). The row
      // scale's partials are loaded with the first pair.
      constexpr int kWarps = kThreads / 32;
      float scale = 1.0f;
      for (int t0 = warp; t0 < tasks; t0 += 2 * kWarps) {
        float ra[2][kAiMaxPairs], rb[2][kAiMaxPairs];
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          const int t = t0 + kWarps * u;
          if (t >= tasks) continue;
          const float* src = t < hgs    ? ai_qk_src(a.in, run0, true, head0 + t)
                             : t == hgs ? ai_qk_src(a.in, run0, false, kvh)
                                        : ai_v_src(a.in, run0, kvh);
          ai_load(src, HD / 2, lane, ra[u], rb[u]);
        }
        if (t0 == warp) scale = ai_row_scale(a.in, run0, lane);
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          const int t = t0 + kWarps * u;
          if (t >= tasks) continue;  // (K's index hgs is a task of the writer CTA only)
          if (t < hgs) {
            ai_qk_finish(a.in, run0, true, head0 + t, block, slot, wq, wbq, cs, sn, lane, split == 0, sQ + t * QKS,
                         ra[u], rb[u], scale);
          } else if (t == hgs) {
            ai_qk_finish(a.in, run0, false, kvh, block, slot, wk, wbk, cs, sn, lane, false, sFresh, ra[u], rb[u],
                         scale);
          } else {
            ai_v_finish(a.in, kvh, block, slot, lane, ra[u], rb[u], scale, sFresh + HD);
          }
        }
      }
    } else {
      // Q rows (zero past n_qv: padding rows of the mma).
      for (int i = tid; i < QVMAX * (HD / 2); i += kThreads) {
        const int qv = i / (HD / 2), d = 2 * (i % (HD / 2));
        uint32_t w = 0;
        if (qv < n_qv) {
          const int row = run0 + qv / hgs, head = head0 + qv % hgs;
          w = *reinterpret_cast<const uint32_t*>(p.q + row * q_stride + static_cast<int64_t>(head) * HD + d);
        }
        *reinterpret_cast<uint32_t*>(sQ + qv * QKS + d) = w;
      }
    }
    for (int qv = tid; qv < QVMAX; qv += kThreads) {
      sRowPos[qv] = qv < n_qv ? p.positions[run0 + qv / hgs] : -1;
      sM[qv] = -INFINITY;
      sL[qv] = 0.0f;
    }
    __syncthreads();

    if (!tile0_issued) {
      issue_tile(0, 0, true);
      cp_async_commit();
    } else if (fresh >= s0 && fresh < s0 + T) {  // tile 0 went out before the wait, without the new position
      put_fresh(0, fresh - s0);
    }

    // O accumulators: [mb][n-block of this warp's dims][c fragment].
    float acc[MB][NB_PV][4];
#pragma unroll
    for (int mb = 0; mb < MB; ++mb)
#pragma unroll
      for (int nb = 0; nb < NB_PV; ++nb)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[mb][nb][i] = 0.0f;

    for (int j = 0; j < n_tiles; ++j) {
      const int buf = j & 1;
      const int t0 = s0 + j * T;
      if (j + 1 < n_tiles) issue_tile(buf ^ 1, j + 1, true);
      cp_async_commit();
      long long off_next = -1;
      if (tid < T && j + 2 < n_tiles) off_next = offset_of(t0 + 2 * T + tid);
      cp_async_wait<1>();
      __syncthreads();

      // ---- S = Q K^T: warp w owns positions [w T/4, (w + 1) T/4) ----
      {
        const __nv_bfloat16* kb = sK + buf * T * HD;
        float sacc[MB][NB_QK][4];
#pragma unroll
        for (int mb = 0; mb < MB; ++mb)
#pragma unroll
          for (int nb = 0; nb < NB_QK; ++nb)
#pragma unroll
            for (int i = 0; i < 4; ++i) sacc[mb][nb][i] = 0.0f;
#pragma unroll
        for (int ks = 0; ks < KSTEPS; ++ks) {
          uint32_t af[MB][4];
#pragma unroll
          for (int mb = 0; mb < MB; ++mb) {
            const __nv_bfloat16* q0 = sQ + (mb * 16 + g) * QKS + ks * 16 + 2 * c;
            af[mb][0] = ld32(q0);
            af[mb][1] = ld32(q0 + 8 * QKS);
            af[mb][2] = ld32(q0 + 8);
            af[mb][3] = ld32(q0 + 8 * QKS + 8);
          }
#pragma unroll
          for (int nb = 0; nb < NB_QK; ++nb) {
            const int t = warp * (T / 4) + nb * 8 + g;
            const uint32_t b0 = ld32(kb + swz(t, ks * 16 + 2 * c));
            const uint32_t b1 = ld32(kb + swz(t, ks * 16 + 8 + 2 * c));
#pragma unroll
            for (int mb = 0; mb < MB; ++mb) mma_bf16(sacc[mb][nb], af[mb], b0, b1);
          }
        }
#pragma unroll
        for (int mb = 0; mb < MB; ++mb) {
#pragma unroll
          for (int nb = 0; nb < NB_QK; ++nb) {
            const int t = warp * (T / 4) + nb * 8 + 2 * c;
            const int tabs = t0 + t;
#pragma unroll
            for (int h = 0; h < 2; ++h) {
              const int qv = mb * 16 + g + 8 * h;
              float2 sv = make_float2(0.0f, 0.0f);  // padding rows: 0 (never used)
              if (qv < n_qv) {
                const int rp = sRowPos[qv];
                sv.x = tabs <= rp && tabs < s1 ? __fmul_rn(sacc[mb][nb][2 * h], a.scale_log2) : -INFINITY;
                sv.y = tabs + 1 <= rp && tabs + 1 < s1 ? __fmul_rn(sacc[mb][nb][2 * h + 1], a.scale_log2) : -INFINITY;
              }
              *reinterpret_cast<float2*>(sP + qv * PS + t) = sv;
            }
          }
        }
      }
      __syncthreads();

      // ---- Softmax update: one warp per query vector; p rounded to bf16 (the mma's A operand) ----
      for (int qv = warp; qv < n_qv; qv += kThreads / 32) {
        const int rowpos = sRowPos[qv];
        if (t0 > rowpos) {  // no position of this tile: p = 0, state unchanged
#pragma unroll
          for (int k = 0; k < T / 32; ++k) sP[qv * PS + lane + 32 * k] = 0.0f;
          if (lane == 0) sAlpha[qv] = 1.0f;
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
        const float alpha = exp2f(__fsub_rn(m_old, m_new));
        float sum = 0.0f;
#pragma unroll
        for (int k = 0; k < T / 32; ++k) {
          const float e = __bfloat162float(__float2bfloat16_rn(exp2f(__fsub_rn(sc[k], m_new))));
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
        }
      }
      __syncthreads();

      // ---- O = O * alpha + P V: warp w owns dims [w HD/4, (w + 1) HD/4) ----
      {
#pragma unroll
        for (int mb = 0; mb < MB; ++mb) {
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int qv = mb * 16 + g + 8 * h;
            const float al = qv < n_qv ? sAlpha[qv] : 1.0f;
#pragma unroll
            for (int nb = 0; nb < NB_PV; ++nb) {
              acc[mb][nb][2 * h] = __fmul_rn(acc[mb][nb][2 * h], al);
              acc[mb][nb][2 * h + 1] = __fmul_rn(acc[mb][nb][2 * h + 1], al);
            }
          }
        }
        const __nv_bfloat16* vb = sV + buf * T * HD;
#pragma unroll
        for (int kc = 0; kc < T / 16; ++kc) {
          uint32_t pf[MB][4];
#pragma unroll
          for (int mb = 0; mb < MB; ++mb) {
            const float* p0 = sP + (mb * 16 + g) * PS + kc * 16 + 2 * c;
            const float2 x0 = *reinterpret_cast<const float2*>(p0);
            const float2 x1 = *reinterpret_cast<const float2*>(p0 + 8 * PS);
            const float2 x2 = *reinterpret_cast<const float2*>(p0 + 8);
            const float2 x3 = *reinterpret_cast<const float2*>(p0 + 8 * PS + 8);
            pf[mb][0] = pack_bf16(x0.x, x0.y);
            pf[mb][1] = pack_bf16(x1.x, x1.y);
            pf[mb][2] = pack_bf16(x2.x, x2.y);
            pf[mb][3] = pack_bf16(x3.x, x3.y);
          }
#pragma unroll
          for (int np = 0; np < NB_PV / 2; ++np) {
            const int n0 = warp * (HD / 4) + np * 16;
            const int m = lane / 8, r = lane % 8;
            const int t = kc * 16 + r + (m % 2) * 8;
            uint32_t b0, b1, b2, b3;
            ldmatrix_x4_trans(b0, b1, b2, b3, vb + swz(t, n0 + (m / 2) * 8));
#pragma unroll
            for (int mb = 0; mb < MB; ++mb) {
              mma_bf16(acc[mb][2 * np], pf[mb], b0, b1);
              mma_bf16(acc[mb][2 * np + 1], pf[mb], b2, b3);
            }
          }
        }
      }
      if (tid < T) sOff[buf * T + tid] = off_next;
      __syncthreads();
    }
    cp_async_wait<0>();

    // ---- The run's results ----
#pragma unroll
    for (int mb = 0; mb < MB; ++mb) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int qv = mb * 16 + g + 8 * h;
        if (qv >= n_qv) continue;
        const int rowpos = sRowPos[qv];
        if (rowpos < s0) continue;
        const int row = run0 + qv / hgs, head = head0 + qv % hgs;
        const int n_splits = rowpos / S + 1;
        const int64_t rh = static_cast<int64_t>(row) * p.n_heads + head;
        const float lq = sL[qv], mq = sM[qv];
#pragma unroll
        for (int nb = 0; nb < NB_PV; ++nb) {
          const int d = warp * (HD / 4) + nb * 8 + 2 * c;
          const float v0 = acc[mb][nb][2 * h], v1 = acc[mb][nb][2 * h + 1];
          if (n_splits == 1) {
            const float inv = __frcp_rn(lq);
            *reinterpret_cast<__nv_bfloat162*>(p.out + rh * HD + d) =
                __floats2bfloat162_rn(__fmul_rn(v0, inv), __fmul_rn(v1, inv));
          } else if (n_splits > p.max_splits) {
            if (split == 0) {
              *reinterpret_cast<__nv_bfloat162*>(p.out + rh * HD + d) = __floats2bfloat162_rn(NAN, NAN);
            }
          } else {
            const int64_t rs = rh * p.max_splits + split;
            *reinterpret_cast<float2*>(a.ws_acc + rs * HD + d) = make_float2(v0, v1);
            if (d == 0) *reinterpret_cast<float2*>(a.ws_ml + rs * 2) = make_float2(mq, lq);
          }
        }
      }
    }
  }
}

template <int HD, int T>
KernelChoice choice(bool decode) {
  KernelChoice k;
  k.qvmax = decode ? 16 : 32;
  k.fn = decode ? paged_attention_mma_kernel<HD, T, 1> : paged_attention_mma_kernel<HD, T, 2>;
  k.smem = MmaSmem(HD, T, k.qvmax).total;
  return k;
}

}  // namespace

bool mma_supported(int head_dim) {
  return head_dim == 64 || head_dim == 128 || head_dim == 256;
}

KernelChoice mma_kernel(int head_dim, bool decode) {
  switch (head_dim) {
    case 64:
      return choice<64, 64>(decode);
    case 128:
      return choice<128, 64>(decode);
    default:
      return choice<256, 32>(decode);
  }
}

}  // namespace verbatim::cuda_kernels::detail

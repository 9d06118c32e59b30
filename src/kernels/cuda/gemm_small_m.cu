// The small-M GEMM (gemm_small_m.cuh): one warp per 16 rows of W; a ring of stages of 512 (M <= 8) or 256 columns in
// shared memory, each filled by one tensor (TMA) copy of W and one of X (3-D tensor maps whose box is the stage's
// 64-column chunks, one after the other; K % 64 != 0 falls back to one 2-D copy per chunk) under the 128-byte swizzle
// (so that ldmatrix and the X fragment loads are free of bank conflicts), completing on one mbarrier per slot; one
// m16n8k16 mma per 16-column chunk and 8 X rows, in increasing k. W is read with an L2 evict-first policy (each
// weight is read once per step; the KV cache and activations keep the L2). Launched as a programmatic dependent
// (pdl.cuh): the producer issues the first stages' W copies before pdl_wait(), X's after it. The tensor maps are
// encoded on the host at each launch (a few hundred nanoseconds; a captured CUDA graph keeps them). M = 1 takes
// "single-row X" stages (Cfg below): 17 KiB instead of 24, so a ring of 4 (3 CTAs per SM) or 6 (2 CTAs per SM, grids of
// at most two CTAs per SM: o_proj and down_proj of qwen3-8b) stages, whose W copies all go out before pdl_wait().
// Measured on an H200 (2026-12-02): batch-1 decode 219.1-220.4 -> 226.3-227.3 tok/s; the GEMMs alone (ncu) unchanged
// (the gain is the W already copied when the kernel ahead ends).
//
// Tried and dropped (the same day): an L2 prefetch (cp.async.bulk.prefetch.tensor) of each CTA's W beyond the ring
// before pdl_wait(): batch-1 decode 3% slower at 32 KiB per CTA, 20% at 256. Again on 2026-12-03 (docs/performance.md):
// the GEMM after the decode attention prefetching the leading rows of the NEXT GEMM's weights (bulk copies before or
// after pdl_wait, per-line prefetches, an evict_last policy; 8-32 MiB) was slower at every amount, and under ncu the
// next GEMM read exactly as many bytes from DRAM as without it (in the graph's CUPTI trace, 2026-12-04: 0.3 µs saved
// per layer for 16 MiB, 1.2 µs lost by the attention; a persisting-L2 set-aside for it cost 7.5% alone); holding this
// GEMM's own W copies back until the attention's loads are out (a 1-5 µs delay) was slower too. 2026-12-04, all within
// the noise: rings of 2 or 3 stages past 3 CTAs per SM (gate/up's 768 CTAs as one wave), gate/up's stages of 8 chunks
// per tile, o_proj at 2-4 stages so that gate/up's CTAs fit beside it (the trace: the time moved from gate/up to
// o_proj).
//
// Measured on an H200 (docs/performance.md): a cp.async ring (16-byte copies per lane) reached 27-60% of the copy rate,
// one 1-D bulk copy per row and stage 41-77%: the per-SM cost of each copy operation, not the bytes, was the limit.
// In isolation the 3-D copies and the stage sizes change little (a plain read of the same bytes reaches only 73-82% of
// the copy rate for the 33-50 MB shapes); back to back in a decode-like graph they and the early start do.
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>

#include <cstdint>
#include <string>

#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/row_math.cuh"
#include "kernels/cuda/tensor_map.cuh"
#include "kernels/cuda/tma_ring.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

using namespace tma;  // NOLINT: the ring helpers (tma_ring.cuh)

constexpr int kRows = 16;  // W rows per warp: the mma's M
constexpr int kBoxK = 64;  // columns per chunk: 128 bytes, the 128-byte swizzle's span

// What the consumer does with each output (gemm_small_m.cuh): store it; store it (fp32) and add it to the residual;
// add it to the residual and store the next norm's scaled input (prep); or, with two W tiles (gate rows and up rows),
// store the SwiGLU of the pair.
enum class Epi { Store, Residual, Prep, Swiglu };

// Per NB (blocks of 8 X rows), T (W tiles of 16 rows per CTA: 2 for the SwiGLU epilogue, gate and up rows) and XS:
// chunks per stage, ring depth and the stage's bytes: T x `boxes` W chunks [16 rows][64 cols] (tile after tile), then
// `boxes` X chunks [8 NB rows][64 cols], each row 128 bytes with its 16-byte pieces XOR-swizzled by row % 8 (the
// tensor map's 128-byte swizzle; chunks start at 1024-byte boundaries, as it requires). NB = 1, T = 1: 3 x 24 KiB
// (72 KiB, 3 CTAs per SM), measured best back to back; the others keep the depth they were measured with. T = 2 halves
// the chunks per stage, so that a stage holds as many W bytes as with one tile.
// XS > 0 (M = 1, NB = 1): "single-row X", a ring of XS stages whose X is the one row alone, [boxes][64 cols] unswizzled
// (128 bytes a chunk, the stage's X padded to 1 KiB), so that a stage is 17 KiB and not 24: 4 stages at 3 CTAs per SM,
// or 6 at 2 (launch_variant below picks by the grid), more W bytes in flight and copied before pdl_wait.
template <int NB, int T = 1, int XS = 0>
struct Cfg {
  static constexpr bool x1 = XS > 0;
  static_assert(!x1 || NB == 1, "single-row X is for M = 1");
  static constexpr int boxes = (NB == 1 ? 8 : 4) / T;
  static constexpr int stages = x1 ? XS : NB == 1 ? 3 : NB == 2 ? 5 : 4;
  static constexpr int stage_k = kBoxK * boxes;  // K columns per pipeline stage
  static constexpr int steps = stage_k / 16;     // mma steps per stage
  static constexpr int w_box = kRows * 128;
  static constexpr int x_box = x1 ? 128 : NB * 8 * 128;
  static constexpr int x_off = T * boxes * w_box;  // the X chunks' offset in a stage
  static constexpr int x_bytes = boxes * x_box;    // the X copy's bytes
  static constexpr int stage_bytes = x_off + (x_bytes + 1023) / 1024 * 1024;
  static constexpr int w_bytes = x_off;
  static constexpr int tx_bytes = w_bytes + x_bytes;                          // what a stage's copies bring
  static constexpr size_t smem = 1024 + 1024 + size_t{stages} * stage_bytes;  // alignment slack, mbarriers, inv
};

__device__ __forceinline__ void store_y(void* y, bool f32, int64_t idx, float v) {
  if (f32) {
    static_cast<float*>(y)[idx] = v;
  } else {
    static_cast<__nv_bfloat16*>(y)[idx] = __float2bfloat16_rn(v);
  }
}

// The mma steps of one stage at shared address `slot`, in order j = 0, 1, ..., steps - 1 on one accumulator per output
// (FULL: all C::steps); tile t's W chunks at slot + t * boxes * w_box. Fragments are loaded one step ahead of the mma
// that uses them (two register sets), so shared-memory latency overlaps the previous mma.
template <int NB, int T, int XS, bool FULL>
__device__ __forceinline__ void stage_mma(float (&acc)[T][NB][4], unsigned slot, const LaneOffsets& o, int steps) {
  using C = Cfg<NB, T, XS>;
  const unsigned xs = slot + C::x_off;
  uint32_t a[2][T][4], bf[2][NB][2];
  auto load = [&](int j, int set) {
    const int jj = j % 4, box = j / 4;
#pragma unroll
    for (int t = 0; t < T; ++t) ldmatrix_x4(a[set][t], slot + t * C::boxes * C::w_box + o.w[jj] + box * C::w_box);
#pragma unroll
    for (int nb = 0; nb < NB; ++nb) {
      bf[set][nb][0] = ld_shared(xs + o.x0[jj] + box * C::x_box + nb * 1024);
      bf[set][nb][1] = ld_shared(xs + o.x1[jj] + box * C::x_box + nb * 1024);
    }
  };
  load(0, 0);
#pragma unroll
  for (int j = 0; j < C::steps; ++j) {
    if (FULL || j < steps) {
      if (j + 1 < C::steps && (FULL || j + 1 < steps)) load(j + 1, (j + 1) & 1);
#pragma unroll
      for (int t = 0; t < T; ++t)
#pragma unroll
        for (int nb = 0; nb < NB; ++nb) mma_bf16(acc[t][nb], a[j & 1][t], bf[j & 1][nb][0], bf[j & 1][nb][1]);
    }
  }
}

// One CTA = a producer warp and a consumer warp for 16 rows of W, or for T = 2 tiles of 16 (warp specialization: the
// copies are issued off the mma warp's path). Slot b has two mbarriers: full[b] (the producer's arrival with the
// stage's bytes, then the copies complete it) and empty[b] (the consumer's arrival once every lane has read the slot).
//
// MAP3D (K % 64 == 0): wmap views W [n rows][k cols] bf16 as {64 cols, n rows, k/64 chunks} (strides 2k and 128 bytes),
// box {64, 16, boxes}: one copy lands a tile's chunks of a stage one after the other, [chunk][16 rows][128 B], the
// layout of `boxes` 2-D boxes; xmap likewise for X [m rows][k cols], box {64, 8 NB, boxes}. Else 2-D maps, box 64 x 16
// and 64 x 8 NB, one copy per chunk. Rows past n or m and columns past k arrive as zeros; the mma loop stops at k.
//
// E: what the consumer does with each output (gemm_small_m.cuh). XS > 0: M = 1
// with single-row X (Cfg), xmap then a 3-D map of box {64, 1, boxes} without swizzle.
template <int NB, bool F32, bool MAP3D, Epi E, int XS = 0>
__global__ void __launch_bounds__(64)
    small_m_kernel(const __grid_constant__ CUtensorMap wmap, const __grid_constant__ CUtensorMap xmap,
                   const SmallMGemmParams p) {
  constexpr int T = E == Epi::Swiglu ? 2 : 1;
  using C = Cfg<NB, T, XS>;
  static_assert(XS == 0 || MAP3D, "single-row X takes 3-D copies");
  pdl_allow_dependents();  // the kernel after this one may become resident and start its own prologue
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned base = (smem_addr(smem_raw) + 1023u) & ~1023u;  // the 128-byte swizzle wants 1024-byte boxes
  const unsigned full = base, empty = base + 8 * C::stages;      // stages x 8 bytes each
  const unsigned ring = base + 1024;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int m = static_cast<int>(p.m);
  const int64_t n = p.n, k = p.k;
  const int64_t pair = T == 2 ? n / 2 : 0;  // the up tile's row offset (Swiglu: W = [gate; up], n / 2 rows each)
  const int n0 = static_cast<int>(blockIdx.x) * kRows;
  const int steps_total = static_cast<int>(k / 16);
  const int n_stages = static_cast<int>((k + C::stage_k - 1) / C::stage_k);

  if (threadIdx.x == 0) {
    for (int b = 0; b < C::stages; ++b) mbar_init(full + 8 * b), mbar_init(empty + 8 * b);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp == 1) {  // producer
    const uint64_t policy = evict_first_policy();
    auto copy_w = [&](int s, unsigned slot, unsigned bar) {
#pragma unroll
      for (int t = 0; t < T; ++t) {
        const unsigned dst = slot + t * C::boxes * C::w_box;
        const int row = n0 + static_cast<int>(t * pair);
        if constexpr (MAP3D) {
          tensor_copy_3d_hint(dst, &wmap, 0, row, s * C::boxes, bar, policy);
        } else {
#pragma unroll
          for (int i = 0; i < C::boxes; ++i)
            tensor_copy_hint(dst + i * C::w_box, &wmap, s * C::stage_k + i * kBoxK, row, bar, policy);
        }
      }
    };
    const int first = min(C::stages, n_stages);
    if (lane == 0) {  // one lane issues every stage once its slot is free
      auto copy_x = [&](int s, unsigned slot, unsigned bar) {
        const unsigned xs = slot + C::x_off;
        if constexpr (MAP3D) {
          tensor_copy_3d(xs, &xmap, 0, 0, s * C::boxes, bar);
        } else {
#pragma unroll
          for (int i = 0; i < C::boxes; ++i) tensor_copy(xs + i * C::x_box, &xmap, s * C::stage_k + i * kBoxK, 0, bar);
        }
      };
      // The first stages' W before waiting for the kernel ahead (no kernel writes W); X, that kernel's output, after.
      for (int s = 0; s < first; ++s) {
        mbar_arrive_expect(full + 8 * s, C::tx_bytes);
        copy_w(s, ring + s * C::stage_bytes, full + 8 * s);
      }
      pdl_wait();
      for (int s = 0; s < first; ++s) copy_x(s, ring + s * C::stage_bytes, full + 8 * s);
      for (int s = first; s < n_stages; ++s) {
        const int b = s % C::stages;
        mbar_wait(empty + 8 * b, static_cast<uint32_t>((s / C::stages - 1) & 1));
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // the consumer's reads before the writes
        const unsigned slot = ring + b * C::stage_bytes, bar = full + 8 * b;
        mbar_arrive_expect(bar, C::tx_bytes);
        copy_w(s, slot, bar);
        copy_x(s, slot, bar);
      }
    }
    return;
  }

  float acc[T][NB][4];
#pragma unroll
  for (int t = 0; t < T; ++t)
#pragma unroll
    for (int b = 0; b < NB; ++b) acc[t][b][0] = acc[t][b][1] = acc[t][b][2] = acc[t][b][3] = 0.0f;  // +0
  const LaneOffsets offs(lane, C::x1);
  // C fragment: (W row g / g + 8, X row 2q / 2q + 1) of each block.
  const int g = lane >> 2, q = lane & 3;
  // What the epilogue reads besides the accumulators, loaded now so that its latency hides under the mma loop: the
  // kernel ahead has finished once X arrives (the producer copies it after pdl_wait), so waiting here costs nothing.
  //  - Prep: the residual at each of the lane's outputs and the norm weight of its two columns;
  //  - row scale (M = 1): the lane's tile partials of the input row (row_math.cuh's inv_from_loaded_tiles).
  constexpr int kPre = static_cast<int>(kRowScaleMaxN / kNormTile / 32);
  float res_pre[NB][4], w_pre[2], ss_pre[E == Epi::Swiglu ? kPre : 1];
  const bool row_scale = E == Epi::Swiglu && p.row_ss != nullptr;
  if constexpr (E == Epi::Prep) {
    pdl_wait();
#pragma unroll
    for (int nb = 0; nb < NB; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = nb * 8 + 2 * q + (e & 1);
        res_pre[nb][e] = i < m ? p.residual[i * n + n0 + g + (e >> 1) * 8] : 0.0f;
      }
    const auto* pw = static_cast<const __nv_bfloat16*>(p.prep_w);
    w_pre[0] = __bfloat162float(pw[n0 + g]);
    w_pre[1] = __bfloat162float(pw[n0 + g + 8]);
  }
  if constexpr (E == Epi::Swiglu) {
    if (row_scale && m == 1) {
      pdl_wait();
#pragma unroll
      for (int u = 0; u < kPre; ++u) {
        const int t = lane + 32 * u;
        ss_pre[u] = t < p.row_n / kNormTile ? p.row_ss[t] : 0.0f;
      }
    }
  }
  for (int s = 0; s < n_stages; ++s) {
    const int b = s % C::stages;
    mbar_wait(full + 8 * b, static_cast<uint32_t>((s / C::stages) & 1));
    const unsigned slot = ring + b * C::stage_bytes;
    const int steps = min(C::steps, steps_total - s * C::steps);
    if (steps == C::steps) {
      stage_mma<NB, T, XS, true>(acc, slot, offs, steps);
    } else {
      stage_mma<NB, T, XS, false>(acc, slot, offs, steps);
    }
    __syncwarp();  // every lane is done reading the slot
    if (lane == 0) mbar_arrive(empty + 8 * b);
  }
  pdl_wait();  // (long since true: X came after it) before writing, which the kernel ahead may read
  const int64_t n_out = T == 2 ? pair : n;  // the output's row width
  // Row scale: the inv_rms of each X row the lane holds (rows 8 nb + 2 q + c), every lane computing every row's.
  float inv_of[NB][2];
  if constexpr (E == Epi::Swiglu) {
    if (row_scale) {
      if (m == 1) {
        inv_of[0][0] = detail::inv_from_loaded_tiles(ss_pre, p.row_n, p.row_eps, lane);
      } else {
        const int64_t tiles = p.row_n / kNormTile;
        for (int i = 0; i < m; ++i) {
          const float v = detail::inv_from_tiles(p.row_ss + i * tiles, p.row_n, p.row_eps, lane);
#pragma unroll
          for (int nb = 0; nb < NB; ++nb)
#pragma unroll
            for (int c = 0; c < 2; ++c)
              if (nb * 8 + 2 * q + c == i) inv_of[nb][c] = v;
        }
      }
    }
  }
#pragma unroll
  for (int nb = 0; nb < NB; ++nb) {
    float h[4];  // Prep: the new residual of each output (0 past m)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int i = nb * 8 + 2 * q + (e & 1);
      const int64_t j = n0 + g + (e >> 1) * 8;
      h[e] = 0.0f;
      if (i >= m || j >= n_out) continue;
      const int64_t idx = i * n_out + j;
      const float v = acc[0][nb][e];
      if constexpr (E == Epi::Store) {
        store_y(p.y, F32, idx, v);
      } else if constexpr (E == Epi::Residual) {
        static_cast<float*>(p.y)[idx] = v;
        p.residual[idx] = __fadd_rn(p.residual[idx], v);
      } else if constexpr (E == Epi::Prep) {
        h[e] = __fadd_rn(res_pre[nb][e], v);
        p.residual[idx] = h[e];
        static_cast<__nv_bfloat16*>(p.prep_out)[idx] = __float2bfloat16_rn(__fmul_rn(w_pre[e >> 1], h[e]));
      } else {
        float gv = v, uv = acc[T - 1][nb][e];
        if (row_scale) {
          const float iv = m == 1 ? inv_of[0][0] : inv_of[nb][e & 1];
          gv = __fmul_rn(gv, iv), uv = __fmul_rn(uv, iv);
        }
        static_cast<__nv_bfloat16*>(p.swiglu_out)[idx] = __float2bfloat16_rn(detail::swiglu_one(gv, uv));
      }
    }
    if constexpr (E == Epi::Prep) {
      // The tile partial of each of the lane's rows (c = e & 1): pair g is (column n0 + g, n0 + g + 8), g = lane / 4,
      // so the butterfly's partners are lanes ^ 16, ^ 8, ^ 4 (row_math.cuh). Every lane takes part in the shuffles.
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const float a = detail::tile_butterfly<2>(detail::tile_pair_sq(h[c], h[c + 2]));
        const int i = nb * 8 + 2 * q + c;
        if (g == 0 && i < m) p.prep_ss[i * (n / kNormTile) + blockIdx.x] = a;
      }
    }
  }
}

// Single-row X's ring depths (Cfg): the deep one where the grid fits two CTAs per SM (at its ~104 KiB only two are
// resident), else the one that keeps three. Speed only: the stages do not enter an output's bits.
constexpr int kXRowStagesWide = 4, kXRowStagesDeep = 6;

int sm_count() {
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
    fail("cuda gemm_small_m", "cannot read the device's SM count");
  return sms;
}

int64_t grid_of(const SmallMGemmParams& p, bool swiglu) {
  const int64_t rows_out = swiglu ? p.n / 2 : p.n;
  return (rows_out + kRows - 1) / kRows;
}

template <int NB, bool F32, bool MAP3D, Epi E, int XS = 0>
void launch_one(const SmallMGemmParams& p, cudaStream_t stream) {
  using C = Cfg<NB, E == Epi::Swiglu ? 2 : 1, XS>;
  const auto blocks = static_cast<unsigned>(grid_of(p, E == Epi::Swiglu));
  const int chunks = MAP3D ? C::boxes : 0;
  const CUtensorMap wmap = tensor_map(p.w, p.n, p.k, kRows, chunks);
  const CUtensorMap xmap =
      XS > 0 ? tensor_map(p.x, 1, p.k, 1, chunks, false) : tensor_map(p.x, p.m, p.k, 8 * NB, chunks);
  launch_pdl(small_m_kernel<NB, F32, MAP3D, E, XS>, blocks, 64, C::smem, stream, wmap, xmap, p);
}

// M = 1 with 3-D copies: single-row X (Cfg), its depth by the grid; else the 8-row X boxes.
template <int NB, bool F32, bool MAP3D, Epi E>
void launch_variant(const SmallMGemmParams& p, cudaStream_t stream) {
  if constexpr (NB == 1 && MAP3D) {
    if (p.m == 1) {
      if (grid_of(p, E == Epi::Swiglu) <= 2 * int64_t{sm_count()})
        return launch_one<NB, F32, MAP3D, E, kXRowStagesDeep>(p, stream);
      return launch_one<NB, F32, MAP3D, E, kXRowStagesWide>(p, stream);
    }
  }
  launch_one<NB, F32, MAP3D, E>(p, stream);
}

// Every variant the dispatch below launches, in one list (launch and prepare share it). Plain GEMMs: any K % 16 == 0;
// the fused ones: K % 64 == 0 (3-D maps).
template <int NB, typename F>
void for_variant(const SmallMGemmParams& p, F&& f) {
  const bool map3d = p.k % kBoxK == 0;
  if (p.swiglu_out != nullptr) return f.template operator()<NB, false, true, Epi::Swiglu>();
  if (p.prep_out != nullptr) return f.template operator()<NB, true, true, Epi::Prep>();
  if (p.residual != nullptr) return f.template operator()<NB, true, true, Epi::Residual>();
  if (p.out_f32) {
    if (map3d) return f.template operator()<NB, true, true, Epi::Store>();
    return f.template operator()<NB, true, false, Epi::Store>();
  }
  if (map3d) return f.template operator()<NB, false, true, Epi::Store>();
  return f.template operator()<NB, false, false, Epi::Store>();
}

template <int NB, bool F32, bool MAP3D, Epi E, int XS = 0>
void allow_smem() {
  using C = Cfg<NB, E == Epi::Swiglu ? 2 : 1, XS>;
  const cudaError_t e = cudaFuncSetAttribute(small_m_kernel<NB, F32, MAP3D, E, XS>,
                                             cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(C::smem));
  if (e != cudaSuccess) {
    fail("cuda gemm_small_m",
         std::string("cudaFuncSetAttribute(MaxDynamicSharedMemorySize) failed: ") + cudaGetErrorString(e));
  }
}

// launch_variant's single-row-X variants of one (F32, E).
template <bool F32, Epi E>
void allow_smem_x_row() {
  allow_smem<1, F32, true, E, kXRowStagesWide>(), allow_smem<1, F32, true, E, kXRowStagesDeep>();
}

// The variants of for_variant's list.
template <int NB>
void prepare_nb() {
  allow_smem<NB, false, false, Epi::Store>(), allow_smem<NB, false, true, Epi::Store>();
  allow_smem<NB, true, false, Epi::Store>(), allow_smem<NB, true, true, Epi::Store>();
  allow_smem<NB, true, true, Epi::Residual>(), allow_smem<NB, true, true, Epi::Prep>();
  allow_smem<NB, false, true, Epi::Swiglu>();
  if constexpr (NB == 1) {
    allow_smem_x_row<false, Epi::Store>(), allow_smem_x_row<true, Epi::Store>();
    allow_smem_x_row<true, Epi::Residual>(), allow_smem_x_row<true, Epi::Prep>();
    allow_smem_x_row<false, Epi::Swiglu>();
  }
}

template <int NB>
void launch_nb(const SmallMGemmParams& p, cudaStream_t stream) {
  for_variant<NB>(p, [&]<int B, bool F32, bool MAP3D, Epi E>() { launch_variant<B, F32, MAP3D, E>(p, stream); });
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

bool gemm_small_m_supported(const SmallMGemmParams& p) {
  const bool base = p.m >= 1 && p.m <= kSmallMMaxM && p.n >= 1 && p.k >= 16 && p.k % 16 == 0 && aligned16(p.w) &&
                    p.n < (int64_t{1} << 31) && p.k < (int64_t{1} << 31);
  if (!base) return false;
  const bool swiglu = p.swiglu_out != nullptr, residual = p.residual != nullptr;
  if (!aligned16(p.x)) return false;
  if (!swiglu && !aligned16(p.y)) return false;
  const bool prep = p.prep_out != nullptr, scale = p.row_ss != nullptr;
  if (prep && (!residual || p.prep_w == nullptr || p.prep_ss == nullptr || p.n % kNormTile != 0)) return false;
  if (scale && (!swiglu || p.row_n <= 0 || p.row_n % kNormTile != 0 || p.row_n > kRowScaleMaxN)) return false;
  if (!swiglu && !residual) return true;
  if (p.k % kBoxK != 0 || (swiglu && residual)) return false;
  if (residual && !p.out_f32) return false;
  if (swiglu && p.n % (2 * kRows) != 0) return false;
  return true;
}

void gemm_small_m_prepare() {
  prepare_nb<1>(), prepare_nb<2>(), prepare_nb<3>(), prepare_nb<4>();
}

void gemm_small_m(const SmallMGemmParams& p, cudaStream_t stream) {
  if (!gemm_small_m_supported(p)) {
    fail("cuda gemm_small_m", "unsupported shape or fusion: M=" + std::to_string(p.m) + " N=" + std::to_string(p.n) +
                                  " K=" + std::to_string(p.k) + " (needs 1 <= M <= " + std::to_string(kSmallMMaxM) +
                                  ", K a multiple of 16 (of 64 when fused), 16-byte aligned pointers; see "
                                  "gemm_small_m.cuh)");
  }
  switch ((p.m + 7) / 8) {
    case 1:
      return launch_nb<1>(p, stream);
    case 2:
      return launch_nb<2>(p, stream);
    case 3:
      return launch_nb<3>(p, stream);
    default:
      return launch_nb<4>(p, stream);
  }
}

}  // namespace verbatim::cuda_kernels

// The small-M GEMM (gemm_small_m.cuh): one warp per 16 rows of W; a ring of 256-column stages in shared memory, each
// filled by 4 + 4 tensor (TMA) copies of 64-column boxes of W and X under the 128-byte swizzle (so that ldmatrix and
// the X fragment loads are free of bank conflicts), completing on one mbarrier per slot; one m16n8k16 mma per
// 16-column chunk and 8 X rows, in increasing k. The tensor maps are encoded on the host at each launch (a few
// hundred nanoseconds; a captured CUDA graph keeps them).
//
// Measured on an H200 (docs/performance.md): a cp.async ring (16-byte copies per lane) reached 27-60% of the copy rate,
// one 1-D bulk copy per row and stage 41-77%: the per-SM cost of each copy operation, not the bytes, was the limit.
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>

#include <cstdint>
#include <string>

#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/mma.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kRows = 16;                     // W rows per warp: the mma's M
constexpr int kBoxK = 64;                     // columns per tensor-map box: 128 bytes, the 128-byte swizzle's span
constexpr int kBoxes = 4;                     // boxes per stage
constexpr int kStageK = kBoxK * kBoxes;       // K columns per pipeline stage
constexpr int kStepsPerStage = kStageK / 16;  // mma steps per stage

// Per NB (blocks of 8 X rows): ring depth and the stage's bytes: kBoxes W boxes [16 rows][64 cols], then kBoxes X
// boxes [8 NB rows][64 cols], each row 128 bytes with its 16-byte chunks XOR-swizzled by row % 8 (the tensor map's
// 128-byte swizzle; boxes start at 1024-byte boundaries, as it requires).
template <int NB>
struct Cfg {
  static constexpr int stages = NB == 1 ? 6 : NB == 2 ? 5 : 4;
  static constexpr int w_box = kRows * 128;
  static constexpr int x_box = NB * 8 * 128;
  static constexpr int stage_bytes = kBoxes * (w_box + x_box);
  static constexpr size_t smem = 1024 + 1024 + size_t{stages} * stage_bytes;  // alignment slack, mbarriers
};

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// Every shared-memory access below takes a 32-bit shared-window address: the compiler then emits shared loads, not
// generic ones through 64-bit address arithmetic.
__device__ __forceinline__ void mbar_init(unsigned bar) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(bar) : "memory");
}
// One arrival (the barrier's only one) that also announces `bytes` of tensor copies to come.
__device__ __forceinline__ void mbar_arrive_expect(unsigned bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(unsigned bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
// A 2-D tensor (TMA) copy of one box at (column c0, row c1) to shared memory, completing on `bar`. Rows or columns
// outside the tensor arrive as zeros (and still count as bytes of the box).
__device__ __forceinline__ void tensor_copy(unsigned dst, const CUtensorMap* map, int c0, int c1, unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(map), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ uint32_t ld_shared(unsigned addr) {
  uint32_t v;
  asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(addr));
  return v;
}
__device__ __forceinline__ void store_y(void* y, bool f32, int64_t idx, float v) {
  if (f32) {
    static_cast<float*>(y)[idx] = v;
  } else {
    static_cast<__nv_bfloat16*>(y)[idx] = __float2bfloat16_rn(v);
  }
}

// Byte offset of 16-byte chunk c of row r in a box of 128-byte rows under the 128-byte swizzle.
__device__ __forceinline__ unsigned swz(int r, int c) {
  return static_cast<unsigned>(r * 128 + ((c ^ (r & 7)) << 4));
}

// Per-lane shared-memory offsets of the fragments of the 4 steps of one box (jj = j % 4; the box adds a constant):
//  - ldmatrix: lane l gives the address of W row l % 16, 16-byte chunk 2 jj + l / 16 (the A fragment: rows 0-7 / 8-15
//    x columns 0-7 / 8-15 of the 16-column chunk);
//  - B fragments: X row 8 nb + g (g = l / 4), columns 2q, 2q + 1 (chunk 2 jj) and 2q + 8, 2q + 9 (chunk 2 jj + 1),
//    q = l % 4; rows 8 nb + g share g's swizzle, so nb adds the constant 1024 nb.
// Computed once, so that each step is one ldmatrix, 2 NB shared loads and NB mma with constant address offsets.
struct LaneOffsets {
  unsigned w[4], x0[4], x1[4];
  __device__ explicit LaneOffsets(int lane) {
    const int wr = lane & 15, h = lane >> 4, g = lane >> 2, q = lane & 3;
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) {
      w[jj] = swz(wr, 2 * jj + h);
      x0[jj] = swz(g, 2 * jj) + 4 * q;
      x1[jj] = swz(g, 2 * jj + 1) + 4 * q;
    }
  }
};

// The mma steps of one stage at shared address `slot`, in order j = 0, 1, ..., steps - 1 on one accumulator per output
// (FULL: all kStepsPerStage). Fragments are loaded one step ahead of the mma that uses them (two register sets), so
// shared-memory latency overlaps the previous mma.
template <int NB, bool FULL>
__device__ __forceinline__ void stage_mma(float (&acc)[NB][4], unsigned slot, const LaneOffsets& o, int steps) {
  using C = Cfg<NB>;
  const unsigned xs = slot + kBoxes * C::w_box;
  uint32_t a[2][4], bf[2][NB][2];
  auto load = [&](int j, int set) {
    const int jj = j % 4, box = j / 4;
    ldmatrix_x4(a[set], slot + o.w[jj] + box * C::w_box);
#pragma unroll
    for (int nb = 0; nb < NB; ++nb) {
      bf[set][nb][0] = ld_shared(xs + o.x0[jj] + box * C::x_box + nb * 1024);
      bf[set][nb][1] = ld_shared(xs + o.x1[jj] + box * C::x_box + nb * 1024);
    }
  };
  load(0, 0);
#pragma unroll
  for (int j = 0; j < kStepsPerStage; ++j) {
    if (FULL || j < steps) {
      if (j + 1 < kStepsPerStage && (FULL || j + 1 < steps)) load(j + 1, (j + 1) & 1);
#pragma unroll
      for (int nb = 0; nb < NB; ++nb) mma_bf16(acc[nb], a[j & 1], bf[j & 1][nb][0], bf[j & 1][nb][1]);
    }
  }
}

// One CTA = a producer warp and a consumer warp for 16 rows of W (warp specialization: the tensor copies are issued
// off the mma warp's path). Slot b has two mbarriers: full[b] (the producer's arrival with the stage's bytes, then the
// copies complete it) and empty[b] (the consumer's arrival once every lane has read the slot).
//
// wmap: W as [n rows][k cols] bf16, box 64 x 16; xmap: X as [m rows][k cols], box 64 x 8 NB. Rows past n or m and
// columns past k arrive as zeros; the mma loop stops at k anyway.
template <int NB, bool F32>
__global__ void __launch_bounds__(64)
    small_m_kernel(const __grid_constant__ CUtensorMap wmap, const __grid_constant__ CUtensorMap xmap,
                   void* __restrict__ y, int m, int64_t n, int64_t k) {
  using C = Cfg<NB>;
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned base = (smem_addr(smem_raw) + 1023u) & ~1023u;  // the 128-byte swizzle wants 1024-byte boxes
  const unsigned full = base, empty = base + 8 * C::stages;      // stages x 8 bytes each
  const unsigned ring = base + 1024;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int n0 = static_cast<int>(blockIdx.x) * kRows;
  const int steps_total = static_cast<int>(k / 16);
  const int n_stages = static_cast<int>((k + kStageK - 1) / kStageK);

  if (threadIdx.x == 0) {
    for (int b = 0; b < C::stages; ++b) mbar_init(full + 8 * b), mbar_init(empty + 8 * b);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp == 1) {  // producer: one lane issues every stage once its slot is free
    if (lane == 0) {
      for (int s = 0; s < n_stages; ++s) {
        const int b = s % C::stages;
        if (s >= C::stages) {
          mbar_wait(empty + 8 * b, static_cast<uint32_t>((s / C::stages - 1) & 1));
          asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // the consumer's reads before the writes
        }
        const unsigned slot = ring + b * C::stage_bytes, bar = full + 8 * b;
        mbar_arrive_expect(bar, C::stage_bytes);
#pragma unroll
        for (int i = 0; i < kBoxes; ++i) {
          const int c0 = s * kStageK + i * kBoxK;
          tensor_copy(slot + i * C::w_box, &wmap, c0, n0, bar);
          tensor_copy(slot + kBoxes * C::w_box + i * C::x_box, &xmap, c0, 0, bar);
        }
      }
    }
    return;
  }

  float acc[NB][4];
#pragma unroll
  for (int b = 0; b < NB; ++b) acc[b][0] = acc[b][1] = acc[b][2] = acc[b][3] = 0.0f;  // +0
  const LaneOffsets offs(lane);
  for (int s = 0; s < n_stages; ++s) {
    const int b = s % C::stages;
    mbar_wait(full + 8 * b, static_cast<uint32_t>((s / C::stages) & 1));
    const unsigned slot = ring + b * C::stage_bytes;
    const int steps = min(kStepsPerStage, steps_total - s * kStepsPerStage);
    if (steps == kStepsPerStage) {
      stage_mma<NB, true>(acc, slot, offs, steps);
    } else {
      stage_mma<NB, false>(acc, slot, offs, steps);
    }
    __syncwarp();  // every lane is done reading the slot
    if (lane == 0) mbar_arrive(empty + 8 * b);
  }
  // C fragment: (W row g / g + 8, X row 2q / 2q + 1) of each block.
  const int g = lane >> 2, q = lane & 3;
#pragma unroll
  for (int nb = 0; nb < NB; ++nb) {
    const int i0 = nb * 8 + 2 * q;
    const int64_t j0 = n0 + g, j1 = n0 + g + 8;
    if (i0 < m && j0 < n) store_y(y, F32, i0 * n + j0, acc[nb][0]);
    if (i0 + 1 < m && j0 < n) store_y(y, F32, (i0 + 1) * n + j0, acc[nb][1]);
    if (i0 < m && j1 < n) store_y(y, F32, i0 * n + j1, acc[nb][2]);
    if (i0 + 1 < m && j1 < n) store_y(y, F32, (i0 + 1) * n + j1, acc[nb][3]);
  }
}

// cuTensorMapEncodeTiled from the driver, looked up once through the runtime (the build links no libcuda: a machine
// without a GPU driver must still load the program).
PFN_cuTensorMapEncodeTiled_v12000 encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q);
    if (e != cudaSuccess || q != cudaDriverEntryPointSuccess || p == nullptr) {
      fail("cuda gemm_small_m", "the driver has no cuTensorMapEncodeTiled");
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

// A 2-D bf16 tensor map of [rows][cols] at `p` (row stride cols), box 64 columns x box_rows, 128-byte swizzle.
CUtensorMap tensor_map(const void* p, int64_t rows, int64_t cols, int box_rows) {
  CUtensorMap map;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(cols) * 2};
  const cuuint32_t box[2] = {kBoxK, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem[2] = {1, 1};
  const CUresult r = encoder()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void*>(p), dims, strides, box,
                               elem, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                               CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    fail("cuda gemm_small_m", "cuTensorMapEncodeTiled failed (" + std::to_string(static_cast<int>(r)) + ") for " +
                                  std::to_string(rows) + " x " + std::to_string(cols));
  }
  return map;
}

template <int NB, bool F32>
void launch(const SmallMGemmParams& p, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>((p.n + kRows - 1) / kRows);
  const CUtensorMap wmap = tensor_map(p.w, p.n, p.k, kRows);
  const CUtensorMap xmap = tensor_map(p.x, p.m, p.k, 8 * NB);
  small_m_kernel<NB, F32><<<blocks, 64, Cfg<NB>::smem, stream>>>(wmap, xmap, p.y, static_cast<int>(p.m), p.n, p.k);
}

template <bool F32>
void launch_nb(const SmallMGemmParams& p, cudaStream_t stream) {
  switch ((p.m + 7) / 8) {
    case 1:
      return launch<1, F32>(p, stream);
    case 2:
      return launch<2, F32>(p, stream);
    case 3:
      return launch<3, F32>(p, stream);
    default:
      return launch<4, F32>(p, stream);
  }
}

template <int NB, bool F32>
void allow_smem() {
  const cudaError_t e = cudaFuncSetAttribute(small_m_kernel<NB, F32>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(Cfg<NB>::smem));
  if (e != cudaSuccess) {
    fail("cuda gemm_small_m",
         std::string("cudaFuncSetAttribute(MaxDynamicSharedMemorySize) failed: ") + cudaGetErrorString(e));
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

bool gemm_small_m_supported(const SmallMGemmParams& p) {
  return p.m >= 1 && p.m <= kSmallMMaxM && p.n >= 1 && p.k >= 16 && p.k % 16 == 0 && aligned16(p.x) && aligned16(p.w) &&
         aligned16(p.y) && p.n < (int64_t{1} << 31) && p.k < (int64_t{1} << 31);
}

void gemm_small_m_prepare() {
  allow_smem<1, false>(), allow_smem<2, false>(), allow_smem<3, false>(), allow_smem<4, false>();
  allow_smem<1, true>(), allow_smem<2, true>(), allow_smem<3, true>(), allow_smem<4, true>();
}

void gemm_small_m(const SmallMGemmParams& p, cudaStream_t stream) {
  if (!gemm_small_m_supported(p)) {
    fail("cuda gemm_small_m", "unsupported shape M=" + std::to_string(p.m) + " N=" + std::to_string(p.n) +
                                  " K=" + std::to_string(p.k) + " (needs 1 <= M <= " + std::to_string(kSmallMMaxM) +
                                  ", K a multiple of 16, 16-byte aligned pointers)");
  }
  if (p.out_f32) {
    launch_nb<true>(p, stream);
  } else {
    launch_nb<false>(p, stream);
  }
}

}  // namespace verbatim::cuda_kernels

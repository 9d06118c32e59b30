// The AVX2 + FMA GEMM path (kernels/cpu/gemm.h). A 32-column panel is handled as two half panels of 16 columns (the
// 16 ymm registers do not hold more): a register tile is MR rows x NH half panels, each half panel's 16 accumulators
// of a row in two ymm registers. Per t: load each half panel's 16 weights once and widen them to fp32 in registers,
// broadcast x[i, t] of each row, and do one vfmadd (acc = x * w + acc, rounded once: std::fma's bits) per (row,
// 8 columns). While computing, each tile prefetches the next column block's weights into L2 (as the AVX-512 path
// does; no effect on the bits). Runs only where cpu_has_avx2_fma().
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/simd.h"

namespace verbatim::kernels::cpu::gemm_detail {
namespace {

constexpr int kMaxRows = 6;  // rows of the tallest tile: 6 x 2 accumulators of the 16 ymm registers

// Half panels per tile for MR rows: about 8-12 accumulators, leaving registers for the weights and broadcasts.
template <int MR>
constexpr int halves_per_tile() {
  return MR >= 4 ? 1 : MR == 3 ? 2 : MR == 2 ? 3 : 4;
}

// Within one t of a panel, half h (0, 1) starts `half_offset` bytes in; its two vectors are columns col_a(h) ..
// col_a(h) + 7 and col_b(h) .. col_b(h) + 7 of the panel (bf16: words 8h .. 8h + 7 hold columns 8h + c in their low
// and 16 + 8h + c in their high halves; f32/f16: columns 16h .. 16h + 15 in order).
template <DType D>
constexpr int64_t half_offset() {
  return D == DType::F32 ? 64 : 32;
}
template <DType D>
constexpr int64_t t_stride() {
  return D == DType::F32 ? 128 : 64;
}
template <DType D>
constexpr int col_a(int h) {
  return D == DType::BF16 ? 8 * h : 16 * h;
}
template <DType D>
constexpr int col_b(int h) {
  return D == DType::BF16 ? 16 + 8 * h : 16 * h + 8;
}

}  // namespace

VERBATIM_AVX2FMA_BEGIN

namespace {

// The 16 weights of t in one half panel (`half` points at its first t), as fp32 vectors a and b (see col_a, col_b).
template <DType D>
inline void load16(const uint8_t* half, int64_t t, __m256& a, __m256& b) {
  const uint8_t* p = half + t * t_stride<D>();
  if constexpr (D == DType::F32) {
    a = _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    b = _mm256_loadu_ps(reinterpret_cast<const float*>(p) + 8);
  } else if constexpr (D == DType::F16) {
    a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    b = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p) + 1));
  } else {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    a = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    b = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
}

inline void store8(float* dst, __m256 v, int64_t valid) {
  if (valid >= 8) {
    _mm256_storeu_ps(dst, v);
  } else if (valid > 0) {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    std::memcpy(dst, tmp, static_cast<size_t>(valid) * sizeof(float));
  }
}

// The weights to prefetch while a tile computes (as in the AVX-512 path): the same panels one column block on (`pf`,
// the thread's next item), of which the first `count` exist; row tile r of R prefetches lines [r k / R, (r + 1) k / R).
struct Prefetch {
  const uint8_t* pf;
  int64_t count;
  int row_tile, row_tiles;
};

// MR rows x NH half panels, starting at half panel h0 of `panels` (each panel pb bytes). x: [MR, k] (row stride k);
// y: the panels' first column, row stride ldy; `valid` columns from there are inside the matrix.
template <DType D, int MR, int NH>
void tile(const float* x, int64_t k, const uint8_t* panels, int64_t pb, int64_t h0, float* y, int64_t ldy,
          int64_t valid, const Prefetch& pf) {
  __m256 acc[MR][NH][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < NH; ++q) acc[r][q][0] = acc[r][q][1] = _mm256_setzero_ps();  // +0, as the reference
  const uint8_t* half[NH];
#pragma GCC unroll 8
  for (int q = 0; q < NH; ++q) half[q] = panels + (h0 + q) / 2 * pb + (h0 + q) % 2 * half_offset<D>();
  const int64_t pf0 = static_cast<int64_t>(pf.row_tile) * k;
  int64_t pf_line = pf0 / pf.row_tiles, pf_rem = pf0 % pf.row_tiles;
  for (int64_t t = 0; t < k; ++t) {
#pragma GCC unroll 8
    for (int q = 0; q < NH; ++q) {
      if ((h0 + q) / 2 < pf.count) {  // the line of this half panel's weights at step pf_line, one block on
        const int64_t h = h0 + q;
        _mm_prefetch(
            reinterpret_cast<const char*>(pf.pf + h / 2 * pb + pf_line * t_stride<D>() + h % 2 * half_offset<D>()),
            _MM_HINT_T1);
      }
    }
    if (++pf_rem == pf.row_tiles) {
      pf_rem = 0;
      ++pf_line;
    }
#pragma GCC unroll 8
    for (int q = 0; q < NH; ++q) {
      __m256 wa, wb;
      load16<D>(half[q], t, wa, wb);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m256 xb = _mm256_broadcast_ss(x + r * k + t);
        acc[r][q][0] = _mm256_fmadd_ps(xb, wa, acc[r][q][0]);  // x * w + acc, rounded once
        acc[r][q][1] = _mm256_fmadd_ps(xb, wb, acc[r][q][1]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < NH; ++q) {
      const int64_t h = h0 + q, base = h / 2 * kGemmPanel;
      store8(y + r * ldy + base + col_a<D>(h % 2), acc[r][q][0], valid - base - col_a<D>(h % 2));
      store8(y + r * ldy + base + col_b<D>(h % 2), acc[r][q][1], valid - base - col_b<D>(h % 2));
    }
}

// Half panels [0, nh) for MR rows, NH at a time, then the rest with narrower tiles.
template <DType D, int MR, int NH>
void half_tiles(const float* x, int64_t k, const uint8_t* panels, int64_t pb, int64_t h0, int64_t nh, float* y,
                int64_t ldy, int64_t valid, const Prefetch& pf) {
  int64_t q = h0;
  for (; q + NH <= nh; q += NH) tile<D, MR, NH>(x, k, panels, pb, q, y, ldy, valid, pf);
  if constexpr (NH > 1) {
    if (q < nh) half_tiles<D, MR, NH - 1>(x, k, panels, pb, q, nh, y, ldy, valid, pf);
  }
}

template <DType D, int MR>
void rows_upto(int mr, const float* x, int64_t k, const uint8_t* panels, int64_t pb, int64_t np, float* y, int64_t ldy,
               int64_t valid, const Prefetch& pf) {
  if (mr == MR) {
    half_tiles<D, MR, halves_per_tile<MR>()>(x, k, panels, pb, 0, 2 * np, y, ldy, valid, pf);
  } else if constexpr (MR > 1) {
    rows_upto<D, MR - 1>(mr, x, k, panels, pb, np, y, ldy, valid, pf);
  }
}

}  // namespace

template <DType D>
void item_avx2(const Item& it) {
  const int64_t pb = panel_bytes(D, it.k);
  const uint8_t* panels = it.packed + it.p0 * pb;
  const int64_t np = it.p1 - it.p0;
  const int64_t col0 = it.p0 * kGemmPanel;
  const int64_t valid = it.n - col0;
  const int64_t total_panels = (it.n + kGemmPanel - 1) / kGemmPanel;
  Prefetch pf{.pf = it.packed + it.p1 * pb,
              .count = std::min(np, total_panels - it.p1),
              .row_tile = 0,
              .row_tiles = static_cast<int>((it.r1 - it.r0 + kMaxRows - 1) / kMaxRows)};
  for (int64_t i = it.r0; i < it.r1; ++pf.row_tile) {
    const int mr = even_tile(it.r1 - i, kMaxRows);
    rows_upto<D, kMaxRows>(mr, it.x + i * it.k, it.k, panels, pb, np, it.y + i * it.n + col0, it.n, valid, pf);
    i += mr;
  }
}

template void item_avx2<DType::F32>(const Item&);
template void item_avx2<DType::F16>(const Item&);
template void item_avx2<DType::BF16>(const Item&);

VERBATIM_AVX2FMA_END

}  // namespace verbatim::kernels::cpu::gemm_detail

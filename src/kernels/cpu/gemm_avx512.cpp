// The AVX-512F GEMM path (kernels/cpu/gemm.h): zmm register tiles of MR rows x NP panels of 32 columns, each panel's
// 32 accumulators of a row in two zmm registers (lanes of register h <-> columns 32p + 16h + c). Per t: load each
// panel's 32 weights once and widen them to fp32 in registers, broadcast x[i, t] of each row, and do one
// vfmadd (acc = x * w + acc, rounded once: std::fma's bits) per (row, 16 columns). Runs only where cpu_has_avx512f().
#include <immintrin.h>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/simd.h"

// GCC 12 warns that _mm512_undefined_* (which is meant to be undefined) "may be used uninitialized" inside
// _mm512_slli_epi32 and _mm512_cvtph_ps: a known false positive of its headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace verbatim::kernels::cpu::gemm_detail {
namespace {

#ifndef VERBATIM_GEMM512_MAX_ROWS
#define VERBATIM_GEMM512_MAX_ROWS 8
#endif
constexpr int kMaxRows = VERBATIM_GEMM512_MAX_ROWS;  // rows of the tallest tile

// Panels per tile for MR rows: 2 * MR * NP accumulators (<= 24 of the 32 zmm registers), the rest for the weights.
template <int MR>
constexpr int panels_per_tile() {
#ifdef VERBATIM_GEMM512_PANELS
  return VERBATIM_GEMM512_PANELS(MR);
#else
  return MR == 1 ? 4 : MR == 2 ? 3 : MR <= 6 ? 2 : 1;
#endif
}

}  // namespace

VERBATIM_AVX512_BEGIN

namespace {

// The 32 weights of t in one panel, as fp32: lo = columns 0..15, hi = columns 16..31.
template <DType D>
inline void load32(const uint8_t* panel, int64_t t, __m512& lo, __m512& hi) {
  if constexpr (D == DType::F32) {
    const float* w = reinterpret_cast<const float*>(panel) + t * kGemmPanel;
    lo = _mm512_loadu_ps(w);
    hi = _mm512_loadu_ps(w + 16);
  } else if constexpr (D == DType::F16) {
    const __m256i* w = reinterpret_cast<const __m256i*>(panel + t * 64);
    lo = _mm512_cvtph_ps(_mm256_loadu_si256(w));
    hi = _mm512_cvtph_ps(_mm256_loadu_si256(w + 1));
  } else {
    const __m512i v = _mm512_loadu_si512(panel + t * 64);
    lo = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    hi = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
}

inline void store16(float* dst, __m512 v, int64_t valid) {
  if (valid >= 16) {
    _mm512_storeu_ps(dst, v);
  } else if (valid > 0) {
    _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << valid) - 1), v);
  }
}

// MR rows x NP panels. x: [MR, k] (row stride k); panels: NP panels of pb bytes; y: row stride ldy; `valid` columns
// of the tile's 32 NP are inside the matrix.
template <DType D, int MR, int NP>
void tile(const float* x, int64_t k, const uint8_t* panels, int64_t pb, float* y, int64_t ldy, int64_t valid) {
  __m512 acc[MR][NP][2];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) acc[r][q][0] = acc[r][q][1] = _mm512_setzero_ps();  // +0, as the reference
  for (int64_t t = 0; t < k; ++t) {
    __m512 w[NP][2];
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) load32<D>(panels + q * pb, t, w[q][0], w[q][1]);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 xb = _mm512_set1_ps(x[r * k + t]);
#pragma GCC unroll 8
      for (int q = 0; q < NP; ++q) {
        acc[r][q][0] = _mm512_fmadd_ps(xb, w[q][0], acc[r][q][0]);  // x * w + acc, rounded once
        acc[r][q][1] = _mm512_fmadd_ps(xb, w[q][1], acc[r][q][1]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) {
      const int64_t col = q * kGemmPanel;
      store16(y + r * ldy + col, acc[r][q][0], valid - col);
      store16(y + r * ldy + col + 16, acc[r][q][1], valid - col - 16);
    }
  }
}

// Panels [0, np) for MR rows, NP panels at a time, then the rest with narrower tiles.
template <DType D, int MR, int NP>
void panel_tiles(const float* x, int64_t k, const uint8_t* panels, int64_t pb, int64_t np, float* y, int64_t ldy,
                 int64_t valid) {
  int64_t q = 0;
  for (; q + NP <= np; q += NP)
    tile<D, MR, NP>(x, k, panels + q * pb, pb, y + q * kGemmPanel, ldy, valid - q * kGemmPanel);
  if constexpr (NP > 1) {
    if (q < np)
      panel_tiles<D, MR, NP - 1>(x, k, panels + q * pb, pb, np - q, y + q * kGemmPanel, ldy, valid - q * kGemmPanel);
  }
}

template <DType D, int MR>
void rows_upto(int mr, const float* x, int64_t k, const uint8_t* panels, int64_t pb, int64_t np, float* y, int64_t ldy,
               int64_t valid) {
  if (mr == MR) {
    panel_tiles<D, MR, panels_per_tile<MR>()>(x, k, panels, pb, np, y, ldy, valid);
  } else if constexpr (MR > 1) {
    rows_upto<D, MR - 1>(mr, x, k, panels, pb, np, y, ldy, valid);
  }
}

}  // namespace

template <DType D>
void item_avx512(const Item& it) {
  const int64_t pb = panel_bytes(D, it.k);
  const uint8_t* panels = it.packed + it.p0 * pb;
  const int64_t np = it.p1 - it.p0;
  const int64_t col0 = it.p0 * kGemmPanel;
  const int64_t valid = it.n - col0;
  for (int64_t i = it.r0; i < it.r1;) {
    const int mr = even_tile(it.r1 - i, kMaxRows);
    rows_upto<D, kMaxRows>(mr, it.x + i * it.k, it.k, panels, pb, np, it.y + i * it.n + col0, it.n, valid);
    i += mr;
  }
}

template void item_avx512<DType::F32>(const Item&);
template void item_avx512<DType::F16>(const Item&);
template void item_avx512<DType::BF16>(const Item&);

VERBATIM_AVX512_END

}  // namespace verbatim::kernels::cpu::gemm_detail

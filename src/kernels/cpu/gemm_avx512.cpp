// The AVX-512F GEMM path (kernels/cpu/gemm.h): zmm register tiles of MR rows x NP panels of 32 columns, each panel's
// 32 accumulators of a row in two zmm registers (lanes of register h <-> columns 32p + 16h + c). Per t: load each
// panel's 32 weights once and widen them to fp32 in registers, broadcast x[i, t] of each row, and do one
// vfmadd (acc = x * w + acc, rounded once: std::fma's bits) per (row, 16 columns). Runs only where cpu_has_avx512f().
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/simd.h"

// GCC 12 warns that _mm512_undefined_* (which is meant to be undefined) "may be used uninitialized" inside
// _mm512_slli_epi32 and _mm512_cvtph_ps: a known false positive of its headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace verbatim::kernels::cpu::gemm_detail {
namespace {

// Rows of the tallest tile. (12 measured the same as 8 on a 2-core Sapphire-Rapids-class VM: 16 rows are 8 + 8
// either way; 48 rows 6 x 8 or 4 x 12. On a 2-core AMD EPYC (Zen 4) VM, 4 (4 rows x 2 panels) ran 6% faster than 8
// with the weights in L2 but 8% slower on weights streamed from memory, the case of a decode step; so 8.)
constexpr int kMaxRows = 8;

// Panels per tile for MR rows: 2 * MR * NP accumulators (<= 24 of the 32 zmm registers), the rest for the weights.
// One row (a single-stream decode step) takes one panel at a time: the thread then reads its weights as one
// sequential stream (a panel is k x 64 contiguous bytes), which this Zen 4 VM's memory reads at ~27-29 GB/s on one
// core against ~17 GB/s for 4 streams side by side; 2 chains of 4-cycle FMAs per 64 bytes are still far from
// limiting. Matmul-only decode step of llama2-110m at m = 1, best of 25: 1 thread 9.6 -> 7.5 ms, 2 threads 5.9 ->
// 4.3 ms (with the prefetch changes below).
template <int MR>
constexpr int panels_per_tile() {
  return MR == 1 ? 1 : MR == 2 ? 3 : MR <= 6 ? 2 : 1;
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

// What a tile reads and writes, besides its rows of x: the panels (pb bytes each) from its first one, y from the
// first panel's first column (row stride ldy, `valid` columns inside the matrix), and the weights to prefetch.
//
// Prefetch: a thread's items are contiguous in the packed weights (column-block-major, static schedule), so it reads
// them as one stream. The first row tile over a group of panels prefetches the same lines kPrefetchAhead bytes
// further on, which the thread reads soon after, so that they stream in from memory while it computes from cache;
// the other row tiles over the group read it from cache. Tiles of several rows prefetch into L2 (T1); one-row tiles,
// which read each line once, into L1 (T0: measured 10-20% faster than T1 at m = 1 here). The look-ahead runs past
// the end of the matrix: the CPU backend packs weights into one arena in first-use order, so those lines are the
// next matmul's (a prefetch never faults, wherever it points). Prefetching moves no data the kernel computes with:
// the bits do not depend on it.
struct Tile {
  const uint8_t* panels;
  int64_t pb, k;
  float* y;
  int64_t ldy, valid;
  int64_t pf_count;  // how many of this tile's NP panels to prefetch kPrefetchAhead bytes on (0: none)
};

template <DType D>
constexpr int64_t t_bytes() {  // bytes of one t of one panel
  return D == DType::F32 ? 128 : 64;
}

constexpr int64_t kPrefetchAhead = 16384;  // bytes; 4 to 96 KiB measured alike within noise

// MR rows x NP panels. x: [MR, k] (row stride k).
template <DType D, int MR, int NP>
void tile(const float* x, const Tile& c) {
  const int64_t k = c.k, pb = c.pb;
  const uint8_t* panels = c.panels;
  __m512 acc[MR][NP][2];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) acc[r][q][0] = acc[r][q][1] = _mm512_setzero_ps();  // +0, as the reference
  for (int64_t t = 0; t < k; ++t) {
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) {
      if (q < c.pf_count) {
        const char* line = reinterpret_cast<const char*>(panels + q * pb + t * t_bytes<D>() + kPrefetchAhead);
        constexpr auto hint = MR == 1 ? _MM_HINT_T0 : _MM_HINT_T1;
        _mm_prefetch(line, hint);
        if constexpr (t_bytes<D>() > 64) _mm_prefetch(line + 64, hint);
      }
    }
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
      store16(c.y + r * c.ldy + col, acc[r][q][0], c.valid - col);
      store16(c.y + r * c.ldy + col + 16, acc[r][q][1], c.valid - col - 16);
    }
  }
}

// Panels [0, np) of `c` for MR rows, NP panels at a time, then the rest with narrower tiles.
template <DType D, int MR, int NP>
void panel_tiles(const float* x, int64_t np, Tile c) {
  int64_t q = 0;
  for (; q + NP <= np; q += NP) {
    Tile t = c;
    t.panels += q * c.pb;
    t.pf_count = std::clamp<int64_t>(c.pf_count - q, 0, NP);
    t.y += q * kGemmPanel;
    t.valid -= q * kGemmPanel;
    tile<D, MR, NP>(x, t);
  }
  if constexpr (NP > 1) {
    if (q < np) {
      c.panels += q * c.pb;
      c.pf_count = std::max<int64_t>(c.pf_count - q, 0);
      c.y += q * kGemmPanel;
      c.valid -= q * kGemmPanel;
      panel_tiles<D, MR, NP - 1>(x, np - q, c);
    }
  }
}

template <DType D, int MR>
void rows_upto(int mr, const float* x, int64_t np, const Tile& c) {
  if (mr == MR) {
    panel_tiles<D, MR, panels_per_tile<MR>()>(x, np, c);
  } else if constexpr (MR > 1) {
    rows_upto<D, MR - 1>(mr, x, np, c);
  }
}

// panels_per_tile for a run-time row count.
template <int MR>
int panels_for_rows(int mr) {
  if constexpr (MR > 1) {
    if (mr < MR) return panels_for_rows<MR - 1>(mr);
  }
  return panels_per_tile<MR>();
}

}  // namespace

// The item panel group by panel group (as many panels as its tallest row tile takes at once), each group's row tiles
// one after another, so that a group's weights come from memory once and from cache for the other row tiles.
template <DType D>
void item_avx512(const Item& it) {
  const int64_t pb = panel_bytes(D, it.k);
  const int group = panels_for_rows<kMaxRows>(even_tile(it.r1 - it.r0, kMaxRows));
  for (int64_t p = it.p0; p < it.p1; p += group) {
    const int64_t np = std::min<int64_t>(group, it.p1 - p);
    Tile c{.panels = it.packed + p * pb,
           .pb = pb,
           .k = it.k,
           .y = nullptr,
           .ldy = it.n,
           .valid = it.n - p * kGemmPanel,
           .pf_count = np};
    for (int64_t i = it.r0; i < it.r1;) {
      const int mr = even_tile(it.r1 - i, kMaxRows);
      c.y = it.y + i * it.n + p * kGemmPanel;
      rows_upto<D, kMaxRows>(mr, it.x + i * it.k, np, c);
      c.pf_count = 0;  // the first row tile prefetched the look-ahead
      i += mr;
    }
  }
}

template void item_avx512<DType::F32>(const Item&);
template void item_avx512<DType::F16>(const Item&);
template void item_avx512<DType::BF16>(const Item&);

VERBATIM_AVX512_END

}  // namespace verbatim::kernels::cpu::gemm_detail

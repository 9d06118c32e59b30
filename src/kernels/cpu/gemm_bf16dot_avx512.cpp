// The AVX512_BF16 tiles of the bf16-dot GEMM (kernels/cpu/gemm_bf16dot.h): zmm register tiles of MR rows x NP panels
// of 32 columns, each panel's 32 accumulators of a row in two zmm registers (lanes of register h <-> columns
// 32p + 16h + c). Per pair s: load each panel's 32 weight pairs (two zmm), broadcast the row's pair of x, and do one
// vdpbf16ps per (row, 16 columns): every lane runs acc = dpbf16(acc, x pair s, w pair s) for s = 0, 1, ... whatever
// the tile, so the bits do not depend on MR, NP, the item or the thread. The tile shapes, the panel-group walk and the
// prefetch are those of the fp32 path (gemm_avx512.cpp, which explains the measurements behind them); a pair s of a
// panel is 128 bytes, as a t of an fp32 panel.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/gemm_bf16dot_tiles.h"
#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/simd.h"

namespace verbatim::kernels::cpu::bf16dot_detail {
namespace {

constexpr int kMaxRows = 8;

template <int MR>
constexpr int panels_per_tile() {
  return MR == 1 ? 1 : MR == 2 ? 3 : MR <= 6 ? 2 : 1;
}

template <int MR>
int panels_for_rows(int mr) {
  if constexpr (MR > 1) {
    if (mr < MR) return panels_for_rows<MR - 1>(mr);
  }
  return panels_per_tile<MR>();
}

constexpr int64_t kPairBytes = kGemmPanel * 4;  // one pair s of one panel
constexpr int64_t kPrefetchAhead = 16384;       // bytes, as the fp32 path

struct Tile {
  const uint8_t* panels;
  int64_t pb, kh;
  float* y;
  int64_t ldy, valid;
  int64_t pf_count;  // how many of this tile's panels to prefetch kPrefetchAhead bytes on (0: none)
};

}  // namespace

VERBATIM_AVX512BF16_BEGIN

namespace {

inline void store16(float* dst, __m512 v, int64_t valid) {
  if (valid >= 16) {
    _mm512_storeu_ps(dst, v);
  } else if (valid > 0) {
    _mm512_mask_storeu_ps(dst, static_cast<__mmask16>((1u << valid) - 1), v);
  }
}

// MR rows x NP panels. x: [MR, kh] pairs (row stride kh).
template <int MR, int NP>
void tile(const uint32_t* x, const Tile& c) {
  const int64_t kh = c.kh, pb = c.pb;
  const uint8_t* panels = c.panels;
  __m512 acc[MR][NP][2];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) acc[r][q][0] = acc[r][q][1] = _mm512_setzero_ps();  // +0, as the reference
  for (int64_t s = 0; s < kh; ++s) {
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) {
      if (q < c.pf_count) {
        const char* line = reinterpret_cast<const char*>(panels + q * pb + s * kPairBytes + kPrefetchAhead);
        constexpr auto hint = MR == 1 ? _MM_HINT_T0 : _MM_HINT_T1;
        _mm_prefetch(line, hint);
        _mm_prefetch(line + 64, hint);
      }
    }
    __m512bh w[NP][2];
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) {
      const uint8_t* p = panels + q * pb + s * kPairBytes;
      w[q][0] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(p));
      w[q][1] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(p + 64));
    }
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512bh xb = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(x[r * kh + s])));
#pragma GCC unroll 8
      for (int q = 0; q < NP; ++q) {
        acc[r][q][0] = _mm512_dpbf16_ps(acc[r][q][0], xb, w[q][0]);
        acc[r][q][1] = _mm512_dpbf16_ps(acc[r][q][1], xb, w[q][1]);
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

template <int MR, int NP>
void panel_tiles(const uint32_t* x, int64_t np, Tile c) {
  int64_t q = 0;
  for (; q + NP <= np; q += NP) {
    Tile t = c;
    t.panels += q * c.pb;
    t.pf_count = std::clamp<int64_t>(c.pf_count - q, 0, NP);
    t.y += q * kGemmPanel;
    t.valid -= q * kGemmPanel;
    tile<MR, NP>(x, t);
  }
  if constexpr (NP > 1) {
    if (q < np) {
      c.panels += q * c.pb;
      c.pf_count = std::max<int64_t>(c.pf_count - q, 0);
      c.y += q * kGemmPanel;
      c.valid -= q * kGemmPanel;
      panel_tiles<MR, NP - 1>(x, np - q, c);
    }
  }
}

template <int MR>
void rows_upto(int mr, const uint32_t* x, int64_t np, const Tile& c) {
  if (mr == MR) {
    panel_tiles<MR, panels_per_tile<MR>()>(x, np, c);
  } else if constexpr (MR > 1) {
    rows_upto<MR - 1>(mr, x, np, c);
  }
}

}  // namespace

void item_avx512bf16(const Item& it) {
  const int64_t pb = panel_bytes(it.kh);
  const int group = panels_for_rows<kMaxRows>(gemm_detail::even_tile(it.r1 - it.r0, kMaxRows));
  for (int64_t p = it.p0; p < it.p1; p += group) {
    const int64_t np = std::min<int64_t>(group, it.p1 - p);
    Tile c{.panels = it.packed + p * pb,
           .pb = pb,
           .kh = it.kh,
           .y = nullptr,
           .ldy = it.n,
           .valid = it.n - p * kGemmPanel,
           .pf_count = np};
    for (int64_t i = it.r0; i < it.r1;) {
      const int mr = gemm_detail::even_tile(it.r1 - i, kMaxRows);
      c.y = it.y + i * it.n + p * kGemmPanel;
      rows_upto<kMaxRows>(mr, it.x + i * it.kh, np, c);
      c.pf_count = 0;  // the first row tile prefetched the look-ahead
      i += mr;
    }
  }
}

VERBATIM_AVX512BF16_END

}  // namespace verbatim::kernels::cpu::bf16dot_detail

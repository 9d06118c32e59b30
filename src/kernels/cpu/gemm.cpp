#include "kernels/cpu/gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu/check.h"
#include "kernels/cpu/simd.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

// Work split: the output is cut into items of (up to) kColBlockPanels panels x kRowBlock rows; threads take whole items
// (column-block-major, so one thread's consecutive items reuse a column block's weights from its cache). Every
// output element is computed by exactly one tile, start to finish, in the fixed order of the header; the tiling only
// decides who computes it and when.
constexpr int64_t kColBlockPanels = 8;  // 128 columns
constexpr int64_t kRowBlock = 48;       // rows of one work item (cut into row tiles of at most 6)
constexpr int kMaxRowTile = 6;

int64_t panels_of(int64_t n) {
  return (n + kGemmPanel - 1) / kGemmPanel;
}
int64_t panel_bytes(DType d, int64_t k) {
  return k * kGemmPanel * static_cast<int64_t>(dtype_size(d));
}

bool use_avx2(DType) {
  return cpu_has_avx2_f16c();
}

// ---- Packing ---------------------------------------------------------------------------------------------------

// Index, in 16-bit units within one t of a panel, of column c (BF16 pairs columns c and 8 + c in one word).
inline int64_t half_slot(DType d, int c) {
  return d == DType::BF16 ? 2 * (c % 8) + c / 8 : c;
}

void pack_panel(const void* w, DType d, int64_t n, int64_t k, int64_t p, uint8_t* dst) {
  for (int c = 0; c < kGemmPanel; ++c) {
    const int64_t j = p * kGemmPanel + c;  // W row (output column)
    if (d == DType::F32) {
      float* out = reinterpret_cast<float*>(dst);  // [k][16]
      const float* src = static_cast<const float*>(w) + j * k;
      for (int64_t t = 0; t < k; ++t) out[t * kGemmPanel + c] = j < n ? src[t] : 0.0f;
    } else {
      uint16_t* out = reinterpret_cast<uint16_t*>(dst);  // [k][16]
      const uint16_t* src = static_cast<const uint16_t*>(w) + j * k;
      const int64_t slot = half_slot(d, c);
      for (int64_t t = 0; t < k; ++t) out[t * kGemmPanel + slot] = j < n ? src[t] : uint16_t{0};
    }
  }
}

// ---- Scalar path (portable; the reference's order) ---------------------------------------------------------------

template <DType D>
inline float packed_at(const uint8_t* panel, int64_t t, int c) {
  if constexpr (D == DType::F32) {
    return reinterpret_cast<const float*>(panel)[t * kGemmPanel + c];
  } else {
    const uint16_t h = reinterpret_cast<const uint16_t*>(panel)[t * kGemmPanel + half_slot(D, c)];
    return D == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
}

// Rows [r0, r1) x panels [p0, p1).
template <DType D>
void tile_scalar(const float* x, const uint8_t* packed, float* y, const GemmParams& p, int64_t r0, int64_t r1,
                 int64_t p0, int64_t p1) {
  const int64_t pb = panel_bytes(D, p.k);
  for (int64_t i = r0; i < r1; ++i) {
    const float* xi = x + i * p.k;  // [k]
    for (int64_t pi = p0; pi < p1; ++pi) {
      const uint8_t* panel = packed + pi * pb;
      float acc[kGemmPanel] = {};  // +0
      for (int64_t t = 0; t < p.k; ++t) {
        const float xv = xi[t];
        for (int c = 0; c < kGemmPanel; ++c) acc[c] = acc[c] + xv * packed_at<D>(panel, t, c);
      }
      const int64_t col0 = pi * kGemmPanel;
      const int64_t valid = std::min<int64_t>(kGemmPanel, p.n - col0);
      for (int64_t c = 0; c < valid; ++c) y[i * p.n + col0 + c] = acc[c];
    }
  }
}

// ---- AVX2 path ----------------------------------------------------------------------------------------------------
// Compiled for AVX2 + F16C only (no FMA: the build's -ffp-contract=off keeps every multiply and add separate, and the
// target does not even offer fused instructions). Runs only where cpu_has_avx2_f16c().

VERBATIM_AVX2_BEGIN

// The 16 weights of t in one panel, as fp32: lo = columns 0..7, hi = columns 8..15.
template <DType D>
inline void load16(const uint8_t* panel, int64_t t, __m256& lo, __m256& hi) {
  if constexpr (D == DType::F32) {
    const float* w = reinterpret_cast<const float*>(panel) + t * kGemmPanel;
    lo = _mm256_loadu_ps(w);
    hi = _mm256_loadu_ps(w + 8);
  } else if constexpr (D == DType::F16) {
    const __m128i* w = reinterpret_cast<const __m128i*>(panel + t * 32);
    lo = _mm256_cvtph_ps(_mm_loadu_si128(w));
    hi = _mm256_cvtph_ps(_mm_loadu_si128(w + 1));
  } else {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + t * 32));
    lo = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    hi = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
}

// MR rows x NP panels: y[r, 16 NP columns] for r < MR. x: [MR, k] (row stride k); panels: NP panels of pb bytes;
// y: row stride ldy, `valid` columns of the tile's 16 NP are inside the matrix.
template <DType D, int MR, int NP>
void tile_avx2(const float* x, int64_t k, const uint8_t* panels, int64_t pb, float* y, int64_t ldy, int64_t valid) {
  __m256 acc[MR][NP][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) acc[r][q][0] = acc[r][q][1] = _mm256_setzero_ps();  // +0, as the reference
  for (int64_t t = 0; t < k; ++t) {
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) {
      __m256 w0, w1;
      load16<D>(panels + q * pb, t, w0, w1);
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        const __m256 xb = _mm256_broadcast_ss(x + r * k + t);
        acc[r][q][0] = _mm256_add_ps(acc[r][q][0], _mm256_mul_ps(xb, w0));  // acc + x*w: rounded mul, rounded add
        acc[r][q][1] = _mm256_add_ps(acc[r][q][1], _mm256_mul_ps(xb, w1));
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
    for (int q = 0; q < NP; ++q) {
      const int64_t col = q * kGemmPanel;
      float* dst = y + r * ldy + col;
      if (valid - col >= kGemmPanel) {
        _mm256_storeu_ps(dst, acc[r][q][0]);
        _mm256_storeu_ps(dst + 8, acc[r][q][1]);
      } else if (valid > col) {
        alignas(32) float tmp[kGemmPanel];
        _mm256_store_ps(tmp, acc[r][q][0]);
        _mm256_store_ps(tmp + 8, acc[r][q][1]);
        std::memcpy(dst, tmp, static_cast<size_t>(valid - col) * sizeof(float));
      }
    }
  }
}

// Panels [0, np) of a column block for MR rows, NP panels at a time, then the rest with narrower tiles.
template <DType D, int MR, int NP>
void panel_tiles(const float* x, int64_t k, const uint8_t* panels, int64_t pb, int64_t np, float* y, int64_t ldy,
                 int64_t valid) {
  int64_t q = 0;
  for (; q + NP <= np; q += NP)
    tile_avx2<D, MR, NP>(x, k, panels + q * pb, pb, y + q * kGemmPanel, ldy, valid - q * kGemmPanel);
  if constexpr (NP > 1) {
    if (q < np)
      panel_tiles<D, MR, NP - 1>(x, k, panels + q * pb, pb, np - q, y + q * kGemmPanel, ldy, valid - q * kGemmPanel);
  }
}

// Panels per tile for a tile of MR rows: about 8-12 accumulators, leaving registers for the weights and broadcasts.
template <int MR>
constexpr int panels_per_tile() {
  return MR >= 4 ? 1 : MR == 3 ? 2 : MR == 2 ? 3 : 4;
}

template <DType D, int MR>
void rows_avx2(const float* x, int64_t k, const uint8_t* panels, int64_t pb, int64_t np, float* y, int64_t ldy,
               int64_t valid) {
  panel_tiles<D, MR, panels_per_tile<MR>()>(x, k, panels, pb, np, y, ldy, valid);
}

// Rows [r0, r1) x panels [p0, p1).
template <DType D>
void tile_block_avx2(const float* x, const uint8_t* packed, float* y, const GemmParams& p, int64_t r0, int64_t r1,
                     int64_t p0, int64_t p1) {
  const int64_t pb = panel_bytes(D, p.k);
  const uint8_t* panels = packed + p0 * pb;
  const int64_t np = p1 - p0;
  const int64_t col0 = p0 * kGemmPanel;
  const int64_t valid = p.n - col0;
  // Row tiles as even as possible (16 rows: 6 + 5 + 5, not 6 + 6 + 4): short tiles use the FP pipes less well.
  const int64_t n_tiles = (r1 - r0 + kMaxRowTile - 1) / kMaxRowTile;
  for (int64_t tile = 0, i = r0; tile < n_tiles; ++tile) {
    const int mr = static_cast<int>((r1 - i) / (n_tiles - tile) + ((r1 - i) % (n_tiles - tile) != 0));
    const float* xi = x + i * p.k;
    float* yi = y + i * p.n + col0;
    switch (mr) {
      case 1:
        rows_avx2<D, 1>(xi, p.k, panels, pb, np, yi, p.n, valid);
        break;
      case 2:
        rows_avx2<D, 2>(xi, p.k, panels, pb, np, yi, p.n, valid);
        break;
      case 3:
        rows_avx2<D, 3>(xi, p.k, panels, pb, np, yi, p.n, valid);
        break;
      case 4:
        rows_avx2<D, 4>(xi, p.k, panels, pb, np, yi, p.n, valid);
        break;
      case 5:
        rows_avx2<D, 5>(xi, p.k, panels, pb, np, yi, p.n, valid);
        break;
      default:
        rows_avx2<D, 6>(xi, p.k, panels, pb, np, yi, p.n, valid);
        break;
    }
    i += mr;
  }
}

VERBATIM_AVX2_END

template <DType D>
void gemm_typed(const float* x, const uint8_t* packed, float* y, const GemmParams& p) {
  const bool simd = !p.scalar && use_avx2(D);
  const int64_t n_panels = panels_of(p.n);
  // Column blocks of kColBlockPanels panels, down to 4 (a one-row tile's width) when that leaves threads idle.
  const int64_t cb_panels = std::clamp<int64_t>(n_panels / (4 * p.threads), 4, kColBlockPanels);
  const int64_t n_cb = (n_panels + cb_panels - 1) / cb_panels;
  const int64_t n_rb = (p.m + kRowBlock - 1) / kRowBlock;
  const int64_t n_items = n_cb * n_rb;
#pragma omp parallel for num_threads(p.threads) schedule(static) if (p.threads > 1 && n_items > 1)
  for (int64_t item = 0; item < n_items; ++item) {
    const int64_t cb = item / n_rb, rb = item % n_rb;
    const int64_t p0 = cb * cb_panels, p1 = std::min(n_panels, p0 + cb_panels);
    const int64_t r0 = rb * kRowBlock, r1 = std::min(p.m, r0 + kRowBlock);
    if (simd) {
      tile_block_avx2<D>(x, packed, y, p, r0, r1, p0, p1);
    } else {
      tile_scalar<D>(x, packed, y, p, r0, r1, p0, p1);
    }
  }
}

}  // namespace

size_t gemm_packed_bytes(DType dtype, int64_t n, int64_t k) {
  return static_cast<size_t>(panels_of(n)) * static_cast<size_t>(panel_bytes(dtype, k));
}

void gemm_pack(const void* w, DType dtype, void* packed, const GemmPackParams& p) {
  VERBATIM_KERNEL_CHECK(w != nullptr && packed != nullptr && p.n > 0 && p.k > 0 && p.threads > 0);
  const int64_t n_panels = panels_of(p.n);
  const int64_t pb = panel_bytes(dtype, p.k);
  uint8_t* dst = static_cast<uint8_t*>(packed);
#pragma omp parallel for num_threads(p.threads) schedule(static) if (p.threads > 1)
  for (int64_t pi = 0; pi < n_panels; ++pi) pack_panel(w, dtype, p.n, p.k, pi, dst + pi * pb);
}

void gemm(const float* x, const void* packed, DType dtype, float* y, const GemmParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && packed != nullptr && y != nullptr && p.m >= 0 && p.n > 0 && p.k > 0);
  VERBATIM_KERNEL_CHECK(p.threads > 0);
  if (p.m == 0) return;
  const uint8_t* pk = static_cast<const uint8_t*>(packed);
  switch (dtype) {
    case DType::F32:
      gemm_typed<DType::F32>(x, pk, y, p);
      break;
    case DType::F16:
      gemm_typed<DType::F16>(x, pk, y, p);
      break;
    case DType::BF16:
      gemm_typed<DType::BF16>(x, pk, y, p);
      break;
  }
}

const char* gemm_path(DType dtype) {
  return use_avx2(dtype) ? "avx2" : "scalar";
}

}  // namespace verbatim::kernels::cpu

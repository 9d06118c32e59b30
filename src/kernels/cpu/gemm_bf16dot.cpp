#include "kernels/cpu/gemm_bf16dot.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/check.h"
#include "kernels/cpu/gemm_bf16dot_tiles.h"
#include "kernels/cpu/load.h"
#include "kernels/cpu/simd.h"
#include "util/half.h"

// GCC 12 warns that _mm512_undefined_* (meant to be undefined) "may be used uninitialized" inside _mm512_srli_epi32:
// the known false positive of its headers (gemm_avx512.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace verbatim::kernels::cpu {
namespace {

using bf16dot_detail::Item;
using bf16dot_detail::panel_bytes;

constexpr int64_t kRowBlock = 48;  // rows per work item (bf16dot_detail::WorkSplit)

int64_t panels_of(int64_t n) {
  return (n + kGemmPanel - 1) / kGemmPanel;
}

int64_t pairs_of(int64_t k) {
  return (k + 1) / 2;
}

// W[j, t] rounded to bf16 (exact for BF16), 0 outside the matrix.
template <DType D>
uint16_t weight_bf16(const void* w, int64_t n, int64_t k, int64_t j, int64_t t) {
  if (j >= n || t >= k) return 0;
  if constexpr (D == DType::BF16) {
    return static_cast<const uint16_t*>(w)[j * k + t];
  } else {
    return f32_to_bf16(load_weight<D>(w, j * k + t));
  }
}

template <DType D>
void pack_panel(const void* w, int64_t n, int64_t k, int64_t p, uint32_t* dst) {
  const int64_t kh = pairs_of(k);
  for (int c = 0; c < kGemmPanel; ++c) {
    const int64_t j = p * kGemmPanel + c;
    for (int64_t s = 0; s < kh; ++s) {
      const uint32_t lo = weight_bf16<D>(w, n, k, j, 2 * s), hi = weight_bf16<D>(w, n, k, j, 2 * s + 1);
      dst[s * kGemmPanel + c] = lo | (hi << 16);
    }
  }
}

// Row i of x as bf16 pairs (f32_to_bf16's rounding; k odd: the last high half is 0).
void round_row(const float* x, int64_t k, uint32_t* out) {
  const int64_t kh = pairs_of(k);
  for (int64_t s = 0; s < kh; ++s) {
    const uint32_t lo = f32_to_bf16(x[2 * s]);
    const uint32_t hi = 2 * s + 1 < k ? f32_to_bf16(x[2 * s + 1]) : 0u;
    out[s] = lo | (hi << 16);
  }
}

}  // namespace

VERBATIM_AVX512BF16_BEGIN
namespace {

// round_row with AVX-512F integer ops, the same function bit for bit (f32_to_bf16: add 0x7fff + the kept LSB, keep
// the high half; NaN: the high half with the quiet bit set), 16 elements at a time, then round_row's tail. Pairs in
// memory are the bf16 values in element order (word s = element 2s low | 2s + 1 high, little-endian), so 16 rounded
// elements are 8 words.
void round_row_avx512(const float* x, int64_t k, uint32_t* out) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
  int64_t e = 0;
  for (; e + 16 <= k; e += 16) {
    const __m512i bits = _mm512_loadu_si512(x + e);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(bias, lsb)), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, abs_mask), inf);
    const __m512i h = _mm512_mask_or_epi32(rounded, nan, _mm512_srli_epi32(bits, 16), quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + e / 2), _mm512_cvtepi32_epi16(h));
  }
  if (e < k) round_row(x + e, k - e, out + e / 2);
}

}  // namespace
VERBATIM_AVX512BF16_END

void bf16dot_detail::round_row_pairs(const float* x, int64_t k, uint32_t* out) {
  if (cpu_has_avx512_bf16()) {
    round_row_avx512(x, k, out);
  } else {
    round_row(x, k, out);
  }
}

namespace {

template <DType D>
void pack_typed(const void* w, void* packed, const GemmPackParams& p) {
  const int64_t n_panels = panels_of(p.n);
  const int64_t words = panel_bytes(pairs_of(p.k)) / 4;
  uint32_t* dst = static_cast<uint32_t*>(packed);
#pragma omp parallel for num_threads(p.threads) schedule(static) if (p.threads > 1)
  for (int64_t pi = 0; pi < n_panels; ++pi) pack_panel<D>(w, p.n, p.k, pi, dst + pi * words);
}

// DAZ: a denormal reads as a zero of its sign. FTZ of a result is the same function.
inline float daz(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  if ((b & 0x7f800000u) == 0) b &= 0x80000000u;
  std::memcpy(&v, &b, 4);
  return v;
}

}  // namespace

bool gemm_bf16dot_available() {
  return cpu_has_avx512_bf16();
}

size_t gemm_bf16dot_packed_bytes(int64_t n, int64_t k) {
  return static_cast<size_t>(panels_of(n)) * static_cast<size_t>(panel_bytes(pairs_of(k)));
}

void gemm_bf16dot_pack(const void* w, DType dtype, void* packed, const GemmPackParams& p) {
  VERBATIM_KERNEL_CHECK(w != nullptr && packed != nullptr && p.n > 0 && p.k > 0 && p.threads > 0);
  dispatch_dtype(dtype, [&](auto tag) { pack_typed<decltype(tag)::value>(w, packed, p); });
}

size_t gemm_bf16dot_scratch_bytes(int64_t m, int64_t k) {
  return static_cast<size_t>(std::max<int64_t>(m, 0)) * static_cast<size_t>(pairs_of(k)) * 4;
}

void gemm_bf16dot(const float* x, const void* packed, float* y, void* scratch, const GemmBf16DotParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && packed != nullptr && y != nullptr && scratch != nullptr);
  VERBATIM_KERNEL_CHECK(p.m >= 0 && p.n > 0 && p.k > 0 && p.threads > 0 && gemm_bf16dot_available());
  if (p.m == 0) return;
  const int64_t kh = pairs_of(p.k);
  uint32_t* xb = static_cast<uint32_t*>(scratch);
  const bf16dot_detail::WorkSplit split(p.m, p.n, p.threads, kRowBlock);
  const uint8_t* pk = static_cast<const uint8_t*>(packed);
  // One parallel region: the threads round the rows of x (each row once, by one thread), meet at the loop's
  // barrier, then take the items.
#pragma omp parallel num_threads(p.threads) if (p.threads > 1 && split.n_items > 1)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p.m; ++i) round_row_avx512(x + i * p.k, p.k, xb + i * kh);
#pragma omp for schedule(static)
    for (int64_t item = 0; item < split.n_items; ++item) {
      int64_t r0, r1, p0, p1;
      split.item(item, r0, r1, p0, p1);
      bf16dot_detail::item_avx512bf16(
          {.x = xb, .packed = pk, .y = y, .n = p.n, .kh = kh, .r0 = r0, .r1 = r1, .p0 = p0, .p1 = p1});
    }
  }
}

float bf16dot_step(float acc, uint32_t a_pair, uint32_t b_pair) {
  const float a_hi = daz(bf16_to_f32(static_cast<uint16_t>(a_pair >> 16)));
  const float b_hi = daz(bf16_to_f32(static_cast<uint16_t>(b_pair >> 16)));
  const float a_lo = daz(bf16_to_f32(static_cast<uint16_t>(a_pair & 0xffffu)));
  const float b_lo = daz(bf16_to_f32(static_cast<uint16_t>(b_pair & 0xffffu)));
  // a * b of two bf16 is exact in fp32 (8 + 8 significant bits) but for overflow and underflow; std::fma rounds the
  // exact a * b + acc once, which is "the exact product, added with one rounding" in every case.
  acc = daz(std::fma(a_hi, b_hi, daz(acc)));
  return daz(std::fma(a_lo, b_lo, acc));
}

void gemm_bf16dot_reference(const float* x, const void* w, DType dtype, float* y, int64_t m, int64_t n, int64_t k) {
  VERBATIM_KERNEL_CHECK(x != nullptr && w != nullptr && y != nullptr && m >= 0 && n > 0 && k > 0);
  const int64_t kh = pairs_of(k);
  std::vector<uint32_t> xr(static_cast<size_t>(kh)), wr(static_cast<size_t>(kh));
  dispatch_dtype(dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    for (int64_t i = 0; i < m; ++i) {
      round_row(x + i * k, k, xr.data());
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t s = 0; s < kh; ++s)
          wr[s] = weight_bf16<D>(w, n, k, j, 2 * s) | (uint32_t{weight_bf16<D>(w, n, k, j, 2 * s + 1)} << 16);
        float acc = 0.0f;
        for (int64_t s = 0; s < kh; ++s) acc = bf16dot_step(acc, xr[s], wr[s]);
        y[i * n + j] = acc;
      }
    }
  });
}

}  // namespace verbatim::kernels::cpu

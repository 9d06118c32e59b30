#include "kernels/cpu/swiglu.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/check.h"
#include "kernels/cpu/simd.h"

// GCC 12's false positive on _mm512_undefined_* inside its intrinsics (see gemm_avx512.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace verbatim::kernels::cpu {
namespace {

constexpr double kLog2e = 0x1.71547652b82fep0;
constexpr double kLn2Hi = 0x1.62e42fefa39efp-1;
constexpr double kLn2Lo = 0x1.abc9e3b39803fp-56;
constexpr double kShift = 0x1.8p52;
constexpr float kMaxArg = 88.8f;    // e^88.8 > FLT_MAX: +inf
constexpr float kMinArg = -104.0f;  // e^-104 < half the smallest float denormal: +0
// 1 / i!, i = 11 .. 0
constexpr double kC[12] = {1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                           1.0 / 120.0,      1.0 / 24.0,      1.0 / 6.0,      0.5,           1.0,          1.0};

int64_t bits_of(double v) {
  int64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

double from_bits(int64_t b) {
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

}  // namespace

float swiglu_exp(float v) {
  if (v != v) return v;
  if (v > kMaxArg) return std::numeric_limits<float>::infinity();
  if (v < kMinArg) return 0.0f;
  const double d = static_cast<double>(v);
  const double kd = std::fma(d, kLog2e, kShift);
  const int64_t ki = bits_of(kd) - bits_of(kShift);
  const double k = kd - kShift;
  double r = std::fma(-k, kLn2Hi, d);
  r = std::fma(-k, kLn2Lo, r);
  double p = kC[0];
  for (int i = 1; i < 12; ++i) p = std::fma(p, r, kC[i]);
  return static_cast<float>(p * from_bits((ki + 1023) << 52));
}

void swiglu_scalar(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float silu = g / (1.0f + swiglu_exp(-g));
    out[i] = silu * up[i];
  }
}

VERBATIM_AVX512_BEGIN
namespace {

// swiglu_exp of 8 floats (as doubles), the same operations.
inline __m256 exp8(__m256 v) {
  const __m512d d = _mm512_cvtps_pd(v);
  const __m512d kd = _mm512_fmadd_pd(d, _mm512_set1_pd(kLog2e), _mm512_set1_pd(kShift));
  const __m512i ki = _mm512_sub_epi64(_mm512_castpd_si512(kd), _mm512_set1_epi64(bits_of(kShift)));
  const __m512d k = _mm512_sub_pd(kd, _mm512_set1_pd(kShift));
  __m512d r = _mm512_fmadd_pd(k, _mm512_set1_pd(-kLn2Hi), d);
  r = _mm512_fmadd_pd(k, _mm512_set1_pd(-kLn2Lo), r);
  __m512d p = _mm512_set1_pd(kC[0]);
  for (int i = 1; i < 12; ++i) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kC[i]));
  const __m512d scale = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(ki, _mm512_set1_epi64(1023)), 52));
  return _mm512_cvtpd_ps(_mm512_mul_pd(p, scale));  // one rounding to nearest even (MXCSR default)
}

void swiglu_avx512(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  const __m256 max_arg = _mm256_set1_ps(kMaxArg), min_arg = _mm256_set1_ps(kMinArg);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 v = _mm256_xor_ps(g, sign);  // -g: the sign bit flipped, as the scalar's unary minus
    // Clamp first (the in-range lanes are untouched), then patch the out-of-range and NaN lanes.
    const __m256 vc = _mm256_min_ps(_mm256_max_ps(v, min_arg), max_arg);
    __m256 e = exp8(vc);
    e = _mm256_blendv_ps(e, inf, _mm256_cmp_ps(v, max_arg, _CMP_GT_OQ));
    e = _mm256_blendv_ps(e, _mm256_setzero_ps(), _mm256_cmp_ps(v, min_arg, _CMP_LT_OQ));
    e = _mm256_blendv_ps(e, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  swiglu_scalar(gate + i, up + i, out + i, n - i);
}

}  // namespace
VERBATIM_AVX512_END

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  VERBATIM_KERNEL_CHECK(gate != nullptr && up != nullptr && out != nullptr && n >= 0);
  if (cpu_has_avx512f()) {
    swiglu_avx512(gate, up, out, n);
  } else {
    swiglu_scalar(gate, up, out, n);
  }
}

}  // namespace verbatim::kernels::cpu

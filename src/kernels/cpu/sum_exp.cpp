#include "kernels/cpu/sum_exp.h"

#include <immintrin.h>

#include <cmath>
#include <cstring>

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
constexpr double kShift = 0x1.8p52;  // adding it rounds to an integer (|value| < 2^51), kept in the low mantissa bits
constexpr double kMinArg = -708.0;   // exp(-708) = 3.3e-308 > 2^-1022: every result kept is a normal number
// 1 / i!, i = 13 .. 0
constexpr double kC[14] = {1.0 / 6227020800.0,
                           1.0 / 479001600.0,
                           1.0 / 39916800.0,
                           1.0 / 3628800.0,
                           1.0 / 362880.0,
                           1.0 / 40320.0,
                           1.0 / 5040.0,
                           1.0 / 720.0,
                           1.0 / 120.0,
                           1.0 / 24.0,
                           1.0 / 6.0,
                           0.5,
                           1.0,
                           1.0};

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

double combine(const double* s) {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

}  // namespace

double exp_nonpos(double d) {
  if (!(d >= kMinArg)) return 0.0;
  const double kd = std::fma(d, kLog2e, kShift);
  const int64_t ki = bits_of(kd) - bits_of(kShift);
  const double k = kd - kShift;
  double r = std::fma(-k, kLn2Hi, d);
  r = std::fma(-k, kLn2Lo, r);
  double p = kC[0];
  for (int i = 1; i < 14; ++i) p = std::fma(p, r, kC[i]);
  return p * from_bits((ki + 1023) << 52);
}

double sum_exp_shifted_scalar(const float* x, int64_t n, double m) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) s[i % 8] += exp_nonpos(static_cast<double>(x[i]) - m);
  return combine(s);
}

VERBATIM_AVX512_BEGIN
namespace {

double sum_exp_shifted_avx512(const float* x, int64_t n, double m) {
  const __m512d vm = _mm512_set1_pd(m), log2e = _mm512_set1_pd(kLog2e), shift = _mm512_set1_pd(kShift);
  const __m512d ln2hi = _mm512_set1_pd(-kLn2Hi), ln2lo = _mm512_set1_pd(-kLn2Lo), minarg = _mm512_set1_pd(kMinArg);
  const __m512i shift_bits = _mm512_set1_epi64(bits_of(kShift)), bias = _mm512_set1_epi64(1023);
  __m512d acc = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 in = n - i >= 8 ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << (n - i)) - 1);
    const __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(in, x + i))), vm);
    const __mmask8 keep = _mm512_mask_cmp_pd_mask(in, d, minarg, _CMP_GE_OQ);
    const __m512d kd = _mm512_fmadd_pd(d, log2e, shift);
    const __m512i ki = _mm512_sub_epi64(_mm512_castpd_si512(kd), shift_bits);
    const __m512d k = _mm512_sub_pd(kd, shift);
    __m512d r = _mm512_fmadd_pd(k, ln2hi, d);  // d - k ln2_hi, one rounding (as std::fma(-k, ln2_hi, d))
    r = _mm512_fmadd_pd(k, ln2lo, r);
    __m512d p = _mm512_set1_pd(kC[0]);
    for (int c = 1; c < 14; ++c) p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(kC[c]));
    const __m512d scale = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(ki, bias), 52));
    acc = _mm512_mask_add_pd(acc, keep, acc, _mm512_mul_pd(p, scale));  // lanes not kept add nothing (as + 0)
  }
  alignas(64) double s[8];
  _mm512_store_pd(s, acc);
  return combine(s);
}

}  // namespace
VERBATIM_AVX512_END

double sum_exp_shifted(const float* x, int64_t n, double m) {
  return cpu_has_avx512f() ? sum_exp_shifted_avx512(x, n, m) : sum_exp_shifted_scalar(x, n, m);
}

}  // namespace verbatim::kernels::cpu

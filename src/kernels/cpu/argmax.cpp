#include "kernels/cpu/argmax.h"

#include <immintrin.h>

#include <limits>

#include "kernels/cpu/check.h"
#include "kernels/cpu/simd.h"

namespace verbatim::kernels::cpu {

int64_t argmax_scalar(const float* x, int64_t n) {
  int64_t best_index = 0;
  float best = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] > best) {  // strict: an equal value later never replaces the earlier index; NaN compares false
      best = x[i];
      best_index = i;
    }
  }
  return best_index;
}

VERBATIM_AVX512_BEGIN
namespace {

// The same index in two passes: the maximum M over the non-NaN values (a max is exact in any order), then the first
// index whose value equals M (== also matches the other zero's sign, as the scalar's > never prefers one zero over
// the other). M = -inf (no element greater than -inf): index 0, as the scalar.
int64_t argmax_avx512(const float* x, int64_t n) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 best = neg_inf;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 in = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 v = _mm512_maskz_loadu_ps(in, x + i);
    const __mmask16 ordered = _mm512_mask_cmp_ps_mask(in, v, v, _CMP_ORD_Q);
    best = _mm512_mask_max_ps(best, ordered, best, v);
  }
  const float m = _mm512_reduce_max_ps(best);
  if (!(m > -std::numeric_limits<float>::infinity())) return 0;
  const __m512 vm = _mm512_set1_ps(m);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 in = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __mmask16 eq = _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, x + i), vm, _CMP_EQ_OQ);
    if (eq != 0) return i + __builtin_ctz(eq);
  }
  return 0;  // not reached: m is one of the values
}

}  // namespace
VERBATIM_AVX512_END

int64_t argmax(const float* x, int64_t n) {
  VERBATIM_KERNEL_CHECK(x != nullptr && n > 0);
  return cpu_has_avx512f() ? argmax_avx512(x, n) : argmax_scalar(x, n);
}

}  // namespace verbatim::kernels::cpu

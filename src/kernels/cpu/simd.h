// Runtime dispatch to AVX2 code in a portable build. Code between VERBATIM_AVX2_BEGIN and VERBATIM_AVX2_END is
// compiled for AVX2 + F16C (GCC and clang each have their own pragma for that) and must only run when
// cpu_has_avx2_f16c() says the processor has both. A given machine always takes the same path, so dispatch never
// changes bits between runs; the scalar fallbacks keep the same reduction order as the AVX2 code.
#pragma once

#include <cpuid.h>

#if defined(__clang__)
#define VERBATIM_AVX2_BEGIN \
  _Pragma("clang attribute push (__attribute__((target(\"avx2,f16c\"))), apply_to = function)")
#define VERBATIM_AVX2_END _Pragma("clang attribute pop")
#else
#define VERBATIM_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,f16c\")")
#define VERBATIM_AVX2_END _Pragma("GCC pop_options")
#endif

namespace verbatim::kernels::cpu {

// Whether this processor runs AVX2 and F16C code (read once; CPUID leaves 1 and 7).
inline bool cpu_has_avx2_f16c() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0) return false;
    const bool f16c = (c & (1u << 29)) != 0;
    const bool osxsave = (c & (1u << 27)) != 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
    const bool avx2 = (b & (1u << 5)) != 0;
    return f16c && osxsave && avx2;
  }();
  return has;
}

}  // namespace verbatim::kernels::cpu

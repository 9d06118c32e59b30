// Runtime dispatch to AVX2 / AVX-512 code in a portable (baseline x86-64) build.
//   VERBATIM_AVX2_BEGIN .. _END      code compiled for AVX2 + F16C; runs only where cpu_has_avx2_f16c()
//   VERBATIM_AVX2FMA_BEGIN .. _END   AVX2 + F16C + FMA; runs only where cpu_has_avx2_fma()
//   VERBATIM_AVX512_BEGIN .. _END    AVX-512F (+ AVX2, F16C, FMA); runs only where cpu_has_avx512f()
//   VERBATIM_AVX512BF16_BEGIN .. _END  AVX-512F + BF16 (vdpbf16ps); runs only where cpu_has_avx512_bf16()
//   VERBATIM_AMX_BEGIN .. _END       AMX-TILE + AMX-BF16 (+ the above); runs only where cpu_has_amx_bf16() and the
//                                    OS has granted the process the tile data state (kernels/cpu/gemm_amx.h)
// (GCC and clang each have their own pragma for that.) A given machine always takes the same path, so dispatch never
// changes bits between runs; every kernel's paths keep one reduction order, so they also agree with each other and
// with the scalar fallback (the tests compare them bitwise on each machine that has them).
#pragma once

#include <cpuid.h>

#if defined(__clang__)
#define VERBATIM_AVX2_BEGIN \
  _Pragma("clang attribute push (__attribute__((target(\"avx2,f16c\"))), apply_to = function)")
#define VERBATIM_AVX2_END _Pragma("clang attribute pop")
#define VERBATIM_AVX2FMA_BEGIN \
  _Pragma("clang attribute push (__attribute__((target(\"avx2,f16c,fma\"))), apply_to = function)")
#define VERBATIM_AVX2FMA_END _Pragma("clang attribute pop")
#define VERBATIM_AVX512_BEGIN \
  _Pragma("clang attribute push (__attribute__((target(\"avx512f,avx2,f16c,fma\"))), apply_to = function)")
#define VERBATIM_AVX512_END _Pragma("clang attribute pop")
#define VERBATIM_AVX512BF16_BEGIN \
  _Pragma("clang attribute push (__attribute__((target(\"avx512f,avx512bf16,avx2,f16c,fma\"))), apply_to = function)")
#define VERBATIM_AVX512BF16_END _Pragma("clang attribute pop")
// One string literal, however long: _Pragma takes no concatenation.
// clang-format off
#define VERBATIM_AMX_BEGIN _Pragma("clang attribute push (__attribute__((target(\"amx-tile,amx-bf16,avx512f,avx512bf16,avx2,f16c,fma\"))), apply_to = function)")
// clang-format on
#define VERBATIM_AMX_END _Pragma("clang attribute pop")
#else
#define VERBATIM_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,f16c\")")
#define VERBATIM_AVX2_END _Pragma("GCC pop_options")
#define VERBATIM_AVX2FMA_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,f16c,fma\")")
#define VERBATIM_AVX2FMA_END _Pragma("GCC pop_options")
#define VERBATIM_AVX512_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx2,f16c,fma\")")
#define VERBATIM_AVX512_END _Pragma("GCC pop_options")
#define VERBATIM_AVX512BF16_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx512f,avx512bf16,avx2,f16c,fma\")")
#define VERBATIM_AVX512BF16_END _Pragma("GCC pop_options")
#define VERBATIM_AMX_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC target(\"amx-tile,amx-bf16,avx512f,avx512bf16,avx2,f16c,fma\")")
#define VERBATIM_AMX_END _Pragma("GCC pop_options")
#endif

namespace verbatim::kernels::cpu {

namespace simd_detail {

struct CpuFeatures {
  bool avx2_f16c = false;    // AVX2 + F16C, and the OS saves ymm state
  bool fma = false;          // FMA3
  bool avx512f = false;      // AVX-512F, and the OS saves zmm and opmask state
  bool avx512_bf16 = false;  // AVX512_BF16 (vdpbf16ps, vcvtne2ps2bf16) on top of avx512f
  bool amx_bf16 = false;     // AMX-TILE + AMX-BF16 (tdpbf16ps), the OS enabling XTILECFG/XTILEDATA in XCR0, on top
                             // of avx512_bf16 (the OS's per-process permission is asked separately: gemm_amx.h)
};

inline CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return f;
  const bool f16c = (c & (1u << 29)) != 0;
  const bool osxsave = (c & (1u << 27)) != 0;
  const bool fma = (c & (1u << 12)) != 0;
  if (!osxsave) return f;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool os_ymm = (xcr0_lo & 0x6u) == 0x6u;    // SSE + AVX state
  const bool os_zmm = (xcr0_lo & 0xe6u) == 0xe6u;  // + opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return f;
  const bool avx2 = (b & (1u << 5)) != 0;
  const bool avx512f = (b & (1u << 16)) != 0;
  f.avx2_f16c = avx2 && f16c && os_ymm;
  f.fma = f.avx2_f16c && fma;
  f.avx512f = f.fma && avx512f && os_zmm;
  if (f.avx512f && a >= 1) {  // leaf 7's EAX: the highest subleaf
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) != 0) f.avx512_bf16 = (a1 & (1u << 5)) != 0;
  }
  const bool os_tiles = (xcr0_lo & 0x60000u) == 0x60000u;  // XTILECFG (bit 17) + XTILEDATA (bit 18)
  f.amx_bf16 = f.avx512_bf16 && os_tiles && (d & (1u << 22)) != 0 && (d & (1u << 24)) != 0;  // AMX-BF16, AMX-TILE
  return f;
}

inline const CpuFeatures& features() {
  static const CpuFeatures f = detect();  // read once
  return f;
}

}  // namespace simd_detail

// Whether this processor (and OS) runs AVX2 and F16C code.
inline bool cpu_has_avx2_f16c() {
  return simd_detail::features().avx2_f16c;
}

// ... AVX2, F16C and FMA3 code.
inline bool cpu_has_avx2_fma() {
  return simd_detail::features().fma;
}

// ... AVX-512F code (and everything cpu_has_avx2_fma() allows).
inline bool cpu_has_avx512f() {
  return simd_detail::features().avx512f;
}

// ... AVX512_BF16 code (and everything cpu_has_avx512f() allows).
inline bool cpu_has_avx512_bf16() {
  return simd_detail::features().avx512_bf16;
}

// ... AMX-BF16 code (and everything cpu_has_avx512_bf16() allows), once the process holds the OS's permission for
// the tile data (gemm_amx_available() asks for it).
inline bool cpu_has_amx_bf16() {
  return simd_detail::features().amx_bf16;
}

}  // namespace verbatim::kernels::cpu

// The SwiGLU activation of the Llama MLP: out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + e(-x)) in fp32 (the
// expression PyTorch's silu evaluates), with e = swiglu_exp below instead of libm's expf: the same result as expf in
// nearly every case (computed in double, then rounded once to float; tests/unit/kernels_basic_test.cpp counts the
// differences: ~0.06% of random arguments, by 1 ulp, the most allowed), but 8 lanes at a time with AVX-512 (the exp in
// zmm doubles). The vector path runs exactly the scalar definition's operations, so every path (and the reference
// model, which calls this kernel) gives the same bits.
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

// gate, up, out: [n] (out may alias gate or up).
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// e^v as float: NaN for NaN, +inf above 88.8, +0 below -104; otherwise, in double: k = round(v / ln 2) (shift trick,
// one fma), r = v - k ln2_hi - k ln2_lo (two fmas), p = degree-11 Taylor polynomial of e^r (Horner, fmas),
// float(p * 2^k) (one rounding to nearest even, denormal floats included).
float swiglu_exp(float v);

// The portable path of swiglu (the tests compare it with the vector path bitwise).
void swiglu_scalar(const float* gate, const float* up, float* out, int64_t n);

}  // namespace verbatim::kernels::cpu

// The sum of exponentials behind logsumexp (kernels/cpu/log_softmax.h), vectorized with one fixed definition:
//
//   exp_nonpos(d), for d <= 0 (or -inf): 0 where d < -708 (results below 2^-1022, and -inf); otherwise
//     k = round(d / ln 2) (the 1.5 * 2^52 shift trick, one fma), r = d - k ln2_hi - k ln2_lo (two fmas),
//     p = the degree-13 Taylor polynomial of e^r by Horner (fmas), exp = p * 2^k.
//     Within 2 ulp of libm's exp on that range (tests/unit/kernels_sum_exp_test.cpp measures it).
//   sum_exp_shifted(x, n, m) = sum_i exp_nonpos(double(x[i]) - m), summed in 8 lanes (element i into lane i % 8, in
//     increasing i) and the lanes combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
//
// The order is fixed by n alone, so the result is a pure function of the row; the AVX-512 path (8 doubles per zmm)
// and the portable path compute exactly these operations and give the same bits (the tests compare them). Used by
// logsumexp, i.e. by every logprob the engine reports (sampler and scorer alike).
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

double exp_nonpos(double d);

// x: [n] (no NaN; -inf allowed), every double(x[i]) - m <= 0 (m = the row's max).
double sum_exp_shifted(const float* x, int64_t n, double m);

// The portable path of sum_exp_shifted (tests compare the two).
double sum_exp_shifted_scalar(const float* x, int64_t n, double m);

}  // namespace verbatim::kernels::cpu

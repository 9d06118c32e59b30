// Log-probabilities of a logits row. This is THE function behind every logprob the engine reports (the sampler's
// `logprob` and `top`, scoring): one definition, so reported numbers never depend on which path produced them.
// Computed in double, in one fixed order:
//   m   = max_i x[i]                                   (fp32 compare, index order)
//   s   = sum_i exp(double(x[i]) - m)                  (double: kernels/cpu/sum_exp.h, its own exp within 2 ulp of
//                                                       libm's, 8 lanes i % 8 in index order, then a fixed tree)
//   lse = m + log(s)                                   (double, libm log)
//   logprob[i] = float(double(x[i]) - lse)
// Inputs must not be NaN and not all -inf (the sampler sanitizes first); -inf entries give -inf.
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

// log(sum_i exp(x[i])) as above. x: [n], n > 0.
double logsumexp(const float* x, int64_t n);

// The logprob of a logit given its row's logsumexp(): float(double(x) - lse).
inline float logprob_from_lse(float x, double lse) {
  return static_cast<float>(static_cast<double>(x) - lse);
}

// out[i] = logprob_from_lse(x[i], logsumexp(x, n)). x, out: [n] (out may alias x).
void log_softmax(const float* x, int64_t n, float* out);

}  // namespace verbatim::kernels::cpu

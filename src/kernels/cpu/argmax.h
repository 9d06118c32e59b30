// Greedy decoding's choice: the index of the largest value, the LOWEST index among equal maxima. NaN never wins.
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

// x: [n], n > 0. Returns 0 when no element compares greater than -inf (all -inf or NaN); callers that must tell
// that case apart check for it themselves (the sampler rejects such rows).
// AVX-512 where the CPU has it (a max pass, then the first index equal to the max), else argmax_scalar: the same index.
int64_t argmax(const float* x, int64_t n);

// The definition: best = -inf; for i in order, if x[i] > best: best = x[i], index = i.
int64_t argmax_scalar(const float* x, int64_t n);

}  // namespace verbatim::kernels::cpu

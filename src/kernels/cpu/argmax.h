// Greedy decoding's choice: the index of the largest value, the LOWEST index among equal maxima. NaN never wins.
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

// x: [n], n > 0. Returns 0 when no element compares greater than -inf (all -inf or NaN); callers that must tell
// that case apart check for it themselves (the sampler rejects such rows).
int64_t argmax(const float* x, int64_t n);

}  // namespace verbatim::kernels::cpu

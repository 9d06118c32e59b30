// Softmax in fp32, in one fixed order: m = max x; e[i] = expf(x[i] - m); s = e[0] + e[1] + ... (sequential);
// x[i] = e[i] / s. The attention weights use it.
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

// In place over x: [n], n > 0. Inputs must not be NaN; -inf entries get probability 0 (not all of them may be -inf).
void softmax(float* x, int64_t n);

}  // namespace verbatim::kernels::cpu

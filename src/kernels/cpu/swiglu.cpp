#include "kernels/cpu/swiglu.h"

#include <cmath>

#include "kernels/cpu/check.h"

namespace verbatim::kernels::cpu {

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  VERBATIM_KERNEL_CHECK(gate != nullptr && up != nullptr && out != nullptr && n >= 0);
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float silu = g / (1.0f + std::exp(-g));
    out[i] = silu * up[i];
  }
}

}  // namespace verbatim::kernels::cpu

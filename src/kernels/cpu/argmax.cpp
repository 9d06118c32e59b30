#include "kernels/cpu/argmax.h"

#include <limits>

#include "kernels/cpu/check.h"

namespace verbatim::kernels::cpu {

int64_t argmax(const float* x, int64_t n) {
  VERBATIM_KERNEL_CHECK(x != nullptr && n > 0);
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

}  // namespace verbatim::kernels::cpu

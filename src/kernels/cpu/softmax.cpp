#include "kernels/cpu/softmax.h"

#include <cmath>

#include "kernels/cpu/check.h"

namespace verbatim::kernels::cpu {

void softmax(float* x, int64_t n) {
  VERBATIM_KERNEL_CHECK(x != nullptr && n > 0);
  float max = x[0];
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > max) max = x[i];
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / sum;
}

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/add.h"

#include "kernels/cpu/check.h"
#include "kernels/cpu/load.h"

namespace verbatim::kernels::cpu {

void add_bias(float* y, const void* bias, DType bias_dtype, int64_t rows, int64_t n) {
  VERBATIM_KERNEL_CHECK(y != nullptr && bias != nullptr && rows >= 0 && n > 0);
  dispatch_dtype(bias_dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    for (int64_t i = 0; i < rows; ++i) {
      float* yi = y + i * n;  // [n]
      for (int64_t j = 0; j < n; ++j) yi[j] = yi[j] + load_weight<D>(bias, j);
    }
  });
}

void add_inplace(float* x, const float* y, int64_t n) {
  VERBATIM_KERNEL_CHECK(x != nullptr && y != nullptr && n >= 0);
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] + y[i];
}

}  // namespace verbatim::kernels::cpu

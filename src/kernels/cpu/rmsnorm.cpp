#include "kernels/cpu/rmsnorm.h"

#include <cmath>

#include "kernels/cpu/check.h"
#include "kernels/cpu/load.h"

namespace verbatim::kernels::cpu {

void rmsnorm(const float* x, const void* w, DType w_dtype, float* y, int64_t rows, const RmsNormParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && w != nullptr && y != nullptr && p.n > 0 && rows >= 0);
  dispatch_dtype(w_dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * p.n;  // [n]
      float* yr = y + r * p.n;        // [n]
      float ss = 0.0f;
      for (int64_t i = 0; i < p.n; ++i) ss += xr[i] * xr[i];
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(p.n) + p.eps);
      for (int64_t i = 0; i < p.n; ++i) yr[i] = load_weight<D>(w, i) * (xr[i] * inv);
    }
  });
}

}  // namespace verbatim::kernels::cpu

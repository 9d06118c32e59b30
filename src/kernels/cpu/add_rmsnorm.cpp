#include "kernels/cpu/add_rmsnorm.h"

#include <cmath>

#include "kernels/cpu/check.h"
#include "kernels/cpu/load.h"

namespace verbatim::kernels::cpu {

void add_rmsnorm(float* residual, const float* x, const void* w, DType w_dtype, float* y, int64_t rows,
                 const RmsNormParams& p, int threads) {
  VERBATIM_KERNEL_CHECK(residual != nullptr && x != nullptr && w != nullptr && y != nullptr && p.n > 0);
  VERBATIM_KERNEL_CHECK(rows >= 0 && threads > 0);
  dispatch_dtype(w_dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
      float* res = residual + r * p.n;                            // [n]
      const float* xr = x + r * p.n;                              // [n]
      float* yr = y + r * p.n;                                    // [n]
      for (int64_t i = 0; i < p.n; ++i) res[i] = res[i] + xr[i];  // add_inplace
      float ss = 0.0f;                                            // rmsnorm, as kernels/cpu/rmsnorm.cpp
      for (int64_t i = 0; i < p.n; ++i) ss += res[i] * res[i];
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(p.n) + p.eps);
      for (int64_t i = 0; i < p.n; ++i) yr[i] = load_weight<D>(w, i) * (res[i] * inv);
    }
  });
}

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/matmul.h"

#include "kernels/cpu/check.h"
#include "kernels/cpu/load.h"

namespace verbatim::kernels::cpu {

void matmul(const float* x, const void* w, DType w_dtype, float* y, const MatmulParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && w != nullptr && y != nullptr && p.m >= 0 && p.n > 0 && p.k > 0);
  dispatch_dtype(w_dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    for (int64_t i = 0; i < p.m; ++i) {
      const float* xi = x + i * p.k;  // [k]
      float* yi = y + i * p.n;        // [n]
      for (int64_t j = 0; j < p.n; ++j) {
        const int64_t row = j * p.k;  // W[j, :]
        float acc = 0.0f;
        for (int64_t t = 0; t < p.k; ++t) acc += xi[t] * load_weight<D>(w, row + t);
        yi[j] = acc;
      }
    }
  });
}

}  // namespace verbatim::kernels::cpu

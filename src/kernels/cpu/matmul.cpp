#include "kernels/cpu/matmul.h"

#include <cmath>

#include "kernels/cpu/check.h"
#include "kernels/cpu/load.h"
#include "kernels/cpu/simd.h"

namespace verbatim::kernels::cpu {
namespace {

// The reference loop, written once. Compiled twice: for the baseline target (std::fma is then a libm call, exact
// everywhere) and for an FMA target (std::fma is then one vfmadd instruction, the same bits, faster).
#define VERBATIM_MATMUL_BODY                                                                      \
  dispatch_dtype(w_dtype, [&](auto tag) {                                                         \
    constexpr DType D = decltype(tag)::value;                                                     \
    for (int64_t i = 0; i < p.m; ++i) {                                                           \
      const float* xi = x + i * p.k; /* [k] */                                                    \
      float* yi = y + i * p.n;       /* [n] */                                                    \
      for (int64_t j = 0; j < p.n; ++j) {                                                         \
        const int64_t row = j * p.k; /* W[j, :] */                                                \
        float acc = 0.0f;                                                                         \
        for (int64_t t = 0; t < p.k; ++t) acc = std::fma(xi[t], load_weight<D>(w, row + t), acc); \
        yi[j] = acc;                                                                              \
      }                                                                                           \
    }                                                                                             \
  })

void matmul_portable(const float* x, const void* w, DType w_dtype, float* y, const MatmulParams& p) {
  VERBATIM_MATMUL_BODY;
}

VERBATIM_AVX2FMA_BEGIN
void matmul_fma(const float* x, const void* w, DType w_dtype, float* y, const MatmulParams& p) {
  VERBATIM_MATMUL_BODY;
}
VERBATIM_AVX2FMA_END

#undef VERBATIM_MATMUL_BODY

}  // namespace

void matmul(const float* x, const void* w, DType w_dtype, float* y, const MatmulParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && w != nullptr && y != nullptr && p.m >= 0 && p.n > 0 && p.k > 0);
  if (cpu_has_avx2_fma()) {
    matmul_fma(x, w, w_dtype, y, p);
  } else {
    matmul_portable(x, w, w_dtype, y, p);
  }
}

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/embedding.h"

#include "kernels/cpu/check.h"
#include "kernels/cpu/load.h"

namespace verbatim::kernels::cpu {

void embedding(const void* table, DType dtype, const int32_t* tokens, int64_t n_tokens, float* out,
               const EmbeddingParams& p) {
  VERBATIM_KERNEL_CHECK(table != nullptr && out != nullptr && p.vocab > 0 && p.dim > 0 && n_tokens >= 0);
  for (int64_t t = 0; t < n_tokens; ++t) VERBATIM_KERNEL_CHECK(tokens[t] >= 0 && tokens[t] < p.vocab);
  dispatch_dtype(dtype, [&](auto tag) {
    constexpr DType D = decltype(tag)::value;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const int64_t row = static_cast<int64_t>(tokens[t]) * p.dim;
      float* y = out + t * p.dim;  // [dim]
      for (int64_t i = 0; i < p.dim; ++i) y[i] = load_weight<D>(table, row + i);
    }
  });
}

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/rope_rows.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/check.h"

namespace verbatim::kernels::cpu {

void rope_rows(float* x, const int32_t* positions, int64_t n_rows, const float* inv_freq, const RopeParams& p,
               int threads) {
  VERBATIM_KERNEL_CHECK(x != nullptr && inv_freq != nullptr && p.n_heads > 0 && p.head_dim > 0 && p.head_dim % 2 == 0 &&
                        n_rows >= 0 && threads > 0);
  for (int64_t t = 0; t < n_rows; ++t) VERBATIM_KERNEL_CHECK(positions[t] >= 0);
  const int half = p.head_dim / 2;
#pragma omp parallel num_threads(threads) if (threads > 1 && n_rows > 1)
  {
    std::vector<float> cs(2 * static_cast<size_t>(half));  // [cos half | sin half] of the current row
#pragma omp for schedule(static)
    for (int64_t t = 0; t < n_rows; ++t) {
      const float pos = static_cast<float>(positions[t]);
      for (int i = 0; i < half; ++i) {
        const float angle = pos * inv_freq[i];
        cs[i] = std::cos(angle);
        cs[half + i] = std::sin(angle);
      }
      for (int h = 0; h < p.n_heads; ++h) {
        float* v = x + (t * p.n_heads + h) * p.head_dim;  // [head_dim]
        for (int i = 0; i < half; ++i) {
          const float c = cs[i], s = cs[half + i];
          const float a = v[i];
          const float b = v[i + half];
          v[i] = a * c - b * s;
          v[i + half] = b * c + a * s;
        }
      }
    }
  }
}

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/log_softmax.h"

#include <cmath>

#include "kernels/cpu/argmax.h"
#include "kernels/cpu/check.h"
#include "kernels/cpu/sum_exp.h"

namespace verbatim::kernels::cpu {

double logsumexp(const float* x, int64_t n) {
  VERBATIM_KERNEL_CHECK(x != nullptr && n > 0);
  // The first maximal element (argmax; all -inf: x[0]), the value the "if (x[i] > max)" loop from x[0] keeps.
  const double m = static_cast<double>(x[argmax(x, n)]);
  return m + std::log(sum_exp_shifted(x, n, m));
}

void log_softmax(const float* x, int64_t n, float* out) {
  VERBATIM_KERNEL_CHECK(out != nullptr);
  const double lse = logsumexp(x, n);
  for (int64_t i = 0; i < n; ++i) out[i] = logprob_from_lse(x[i], lse);
}

}  // namespace verbatim::kernels::cpu

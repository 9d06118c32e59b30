#include "kernels/cpu/attention.h"

#include <cmath>

#include "kernels/cpu/check.h"
#include "kernels/cpu/softmax.h"

namespace verbatim::kernels::cpu {

void attention(const float* q, const float* k, const float* v, float* scores, float* out, const AttentionParams& p) {
  VERBATIM_KERNEL_CHECK(q != nullptr && k != nullptr && v != nullptr && scores != nullptr && out != nullptr);
  VERBATIM_KERNEL_CHECK(p.n_heads > 0 && p.n_kv_heads > 0 && p.n_heads % p.n_kv_heads == 0 && p.head_dim > 0);
  VERBATIM_KERNEL_CHECK(p.n_ctx > 0 && p.kv_stride >= static_cast<int64_t>(p.n_kv_heads) * p.head_dim);
  const int group = p.n_heads / p.n_kv_heads;  // query heads per KV head
  const float scale_div = std::sqrt(static_cast<float>(p.head_dim));
  for (int h = 0; h < p.n_heads; ++h) {
    const float* qh = q + static_cast<int64_t>(h) * p.head_dim;              // [head_dim]
    const int64_t kv_offset = static_cast<int64_t>(h / group) * p.head_dim;  // this head's KV head
    for (int64_t t = 0; t < p.n_ctx; ++t) {
      const float* kt = k + t * p.kv_stride + kv_offset;  // [head_dim]
      float dot = 0.0f;
      for (int i = 0; i < p.head_dim; ++i) dot += qh[i] * kt[i];
      scores[t] = dot / scale_div;
    }
    softmax(scores, p.n_ctx);
    float* oh = out + static_cast<int64_t>(h) * p.head_dim;  // [head_dim]
    for (int i = 0; i < p.head_dim; ++i) oh[i] = 0.0f;
    for (int64_t t = 0; t < p.n_ctx; ++t) {
      const float* vt = v + t * p.kv_stride + kv_offset;  // [head_dim]
      const float a = scores[t];
      for (int i = 0; i < p.head_dim; ++i) oh[i] = oh[i] + a * vt[i];
    }
  }
}

}  // namespace verbatim::kernels::cpu

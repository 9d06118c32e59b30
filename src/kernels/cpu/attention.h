// Attention of one query token over a contiguous KV cache, with grouped-query attention: query head h reads KV head
// h / (n_heads / n_kv_heads). For each head, in fp32 and in one fixed order:
//   score[t] = (q . k[t]) / sqrtf(head_dim)      dot product sequential in the head dimension, for t < n_ctx
//   a = softmax(score)                           kernels/cpu/softmax.h (max-subtracted, sequential sum)
//   out = a[0] * v[0] + a[1] * v[1] + ...        sequential in t, starting from 0
// Causality is the caller's: it passes the positions the query may see (0 .. n_ctx-1, its own included).
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

struct AttentionParams {
  int n_heads = 0;
  int n_kv_heads = 0;  // divides n_heads
  int head_dim = 0;
  int64_t n_ctx = 0;      // positions attended, > 0
  int64_t kv_stride = 0;  // floats from one position to the next in k and v, >= n_kv_heads * head_dim
};

// q: [n_heads * head_dim]; k, v: [n_ctx, kv_stride] (the first n_kv_heads * head_dim floats of each position used);
// scores: scratch [n_ctx]; out: [n_heads * head_dim] (must not alias the inputs).
void attention(const float* q, const float* k, const float* v, float* scores, float* out, const AttentionParams& p);

}  // namespace verbatim::kernels::cpu

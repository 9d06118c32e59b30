// Split-KV attention over the paged cache: the Mode::Fast foil of paged_attention.h. Each row's positions are cut into
// `splits` ranges, each range gets its own softmax partial (max, sum of exponentials, unnormalized weighted values),
// and the partials are merged with log-sum-exp rescaling — the usual way to spread a short batch over many cores.
// The split count comes from the caller (from the batch), so a row's bits depend on what else is in the step: that
// dependence is the point of Mode::Fast. Results stay within float rounding of the reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/paged_attention.h"

namespace verbatim::kernels::cpu {

struct SplitAttentionParams {
  int n_heads = 0;
  PagedKvLayout kv;
  int threads = 1;
  int splits = 1;  // ranges per row (>= 1); a range past the row's positions is empty
};

// Floats of scratch for n_rows rows, none past position max_pos.
size_t paged_attention_split_scratch_floats(int64_t n_rows, int64_t max_pos, const SplitAttentionParams& p);

// As paged_attention: q, out [n_rows, n_heads * head_dim]; k_cache, v_cache: one layer.
void paged_attention_split(const float* q, const float* k_cache, const float* v_cache, const PagedRows& rows,
                           float* out, float* scratch, size_t scratch_floats, const SplitAttentionParams& p);
// The same over a bf16 cache (paged_attention.h): bf16 widened to fp32 on load, the same arithmetic.
void paged_attention_split(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, const PagedRows& rows,
                           float* out, float* scratch, size_t scratch_floats, const SplitAttentionParams& p);

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/paged_attention_split.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/check.h"

namespace verbatim::kernels::cpu {
namespace {

// One range's partial: [m, l, o[head_dim]].
int64_t partial_floats(const SplitAttentionParams& p) {
  return 2 + p.kv.head_dim;
}

size_t per_thread_scores(int64_t max_pos) {
  return (static_cast<size_t>(max_pos) + 1 + 7) / 8 * 8;
}

template <typename T>
void split_impl(const float* q, const T* k_cache, const T* v_cache, const PagedRows& rows, float* out, float* scratch,
                size_t scratch_floats, const SplitAttentionParams& p);

}  // namespace

size_t paged_attention_split_scratch_floats(int64_t n_rows, int64_t max_pos, const SplitAttentionParams& p) {
  return per_thread_scores(max_pos) * static_cast<size_t>(p.threads) +
         static_cast<size_t>(n_rows) * p.n_heads * p.splits * partial_floats(p);
}

void paged_attention_split(const float* q, const float* k_cache, const float* v_cache, const PagedRows& rows,
                           float* out, float* scratch, size_t scratch_floats, const SplitAttentionParams& p) {
  split_impl(q, k_cache, v_cache, rows, out, scratch, scratch_floats, p);
}

void paged_attention_split(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, const PagedRows& rows,
                           float* out, float* scratch, size_t scratch_floats, const SplitAttentionParams& p) {
  split_impl(q, k_cache, v_cache, rows, out, scratch, scratch_floats, p);
}

namespace {

template <typename T>
void split_impl(const float* q, const T* k_cache, const T* v_cache, const PagedRows& rows, float* out, float* scratch,
                size_t scratch_floats, const SplitAttentionParams& p) {
  VERBATIM_KERNEL_CHECK(q != nullptr && k_cache != nullptr && v_cache != nullptr && out != nullptr);
  VERBATIM_KERNEL_CHECK(scratch != nullptr && p.threads > 0 && p.n_heads > 0 && p.splits > 0);
  VERBATIM_KERNEL_CHECK(p.kv.n_kv_heads > 0 && p.n_heads % p.kv.n_kv_heads == 0 && p.kv.head_dim > 0);
  int64_t max_pos = 0;
  for (int64_t r = 0; r < rows.n_rows; ++r) max_pos = std::max<int64_t>(max_pos, rows.positions[r]);
  VERBATIM_KERNEL_CHECK(scratch_floats >= paged_attention_split_scratch_floats(rows.n_rows, max_pos, p));
  const size_t per_thread = per_thread_scores(max_pos);
  float* partials = scratch + per_thread * static_cast<size_t>(p.threads);  // [n_rows][n_heads][splits][2 + hd]
  const int hd = p.kv.head_dim;
  const int group = p.n_heads / p.kv.n_kv_heads;
  const int64_t stride = static_cast<int64_t>(p.n_heads) * hd;
  const int64_t pf = partial_floats(p);
  const int64_t n_items = rows.n_rows * p.n_heads * p.splits;
#pragma omp parallel num_threads(p.threads) if (p.threads > 1)
  {
    float* scores = scratch + static_cast<size_t>(omp_get_thread_num()) * per_thread;
    // Phase 1: the partial of every (row, head, range).
#pragma omp for schedule(static)
    for (int64_t item = 0; item < n_items; ++item) {
      const int64_t rh = item / p.splits;
      const int s = static_cast<int>(item % p.splits);
      const int64_t r = rh / p.n_heads;
      const int h = static_cast<int>(rh % p.n_heads);
      const int64_t n_ctx = static_cast<int64_t>(rows.positions[r]) + 1;
      const int64_t chunk = (n_ctx + p.splits - 1) / p.splits;
      const int64_t t0 = std::min(n_ctx, s * chunk), t1 = std::min(n_ctx, t0 + chunk);
      float* part = partials + item * pf;
      float* o = part + 2;
      std::fill(o, o + hd, 0.0f);
      part[0] = -std::numeric_limits<float>::infinity();
      part[1] = 0.0f;
      if (t0 == t1) continue;
      const float* qh = q + r * stride + static_cast<int64_t>(h) * hd;
      paged_scores(qh, k_cache, rows.blocks[r], h / group, t0, t1, scores, p.kv);
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t t = 0; t < t1 - t0; ++t) m = std::max(m, scores[t]);
      float l = 0.0f;
      for (int64_t t = 0; t < t1 - t0; ++t) {
        scores[t] = std::exp(scores[t] - m);
        l += scores[t];
      }
      paged_weighted_values(scores, v_cache, rows.blocks[r], h / group, t0, t1, o, p.kv);
      part[0] = m;
      part[1] = l;
    }
    // Phase 2: merge each (row, head)'s ranges, rescaled to the largest max.
#pragma omp for schedule(static)
    for (int64_t rh = 0; rh < rows.n_rows * p.n_heads; ++rh) {
      const float* part = partials + rh * p.splits * pf;
      float m = -std::numeric_limits<float>::infinity();
      for (int s = 0; s < p.splits; ++s) m = std::max(m, part[s * pf]);
      float l = 0.0f;
      float* oh = out + (rh / p.n_heads) * stride + (rh % p.n_heads) * hd;
      std::fill(oh, oh + hd, 0.0f);
      for (int s = 0; s < p.splits; ++s) {
        const float* ps = part + s * pf;
        if (ps[1] == 0.0f) continue;  // empty range
        const float w = std::exp(ps[0] - m);
        l += ps[1] * w;
        for (int i = 0; i < hd; ++i) oh[i] += ps[2 + i] * w;
      }
      const float inv = 1.0f / l;  // one reciprocal, then multiplies (the reference divides each weight)
      for (int i = 0; i < hd; ++i) oh[i] *= inv;
    }
  }
}

}  // namespace

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/paged_attention.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/check.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/softmax.h"

namespace verbatim::kernels::cpu {
namespace {

bool cpu_has_avx2() {
  static const bool has = cpu_has_avx2_f16c();
  return has;
}

// K of position t, KV head kv_head, channel 0 (channel i is i * block_size floats further).
inline const float* k_at(const float* k_cache, const int32_t* blocks, int kv_head, int64_t t, const PagedKvLayout& l) {
  const int64_t bs = l.block_size;
  return k_cache + blocks[t / bs] * l.block_floats() + static_cast<int64_t>(kv_head) * l.head_dim * bs + t % bs;
}

// V of position t, KV head kv_head: [head_dim] contiguous (the next position's is head_dim floats on, in the block).
inline const float* v_at(const float* v_cache, const int32_t* blocks, int kv_head, int64_t t, const PagedKvLayout& l) {
  const int64_t bs = l.block_size;
  return v_cache + blocks[t / bs] * l.block_floats() + (static_cast<int64_t>(kv_head) * bs + t % bs) * l.head_dim;
}

// ---- Scalar path: the reference's loops over the paged layout ----------------------------------------------------

void scores_scalar(const float* qh, const float* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                   float* scores, const PagedKvLayout& l) {
  const float scale_div = std::sqrt(static_cast<float>(l.head_dim));
  for (int64_t t = t0; t < t1; ++t) {
    const float* kt = k_at(k_cache, blocks, kv_head, t, l);  // channel i at kt[i * block_size]
    float dot = 0.0f;
    for (int i = 0; i < l.head_dim; ++i) dot += qh[i] * kt[static_cast<int64_t>(i) * l.block_size];
    scores[t - t0] = dot / scale_div;
  }
}

void values_scalar(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                   float* out, const PagedKvLayout& l) {
  for (int i = 0; i < l.head_dim; ++i) out[i] = 0.0f;
  for (int64_t t = t0; t < t1; ++t) {
    const float* vt = v_at(v_cache, blocks, kv_head, t, l);  // [head_dim]
    const float at = a[t - t0];
    for (int i = 0; i < l.head_dim; ++i) out[i] = out[i] + at * vt[i];
  }
}

// ---- AVX2 path ----------------------------------------------------------------------------------------------------
// AVX2 only (no FMA: every multiply and add is rounded on its own, as in the reference).

VERBATIM_AVX2_BEGIN

// Scores, 8 positions of one block per register (a "chunk"), 4 chunks at a time so that 4 independent sums run in
// parallel. Lane j of a chunk sums q[i] * K[pos + j][i] over i = 0, 1, ... in order, exactly the reference's dot.
void scores_avx2(const float* qh, const float* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                 float* scores, const PagedKvLayout& l) {
  constexpr int kChunks = 4;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 scale_div = _mm256_set1_ps(std::sqrt(static_cast<float>(l.head_dim)));
  const int64_t bs = l.block_size;
  const float* base[kChunks];
  int len[kChunks];
  int64_t out[kChunks];
  int nc = 0;
  auto flush = [&]() {
    for (int c = nc; c < kChunks; ++c) base[c] = base[0], len[c] = 0, out[c] = 0;  // idle lanes: all masked
    __m256i mask[kChunks];
    __m256 acc[kChunks];
    for (int c = 0; c < kChunks; ++c) {
      mask[c] = _mm256_cmpgt_epi32(_mm256_set1_epi32(len[c]), lane);
      acc[c] = _mm256_setzero_ps();
    }
    for (int i = 0; i < l.head_dim; ++i) {
      const __m256 qb = _mm256_broadcast_ss(qh + i);
      const int64_t off = static_cast<int64_t>(i) * bs;
#pragma GCC unroll 4
      for (int c = 0; c < kChunks; ++c)
        acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(qb, _mm256_maskload_ps(base[c] + off, mask[c])));
    }
    for (int c = 0; c < nc; ++c) _mm256_maskstore_ps(scores + out[c], mask[c], _mm256_div_ps(acc[c], scale_div));
    nc = 0;
  };
  for (int64_t t = t0; t < t1;) {
    const int64_t off = t % bs;
    const int n = static_cast<int>(std::min<int64_t>({8, bs - off, t1 - t}));
    base[nc] = k_at(k_cache, blocks, kv_head, t, l);
    len[nc] = n;
    out[nc] = t - t0;
    if (++nc == kChunks) flush();
    t += n;
  }
  if (nc > 0) flush();
}

// Weighted values for NV vectors of channels [c0, c0 + 8 NV) of the head, the last vector `tail` lanes wide
// (1..8). acc lane = channel; over t in order.
template <int NV>
void values_avx2_part(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                      int c0, int tail, float* out, const PagedKvLayout& l) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_setzero_ps();
  const int64_t bs = l.block_size;
  for (int64_t t = t0; t < t1;) {
    const int64_t end = std::min(t1, (t / bs + 1) * bs);  // the rest of t's block
    const float* vt = v_at(v_cache, blocks, kv_head, t, l) + c0;
    for (; t < end; ++t, vt += l.head_dim) {
      const __m256 ab = _mm256_broadcast_ss(a + (t - t0));
#pragma GCC unroll 8
      for (int v = 0; v + 1 < NV; ++v) acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(ab, _mm256_loadu_ps(vt + 8 * v)));
      acc[NV - 1] = _mm256_add_ps(acc[NV - 1], _mm256_mul_ps(ab, _mm256_maskload_ps(vt + 8 * (NV - 1), mask)));
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v + 1 < NV; ++v) _mm256_storeu_ps(out + c0 + 8 * v, acc[v]);
  _mm256_maskstore_ps(out + c0 + 8 * (NV - 1), mask, acc[NV - 1]);
}

void values_avx2(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                 float* out, const PagedKvLayout& l) {
  constexpr int kMaxVectors = 8;  // 64 channels (8 accumulators) per pass over t
  for (int c0 = 0; c0 < l.head_dim; c0 += 8 * kMaxVectors) {
    const int width = std::min(8 * kMaxVectors, l.head_dim - c0);
    const int nv = (width + 7) / 8;
    const int tail = width - 8 * (nv - 1);
    switch (nv) {
      case 1:
        values_avx2_part<1>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
      case 2:
        values_avx2_part<2>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
      case 3:
        values_avx2_part<3>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
      case 4:
        values_avx2_part<4>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
      case 5:
        values_avx2_part<5>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
      case 6:
        values_avx2_part<6>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
      case 7:
        values_avx2_part<7>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
      default:
        values_avx2_part<8>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
        break;
    }
  }
}

VERBATIM_AVX2_END

// ---- AVX-512 path --------------------------------------------------------------------------------------------------
// The AVX2 path's operations on 16 lanes (no FMA either): scores with lane = position (16 positions of one block per
// register), values with lane = channel. Each lane still runs the reference's sequence, so the bits are the same.

VERBATIM_AVX512_BEGIN

void scores_avx512(const float* qh, const float* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                   float* scores, const PagedKvLayout& l) {
  constexpr int kChunks = 4;
  const __m512 scale_div = _mm512_set1_ps(std::sqrt(static_cast<float>(l.head_dim)));
  const int64_t bs = l.block_size;
  const float* base[kChunks];
  __mmask16 mask[kChunks];
  int64_t out[kChunks];
  int nc = 0;
  auto flush = [&]() {
    for (int c = nc; c < kChunks; ++c) base[c] = base[0], mask[c] = 0, out[c] = 0;  // idle chunks: all masked
    __m512 acc[kChunks];
    for (int c = 0; c < kChunks; ++c) acc[c] = _mm512_setzero_ps();
    for (int i = 0; i < l.head_dim; ++i) {
      const __m512 qb = _mm512_set1_ps(qh[i]);
      const int64_t off = static_cast<int64_t>(i) * bs;
#pragma GCC unroll 4
      for (int c = 0; c < kChunks; ++c)
        acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(qb, _mm512_maskz_loadu_ps(mask[c], base[c] + off)));
    }
    for (int c = 0; c < nc; ++c) _mm512_mask_storeu_ps(scores + out[c], mask[c], _mm512_div_ps(acc[c], scale_div));
    nc = 0;
  };
  for (int64_t t = t0; t < t1;) {
    const int64_t off = t % bs;
    const int n = static_cast<int>(std::min<int64_t>({16, bs - off, t1 - t}));
    base[nc] = k_at(k_cache, blocks, kv_head, t, l);
    mask[nc] = static_cast<__mmask16>((1u << n) - 1);
    out[nc] = t - t0;
    if (++nc == kChunks) flush();
    t += n;
  }
  if (nc > 0) flush();
}

// Weighted values for NV vectors of channels [c0, c0 + 16 NV) of the head, the last one `tail` lanes wide (1..16).
template <int NV>
void values_avx512_part(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                        int64_t t1, int c0, int tail, float* out, const PagedKvLayout& l) {
  const __mmask16 mask = static_cast<__mmask16>((1u << tail) - 1);
  __m512 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  const int64_t bs = l.block_size;
  for (int64_t t = t0; t < t1;) {
    const int64_t end = std::min(t1, (t / bs + 1) * bs);  // the rest of t's block
    const float* vt = v_at(v_cache, blocks, kv_head, t, l) + c0;
    for (; t < end; ++t, vt += l.head_dim) {
      const __m512 ab = _mm512_set1_ps(a[t - t0]);
#pragma GCC unroll 8
      for (int v = 0; v + 1 < NV; ++v) acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(ab, _mm512_loadu_ps(vt + 16 * v)));
      acc[NV - 1] = _mm512_add_ps(acc[NV - 1], _mm512_mul_ps(ab, _mm512_maskz_loadu_ps(mask, vt + 16 * (NV - 1))));
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v + 1 < NV; ++v) _mm512_storeu_ps(out + c0 + 16 * v, acc[v]);
  _mm512_mask_storeu_ps(out + c0 + 16 * (NV - 1), mask, acc[NV - 1]);
}

template <int NV>
void values_avx512_upto(int nv, const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                        int64_t t1, int c0, int tail, float* out, const PagedKvLayout& l) {
  if (nv == NV) {
    values_avx512_part<NV>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
  } else if constexpr (NV > 1) {
    values_avx512_upto<NV - 1>(nv, a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
  }
}

void values_avx512(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                   float* out, const PagedKvLayout& l) {
  constexpr int kMaxVectors = 8;  // 128 channels (8 accumulators) per pass over t
  for (int c0 = 0; c0 < l.head_dim; c0 += 16 * kMaxVectors) {
    const int width = std::min(16 * kMaxVectors, l.head_dim - c0);
    const int nv = (width + 15) / 16;
    values_avx512_upto<kMaxVectors>(nv, a, v_cache, blocks, kv_head, t0, t1, c0, width - 16 * (nv - 1), out, l);
  }
}

VERBATIM_AVX512_END

// The path to run: `path` itself, or for Auto the widest this CPU has. A named path must be available.
AttnPath resolve(AttnPath path) {
  if (path == AttnPath::Auto) {
    return cpu_has_avx512f() ? AttnPath::Avx512 : cpu_has_avx2() ? AttnPath::Avx2 : AttnPath::Scalar;
  }
  VERBATIM_KERNEL_CHECK(attention_path_available(path));
  return path;
}

void check_layout(const PagedKvLayout& l) {
  VERBATIM_KERNEL_CHECK(l.block_size > 0 && l.n_kv_heads > 0 && l.head_dim > 0);
}

}  // namespace

void paged_kv_write(const float* k, const float* v, const PagedRows& rows, float* k_cache, float* v_cache,
                    const PagedKvLayout& l, int threads) {
  VERBATIM_KERNEL_CHECK(k != nullptr && v != nullptr && k_cache != nullptr && v_cache != nullptr && threads > 0);
  check_layout(l);
  const int64_t kv_dim = l.kv_dim(), bs = l.block_size;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows.n_rows > 1)
  for (int64_t r = 0; r < rows.n_rows; ++r) {
    const int64_t pos = rows.positions[r];
    const int64_t block = rows.blocks[r][pos / bs];
    float* kb = k_cache + block * l.block_floats() + pos % bs;  // channel c at kb[c * bs]
    const float* kr = k + r * kv_dim;                           // [kv_dim]
    for (int64_t c = 0; c < kv_dim; ++c) kb[c * bs] = kr[c];
    float* vb = v_cache + block * l.block_floats() + (pos % bs) * l.head_dim;  // head h at vb[h * bs * head_dim]
    for (int h = 0; h < l.n_kv_heads; ++h)
      std::memcpy(vb + h * bs * l.head_dim, v + r * kv_dim + h * l.head_dim, l.head_dim * sizeof(float));
  }
}

bool attention_path_available(AttnPath path) {
  switch (path) {
    case AttnPath::Avx512:
      return cpu_has_avx512f();
    case AttnPath::Avx2:
      return cpu_has_avx2();
    default:
      return true;
  }
}

void paged_scores(const float* qh, const float* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                  float* scores, const PagedKvLayout& l, AttnPath path) {
  switch (resolve(path)) {
    case AttnPath::Avx512:
      return scores_avx512(qh, k_cache, blocks, kv_head, t0, t1, scores, l);
    case AttnPath::Avx2:
      return scores_avx2(qh, k_cache, blocks, kv_head, t0, t1, scores, l);
    default:
      return scores_scalar(qh, k_cache, blocks, kv_head, t0, t1, scores, l);
  }
}

void paged_weighted_values(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                           int64_t t1, float* out_h, const PagedKvLayout& l, AttnPath path) {
  switch (resolve(path)) {
    case AttnPath::Avx512:
      return values_avx512(a, v_cache, blocks, kv_head, t0, t1, out_h, l);
    case AttnPath::Avx2:
      return values_avx2(a, v_cache, blocks, kv_head, t0, t1, out_h, l);
    default:
      return values_scalar(a, v_cache, blocks, kv_head, t0, t1, out_h, l);
  }
}

size_t paged_attention_scratch_floats(int64_t max_pos, int threads) {
  const size_t per_thread = (static_cast<size_t>(max_pos) + 1 + 7) / 8 * 8;  // scores [max_pos + 1], padded
  return per_thread * static_cast<size_t>(threads);
}

void paged_attention(const float* q, const float* k_cache, const float* v_cache, const PagedRows& rows, float* out,
                     float* scratch, size_t scratch_floats, const PagedAttentionParams& p) {
  VERBATIM_KERNEL_CHECK(q != nullptr && k_cache != nullptr && v_cache != nullptr && out != nullptr);
  VERBATIM_KERNEL_CHECK(scratch != nullptr && p.threads > 0 && p.n_heads > 0);
  check_layout(p.kv);
  VERBATIM_KERNEL_CHECK(p.n_heads % p.kv.n_kv_heads == 0);
  int64_t max_pos = 0;
  for (int64_t r = 0; r < rows.n_rows; ++r) max_pos = std::max<int64_t>(max_pos, rows.positions[r]);
  VERBATIM_KERNEL_CHECK(scratch_floats >= paged_attention_scratch_floats(max_pos, p.threads));
  const size_t per_thread = scratch_floats / static_cast<size_t>(p.threads);
  const int group = p.n_heads / p.kv.n_kv_heads;
  const int64_t stride = static_cast<int64_t>(p.n_heads) * p.kv.head_dim;  // q and out row stride
  const int64_t n_items = rows.n_rows * p.n_heads;
  const AttnPath path = resolve(p.path);
#pragma omp parallel num_threads(p.threads) if (p.threads > 1 && n_items > 1)
  {
    float* scores = scratch + static_cast<size_t>(omp_get_thread_num()) * per_thread;  // [n_ctx]
#pragma omp for schedule(static, 1)
    for (int64_t item = 0; item < n_items; ++item) {
      const int64_t r = item / p.n_heads;
      const int h = static_cast<int>(item % p.n_heads);
      const int64_t n_ctx = static_cast<int64_t>(rows.positions[r]) + 1;
      const float* qh = q + r * stride + static_cast<int64_t>(h) * p.kv.head_dim;
      float* oh = out + r * stride + static_cast<int64_t>(h) * p.kv.head_dim;
      paged_scores(qh, k_cache, rows.blocks[r], h / group, 0, n_ctx, scores, p.kv, path);
      softmax(scores, n_ctx);
      paged_weighted_values(scores, v_cache, rows.blocks[r], h / group, 0, n_ctx, oh, p.kv, path);
    }
  }
}

const char* paged_attention_path() {
  switch (resolve(AttnPath::Auto)) {
    case AttnPath::Avx512:
      return "avx512";
    case AttnPath::Avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

}  // namespace verbatim::kernels::cpu

#include "kernels/cpu/paged_attention.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/check.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/softmax.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

bool cpu_has_avx2() {
  static const bool has = cpu_has_avx2_f16c();
  return has;
}

// K of position t, KV head kv_head, channel 0 (channel i is i * block_size elements further). T: the cache's element
// (float, or uint16_t holding bf16 bits).
template <typename T>
inline const T* k_at(const T* k_cache, const int32_t* blocks, int kv_head, int64_t t, const PagedKvLayout& l) {
  const int64_t bs = l.block_size;
  return k_cache + blocks[t / bs] * l.block_floats() + static_cast<int64_t>(kv_head) * l.head_dim * bs + t % bs;
}

// V of position t, KV head kv_head: [head_dim] contiguous (the next position's is head_dim elements on, in the block).
template <typename T>
inline const T* v_at(const T* v_cache, const int32_t* blocks, int kv_head, int64_t t, const PagedKvLayout& l) {
  const int64_t bs = l.block_size;
  return v_cache + blocks[t / bs] * l.block_floats() + (static_cast<int64_t>(kv_head) * bs + t % bs) * l.head_dim;
}

// One cached element as fp32 (bf16 -> fp32 is exact).
inline float kv_value(float x) {
  return x;
}
inline float kv_value(uint16_t x) {
  return bf16_to_f32(x);
}

// ---- Scalar path: the reference's loops over the paged layout ----------------------------------------------------

template <typename T>
void scores_scalar(const float* qh, const T* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                   float* scores, const PagedKvLayout& l) {
  const float scale_div = std::sqrt(static_cast<float>(l.head_dim));
  for (int64_t t = t0; t < t1; ++t) {
    const T* kt = k_at(k_cache, blocks, kv_head, t, l);  // channel i at kt[i * block_size]
    float dot = 0.0f;
    for (int i = 0; i < l.head_dim; ++i) dot += qh[i] * kv_value(kt[static_cast<int64_t>(i) * l.block_size]);
    scores[t - t0] = dot / scale_div;
  }
}

template <typename T>
void values_scalar(const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                   float* out, const PagedKvLayout& l) {
  for (int i = 0; i < l.head_dim; ++i) out[i] = 0.0f;
  for (int64_t t = t0; t < t1; ++t) {
    const T* vt = v_at(v_cache, blocks, kv_head, t, l);  // [head_dim]
    const float at = a[t - t0];
    for (int i = 0; i < l.head_dim; ++i) out[i] = out[i] + at * kv_value(vt[i]);
  }
}

// ---- AVX2 path ----------------------------------------------------------------------------------------------------
// AVX2 only (no FMA: every multiply and add is rounded on its own, as in the reference).
//
// bf16 caches (T = uint16_t): each load widens 8 bf16 values to fp32 exactly (zero-extend, shift into the high half),
// then the same multiplies and adds run. A partial load of n lanes reads the 32-bit words holding lanes [0, n): for
// odd n one element past them, whose lane is never stored. The callers keep that element inside the buffer: a score
// chunk with odd n that ends its block, and the values of an odd head_dim, take the scalar path (same bits).

VERBATIM_AVX2_BEGIN

struct Avx2Mask {
  __m256i lanes;  // fp32: lanes [0, n)
  __m128i words;  // bf16: the 32-bit words holding lanes [0, n)
};
inline Avx2Mask avx2_mask(int n) {
  return {_mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
          _mm_cmpgt_epi32(_mm_set1_epi32((n + 1) / 2), _mm_setr_epi32(0, 1, 2, 3))};
}
inline __m256 widen8(__m128i h) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
inline __m256 load8(const float* p) {
  return _mm256_loadu_ps(p);
}
inline __m256 load8(const uint16_t* p) {
  return widen8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 load8(const float* p, const Avx2Mask& m) {
  return _mm256_maskload_ps(p, m.lanes);
}
inline __m256 load8(const uint16_t* p, const Avx2Mask& m) {
  return widen8(_mm_maskload_epi32(reinterpret_cast<const int*>(p), m.words));
}

// Whether a bf16 chunk of n positions at block offset off must take the scalar path (see above).
template <typename T>
inline bool chunk_needs_scalar(int64_t off, int n, int64_t bs) {
  return std::is_same_v<T, uint16_t> && (n & 1) != 0 && off + n == bs;
}

// Scores, 8 positions of one block per register (a "chunk"), 4 chunks at a time so that 4 independent sums run in
// parallel. Lane j of a chunk sums q[i] * K[pos + j][i] over i = 0, 1, ... in order, exactly the reference's dot.
template <typename T>
void scores_avx2(const float* qh, const T* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                 float* scores, const PagedKvLayout& l) {
  constexpr int kChunks = 4;
  const __m256 scale_div = _mm256_set1_ps(std::sqrt(static_cast<float>(l.head_dim)));
  const int64_t bs = l.block_size;
  const T* base[kChunks];
  Avx2Mask mask[kChunks];
  int64_t out[kChunks];
  int nc = 0;
  auto flush = [&]() {
    for (int c = nc; c < kChunks; ++c) base[c] = base[0], mask[c] = avx2_mask(0), out[c] = 0;  // idle: all masked
    __m256 acc[kChunks];
    for (int c = 0; c < kChunks; ++c) acc[c] = _mm256_setzero_ps();
    for (int i = 0; i < l.head_dim; ++i) {
      const __m256 qb = _mm256_broadcast_ss(qh + i);
      const int64_t off = static_cast<int64_t>(i) * bs;
#pragma GCC unroll 4
      for (int c = 0; c < kChunks; ++c)
        acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(qb, load8(base[c] + off, mask[c])));
    }
    for (int c = 0; c < nc; ++c) _mm256_maskstore_ps(scores + out[c], mask[c].lanes, _mm256_div_ps(acc[c], scale_div));
    nc = 0;
  };
  for (int64_t t = t0; t < t1;) {
    const int64_t off = t % bs;
    const int n = static_cast<int>(std::min<int64_t>({8, bs - off, t1 - t}));
    if (chunk_needs_scalar<T>(off, n, bs)) {
      scores_scalar(qh, k_cache, blocks, kv_head, t, t + n, scores + (t - t0), l);
    } else {
      base[nc] = k_at(k_cache, blocks, kv_head, t, l);
      mask[nc] = avx2_mask(n);
      out[nc] = t - t0;
      if (++nc == kChunks) flush();
    }
    t += n;
  }
  if (nc > 0) flush();
}

// Weighted values for NV vectors of channels [c0, c0 + 8 NV) of the head, the last vector `tail` lanes wide
// (1..8). acc lane = channel; over t in order.
template <int NV, typename T>
void values_avx2_part(const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                      int c0, int tail, float* out, const PagedKvLayout& l) {
  const Avx2Mask mask = avx2_mask(tail);
  __m256 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_setzero_ps();
  const int64_t bs = l.block_size;
  for (int64_t t = t0; t < t1;) {
    const int64_t end = std::min(t1, (t / bs + 1) * bs);  // the rest of t's block
    const T* vt = v_at(v_cache, blocks, kv_head, t, l) + c0;
    for (; t < end; ++t, vt += l.head_dim) {
      const __m256 ab = _mm256_broadcast_ss(a + (t - t0));
#pragma GCC unroll 8
      for (int v = 0; v + 1 < NV; ++v) acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(ab, load8(vt + 8 * v)));
      acc[NV - 1] = _mm256_add_ps(acc[NV - 1], _mm256_mul_ps(ab, load8(vt + 8 * (NV - 1), mask)));
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v + 1 < NV; ++v) _mm256_storeu_ps(out + c0 + 8 * v, acc[v]);
  _mm256_maskstore_ps(out + c0 + 8 * (NV - 1), mask.lanes, acc[NV - 1]);
}

template <int NV, typename T>
void values_avx2_upto(int nv, const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                      int64_t t1, int c0, int tail, float* out, const PagedKvLayout& l) {
  if (nv == NV) {
    values_avx2_part<NV>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
  } else if constexpr (NV > 1) {
    values_avx2_upto<NV - 1>(nv, a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
  }
}

template <typename T>
void values_avx2(const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                 float* out, const PagedKvLayout& l) {
  constexpr int kMaxVectors = 8;  // 64 channels (8 accumulators) per pass over t
  for (int c0 = 0; c0 < l.head_dim; c0 += 8 * kMaxVectors) {
    const int width = std::min(8 * kMaxVectors, l.head_dim - c0);
    const int nv = (width + 7) / 8;
    values_avx2_upto<kMaxVectors>(nv, a, v_cache, blocks, kv_head, t0, t1, c0, width - 8 * (nv - 1), out, l);
  }
}

VERBATIM_AVX2_END

// ---- AVX-512 path --------------------------------------------------------------------------------------------------
// The AVX2 path's operations on 16 lanes (no FMA either): scores with lane = position (16 positions of one block per
// register), values with lane = channel. Each lane still runs the reference's sequence, so the bits are the same.
// bf16 caches as on AVX2: 16 bf16 values widened exactly per load; partial loads by 32-bit words (AVX-512F has no
// 16-bit masked load), the same chunks and head sizes sent to the scalar path.

VERBATIM_AVX512_BEGIN

struct Avx512Mask {
  __mmask16 lanes;  // fp32: lanes [0, n)
  __m256i words;    // bf16: the 32-bit words holding lanes [0, n) (an AVX2 mask: AVX-512F has no 256-bit masked load)
};
inline Avx512Mask avx512_mask(int n) {
  return {static_cast<__mmask16>((1u << n) - 1),
          _mm256_cmpgt_epi32(_mm256_set1_epi32((n + 1) / 2), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))};
}
// (The maskz forms with all lanes set are the same instructions; the plain ones trip GCC 12's -Wmaybe-uninitialized.)
inline __m512 widen16(__m256i h) {
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, h), 16));
}
inline __m512 load16(const float* p) {
  return _mm512_loadu_ps(p);
}
inline __m512 load16(const uint16_t* p) {
  return widen16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load16(const float* p, const Avx512Mask& m) {
  return _mm512_maskz_loadu_ps(m.lanes, p);
}
inline __m512 load16(const uint16_t* p, const Avx512Mask& m) {
  return widen16(_mm256_maskload_epi32(reinterpret_cast<const int*>(p), m.words));
}

template <typename T>
void scores_avx512(const float* qh, const T* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                   float* scores, const PagedKvLayout& l) {
  constexpr int kChunks = 4;
  const __m512 scale_div = _mm512_set1_ps(std::sqrt(static_cast<float>(l.head_dim)));
  const int64_t bs = l.block_size;
  const T* base[kChunks];
  Avx512Mask mask[kChunks];
  int64_t out[kChunks];
  int nc = 0;
  auto flush = [&]() {
    for (int c = nc; c < kChunks; ++c) base[c] = base[0], mask[c] = avx512_mask(0), out[c] = 0;  // idle: all masked
    __m512 acc[kChunks];
    for (int c = 0; c < kChunks; ++c) acc[c] = _mm512_setzero_ps();
    for (int i = 0; i < l.head_dim; ++i) {
      const __m512 qb = _mm512_set1_ps(qh[i]);
      const int64_t off = static_cast<int64_t>(i) * bs;
#pragma GCC unroll 4
      for (int c = 0; c < kChunks; ++c)
        acc[c] = _mm512_add_ps(acc[c], _mm512_mul_ps(qb, load16(base[c] + off, mask[c])));
    }
    for (int c = 0; c < nc; ++c)
      _mm512_mask_storeu_ps(scores + out[c], mask[c].lanes, _mm512_div_ps(acc[c], scale_div));
    nc = 0;
  };
  for (int64_t t = t0; t < t1;) {
    const int64_t off = t % bs;
    const int n = static_cast<int>(std::min<int64_t>({16, bs - off, t1 - t}));
    if (chunk_needs_scalar<T>(off, n, bs)) {
      scores_scalar(qh, k_cache, blocks, kv_head, t, t + n, scores + (t - t0), l);
    } else {
      base[nc] = k_at(k_cache, blocks, kv_head, t, l);
      mask[nc] = avx512_mask(n);
      out[nc] = t - t0;
      if (++nc == kChunks) flush();
    }
    t += n;
  }
  if (nc > 0) flush();
}

// Weighted values for NV vectors of channels [c0, c0 + 16 NV) of the head, the last one `tail` lanes wide (1..16).
template <int NV, typename T>
void values_avx512_part(const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                        int c0, int tail, float* out, const PagedKvLayout& l) {
  const Avx512Mask mask = avx512_mask(tail);
  __m512 acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  const int64_t bs = l.block_size;
  for (int64_t t = t0; t < t1;) {
    const int64_t end = std::min(t1, (t / bs + 1) * bs);  // the rest of t's block
    const T* vt = v_at(v_cache, blocks, kv_head, t, l) + c0;
    for (; t < end; ++t, vt += l.head_dim) {
      const __m512 ab = _mm512_set1_ps(a[t - t0]);
#pragma GCC unroll 8
      for (int v = 0; v + 1 < NV; ++v) acc[v] = _mm512_add_ps(acc[v], _mm512_mul_ps(ab, load16(vt + 16 * v)));
      acc[NV - 1] = _mm512_add_ps(acc[NV - 1], _mm512_mul_ps(ab, load16(vt + 16 * (NV - 1), mask)));
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v + 1 < NV; ++v) _mm512_storeu_ps(out + c0 + 16 * v, acc[v]);
  _mm512_mask_storeu_ps(out + c0 + 16 * (NV - 1), mask.lanes, acc[NV - 1]);
}

template <int NV, typename T>
void values_avx512_upto(int nv, const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                        int64_t t1, int c0, int tail, float* out, const PagedKvLayout& l) {
  if (nv == NV) {
    values_avx512_part<NV>(a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
  } else if constexpr (NV > 1) {
    values_avx512_upto<NV - 1>(nv, a, v_cache, blocks, kv_head, t0, t1, c0, tail, out, l);
  }
}

template <typename T>
void values_avx512(const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
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

// The cache's element from an fp32 value: itself, or rounded to bf16 (nearest even; util/half.h).
inline void store_kv(float* dst, float x) {
  *dst = x;
}
inline void store_kv(uint16_t* dst, float x) {
  *dst = f32_to_bf16(x);
}

template <typename T>
void kv_write_impl(const float* k, const float* v, const PagedRows& rows, T* k_cache, T* v_cache,
                   const PagedKvLayout& l, int threads) {
  VERBATIM_KERNEL_CHECK(k != nullptr && v != nullptr && k_cache != nullptr && v_cache != nullptr && threads > 0);
  check_layout(l);
  const int64_t kv_dim = l.kv_dim(), bs = l.block_size;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows.n_rows > 1)
  for (int64_t r = 0; r < rows.n_rows; ++r) {
    const int64_t pos = rows.positions[r];
    const int64_t block = rows.blocks[r][pos / bs];
    T* kb = k_cache + block * l.block_floats() + pos % bs;  // channel c at kb[c * bs]
    const float* kr = k + r * kv_dim;                       // [kv_dim]
    for (int64_t c = 0; c < kv_dim; ++c) store_kv(kb + c * bs, kr[c]);
    T* vb = v_cache + block * l.block_floats() + (pos % bs) * l.head_dim;  // head h at vb[h * bs * head_dim]
    for (int h = 0; h < l.n_kv_heads; ++h) {
      T* dst = vb + h * bs * l.head_dim;
      const float* src = v + r * kv_dim + h * l.head_dim;
      if constexpr (std::is_same_v<T, float>) {
        std::memcpy(dst, src, l.head_dim * sizeof(float));
      } else {
        for (int i = 0; i < l.head_dim; ++i) store_kv(dst + i, src[i]);
      }
    }
  }
}

template <typename T>
void scores_impl(const float* qh, const T* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
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

template <typename T>
void values_impl(const float* a, const T* v_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                 float* out_h, const PagedKvLayout& l, AttnPath path) {
  const AttnPath resolved = resolve(path);
  // bf16 rows of odd length: the vector paths' word-wise tail load could read past the buffer (see the AVX2 path).
  if (std::is_same_v<T, uint16_t> && l.head_dim % 2 != 0)
    return values_scalar(a, v_cache, blocks, kv_head, t0, t1, out_h, l);
  switch (resolved) {
    case AttnPath::Avx512:
      return values_avx512(a, v_cache, blocks, kv_head, t0, t1, out_h, l);
    case AttnPath::Avx2:
      return values_avx2(a, v_cache, blocks, kv_head, t0, t1, out_h, l);
    default:
      return values_scalar(a, v_cache, blocks, kv_head, t0, t1, out_h, l);
  }
}

template <typename T>
void attention_impl(const float* q, const T* k_cache, const T* v_cache, const PagedRows& rows, float* out,
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
      scores_impl(qh, k_cache, rows.blocks[r], h / group, 0, n_ctx, scores, p.kv, path);
      softmax(scores, n_ctx);
      values_impl(scores, v_cache, rows.blocks[r], h / group, 0, n_ctx, oh, p.kv, path);
    }
  }
}

}  // namespace

void paged_kv_write(const float* k, const float* v, const PagedRows& rows, float* k_cache, float* v_cache,
                    const PagedKvLayout& l, int threads) {
  kv_write_impl(k, v, rows, k_cache, v_cache, l, threads);
}
void paged_kv_write(const float* k, const float* v, const PagedRows& rows, uint16_t* k_cache, uint16_t* v_cache,
                    const PagedKvLayout& l, int threads) {
  kv_write_impl(k, v, rows, k_cache, v_cache, l, threads);
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
  scores_impl(qh, k_cache, blocks, kv_head, t0, t1, scores, l, path);
}
void paged_scores(const float* qh, const uint16_t* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                  float* scores, const PagedKvLayout& l, AttnPath path) {
  scores_impl(qh, k_cache, blocks, kv_head, t0, t1, scores, l, path);
}

void paged_weighted_values(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                           int64_t t1, float* out_h, const PagedKvLayout& l, AttnPath path) {
  values_impl(a, v_cache, blocks, kv_head, t0, t1, out_h, l, path);
}
void paged_weighted_values(const float* a, const uint16_t* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                           int64_t t1, float* out_h, const PagedKvLayout& l, AttnPath path) {
  values_impl(a, v_cache, blocks, kv_head, t0, t1, out_h, l, path);
}

size_t paged_attention_scratch_floats(int64_t max_pos, int threads) {
  const size_t per_thread = (static_cast<size_t>(max_pos) + 1 + 7) / 8 * 8;  // scores [max_pos + 1], padded
  return per_thread * static_cast<size_t>(threads);
}

void paged_attention(const float* q, const float* k_cache, const float* v_cache, const PagedRows& rows, float* out,
                     float* scratch, size_t scratch_floats, const PagedAttentionParams& p) {
  attention_impl(q, k_cache, v_cache, rows, out, scratch, scratch_floats, p);
}
void paged_attention(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, const PagedRows& rows,
                     float* out, float* scratch, size_t scratch_floats, const PagedAttentionParams& p) {
  attention_impl(q, k_cache, v_cache, rows, out, scratch, scratch_floats, p);
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

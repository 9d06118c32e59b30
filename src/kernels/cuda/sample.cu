#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/common/philox.h"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/sample.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 1024;
constexpr int kPage = 1024;  // tokens per page of the sorted order
constexpr uint64_t kNoBound = ~uint64_t{0};

__device__ __forceinline__ float sanitize(float x) {
  if (isnan(x)) return -INFINITY;
  if (x == INFINITY) return FLT_MAX;
  return x;
}

// Keys order tokens as the sorted order does: larger key = earlier (logit descending, then id ascending). Finite
// logits only; key 0 never occurs (it pads pages).
__device__ __forceinline__ uint64_t key_of(float s, int64_t id) {
  const uint32_t u = __float_as_uint(s);
  const uint32_t o = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<uint64_t>(o) << 32) | (0xffffffffu - static_cast<uint32_t>(id));
}
__device__ __forceinline__ int32_t id_of(uint64_t key) {
  return static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(key));
}
__device__ __forceinline__ float value_of(uint64_t key) {
  const uint32_t o = static_cast<uint32_t>(key >> 32);
  return __uint_as_float((o & 0x80000000u) ? (o & 0x7fffffffu) : ~o);
}

struct Shared {
  double dred[32];
  int ired[32];
  unsigned int hist[256];
  unsigned long long page0[kPage];  // the first page of the sorted order
  double p0[kPage];                 // its probabilities
  unsigned long long page[kPage];   // a later page
  double p[kPage];
  int count;
  unsigned long long bkey;
  int bint;
  // Thread 0's walk state.
  double cum;
  int n_keep;
  int done;
  int token;
};

// One chunk of a row: ids [c * kChunk, min((c + 1) * kChunk, vocab)). Its max key (0 when no logit in it is finite)
// and its sum of exp(double(x) - m_c), m_c the chunk's max (the block tree of kPartThreads threads over ids).
struct RowPart {
  unsigned long long key;
  double sum;
};

constexpr int64_t kChunk = 4096;
constexpr int kPartThreads = 256;

__host__ __device__ int64_t chunks_of(int64_t vocab) {
  return (vocab + kChunk - 1) / kChunk;
}

// Grid (chunks, rows): part (row i, chunk c) -> parts[i * n_chunks + c]. The row of i is specs[i].row or rows[i].
__global__ void __launch_bounds__(kPartThreads)
    row_parts_kernel(const float* __restrict__ logits, int64_t vocab, const SampleRowSpec* __restrict__ specs,
                     const int32_t* __restrict__ rows, RowPart* __restrict__ parts) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  __shared__ unsigned long long ured[32];
  __shared__ double dred[32];
  const int i = static_cast<int>(blockIdx.y);
  const float* x = logits + static_cast<int64_t>(specs != nullptr ? specs[i].row : rows[i]) * vocab;
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * kChunk, end = min(vocab, begin + kChunk);
  unsigned long long best = 0;
  for (int64_t t = begin + threadIdx.x; t < end; t += kPartThreads) {
    const float s = sanitize(x[t]);
    if (s > -INFINITY) best = max(best, static_cast<unsigned long long>(key_of(s, t)));
  }
  best = detail::block_max<kPartThreads>(best, ured, 0ull);
  double sum = 0.0;
  if (best != 0) {
    const double m = static_cast<double>(value_of(best));
    for (int64_t t = begin + threadIdx.x; t < end; t += kPartThreads)
      sum += exp(static_cast<double>(sanitize(x[t])) - m);
    sum = detail::block_sum<kPartThreads>(sum, dred);
  }
  if (threadIdx.x == 0) parts[static_cast<int64_t>(i) * gridDim.x + blockIdx.x] = {best, sum};
}

// The row's max key (0 when no logit is finite) and its lse from its chunks: m = the max over chunks (exact),
// lse = m + log(S), S = sum over chunks in increasing order of sum_c * exp(m_c - m) (double, one thread). Shared by the
// sampler and the scorer, so their logprobs are the same bits; a function of the row's logits and the vocabulary size
// alone.
// (The factors exp(m_c - m) are computed by one thread per chunk into sh.p, then thread 0 runs the fma chain.)
__device__ double row_lse(const RowPart* part, int64_t n_chunks, Shared& sh, unsigned long long* max_key) {
  unsigned long long best = 0;
  for (int64_t c = threadIdx.x; c < n_chunks; c += kThreads) best = max(best, part[c].key);
  best = detail::block_max<kThreads>(best, reinterpret_cast<unsigned long long*>(sh.page), 0ull);  // exact
  *max_key = best;
  if (best == 0) return 0.0;
  const double m = static_cast<double>(value_of(best));
  for (int64_t c0 = 0; c0 < n_chunks; c0 += kPage) {
    const int64_t c = c0 + threadIdx.x;
    if (threadIdx.x < kPage && c < n_chunks)
      sh.p[threadIdx.x] = part[c].key == 0 ? 0.0 : exp(static_cast<double>(value_of(part[c].key)) - m);
    __syncthreads();
    if (threadIdx.x == 0) {
      double total = c0 == 0 ? 0.0 : sh.dred[0];
      for (int64_t j = 0; j < kPage && c0 + j < n_chunks; ++j)
        if (part[c0 + j].key != 0) total = __fma_rn(part[c0 + j].sum, sh.p[j], total);
      sh.dred[0] = total;
    }
    __syncthreads();
  }
  const double lse = m + log(sh.dred[0]);
  __syncthreads();
  return lse;
}

// Sorted-order keys of the sampler: the logit's (0 for a non-finite one).
struct LogitKey {
  const float* x;
  __device__ uint64_t operator()(int64_t i) const {
    const float s = sanitize(x[i]);
    return s > -INFINITY ? key_of(s, i) : 0;
  }
};

// Keys of the top-n list: the logprob's (float; ties between different logits that round to one logprob go to the
// lower id, as on the host).
struct LogprobKey {
  const float* x;
  double lse;
  __device__ uint64_t operator()(int64_t i) const {
    const float s = sanitize(x[i]);
    return s > -INFINITY ? key_of(static_cast<float>(static_cast<double>(s) - lse), i) : 0;
  }
};

__device__ __forceinline__ bool in_range(uint64_t k, uint64_t lo, uint64_t hi) {
  return k != 0 && k >= lo && k < hi;
}

// The L-th largest key among the row's keys with lo <= key < hi (at least L of them exist). Radix select over 8-bit
// digits; the histograms count integers (exact whatever the order of the increments).
template <typename Key>
__device__ uint64_t radix_select(Key key, int64_t vocab, int L, uint64_t lo, uint64_t hi, Shared& sh) {
  uint64_t prefix = 0, mask = 0;
  int remaining = L;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += kThreads) sh.hist[i] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
      const uint64_t k = key(i);
      if (!in_range(k, lo, hi) || (k & mask) != prefix) continue;
      atomicAdd(&sh.hist[(k >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned acc = 0;
      int d = 255;
      for (; d > 0; --d) {
        if (acc + sh.hist[d] >= static_cast<unsigned>(remaining)) break;
        acc += sh.hist[d];
      }
      sh.bkey = prefix | (static_cast<uint64_t>(d) << shift);
      sh.bint = remaining - static_cast<int>(acc);
    }
    __syncthreads();
    prefix = sh.bkey;
    remaining = sh.bint;
    mask |= uint64_t{255} << shift;
    __syncthreads();
  }
  return prefix;
}

__device__ void bitonic_desc(unsigned long long* page) {
  for (int k = 2; k <= kPage; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      const int i = static_cast<int>(threadIdx.x);
      const int ixj = i ^ j;
      if (ixj > i) {
        const unsigned long long a = page[i], b = page[ixj];
        const bool desc = (i & k) == 0;
        if (desc ? (a < b) : (a > b)) {
          page[i] = b;
          page[ixj] = a;
        }
      }
      __syncthreads();
    }
  }
}

// The next page (at most `size` <= kPage keys) of the order below `hi` (exclusive) into `page`, sorted; returns its
// size (0: none left).
template <typename Key>
__device__ int next_page(Key key, int64_t vocab, uint64_t hi, unsigned long long* page, Shared& sh, int size = kPage) {
  int left = 0;
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) left += in_range(key(i), 0, hi) ? 1 : 0;
  left = detail::block_sum<kThreads>(left, sh.ired);
  if (left == 0) return 0;
  const int L = min(left, size);
  const uint64_t lo = radix_select(key, vocab, L, 0, hi, sh);
  for (int i = threadIdx.x; i < kPage; i += kThreads) page[i] = 0;
  if (threadIdx.x == 0) sh.count = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
    const uint64_t k = key(i);
    if (in_range(k, lo, hi)) page[atomicAdd(&sh.count, 1)] = k;  // slot order: sorted away below
  }
  __syncthreads();
  bitonic_desc(page);
  return L;
}

// p of each page entry: exp(z - z_max) / S, z = double(x) / T (0 for padding).
__device__ void page_probs(const unsigned long long* page, double* p, double t, double z_max, double s_sum) {
  for (int i = threadIdx.x; i < kPage; i += kThreads) {
    const unsigned long long k = page[i];
    p[i] = k == 0 ? 0.0 : exp(static_cast<double>(value_of(k)) / t - z_max) / s_sum;
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads, 1)
    sample_kernel(const float* __restrict__ logits, int64_t vocab, const SampleRowSpec* __restrict__ specs,
                  const RowPart* __restrict__ parts, SampleRowResult* __restrict__ results,
                  int32_t* __restrict__ tokens) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  __shared__ Shared sh;
  const SampleRowSpec sp = specs[blockIdx.x];
  const float* x = logits + static_cast<int64_t>(sp.row) * vocab;
  SampleRowResult* res = results + blockIdx.x;

  unsigned long long max_key = 0;
  const int64_t n_chunks = chunks_of(vocab);
  const double lse = row_lse(parts + blockIdx.x * n_chunks, n_chunks, sh, &max_key);
  if (max_key == 0) {
    if (threadIdx.x == 0) {
      res->token = -1;
      res->n_top = 0;
      if (tokens != nullptr) tokens[blockIdx.x] = -1;
    }
    return;
  }
  const int n_top_wanted = min(max(sp.top_logprobs, 0), kSampleMaxTop);
  const bool greedy = sp.temperature == 0.0f;
  const LogitKey lkey{x};
  int n_top = 0;
  if (n_top_wanted > 0) {
    n_top = next_page(LogprobKey{x, lse}, vocab, kNoBound, sh.page, sh, n_top_wanted);
    if (static_cast<int>(threadIdx.x) < n_top) {
      const unsigned long long k = sh.page[threadIdx.x];
      res->top_id[threadIdx.x] = id_of(k);
      res->top_logprob[threadIdx.x] = value_of(k);
    }
    __syncthreads();
  }
  int n0 = 0;
  if (!greedy) n0 = next_page(lkey, vocab, kNoBound, sh.page0, sh);

  int token = id_of(max_key);
  if (!greedy) {
    const double t = sp.temperature;
    const double z_max = static_cast<double>(value_of(max_key)) / t;
    // Top-k: the floor key of the kept set.
    int candidates = 0;
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads) candidates += sanitize(x[i]) > -INFINITY ? 1 : 0;
    candidates = detail::block_sum<kThreads>(candidates, sh.ired);
    uint64_t floor_key = 0;
    if (sp.top_k > 0 && sp.top_k < candidates) floor_key = radix_select(lkey, vocab, sp.top_k, 0, kNoBound, sh);
    // S over the top-k set.
    double s_sum = 0.0;
    for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
      const float s = sanitize(x[i]);
      if (in_range(lkey(i), floor_key, kNoBound)) s_sum += exp(static_cast<double>(s) / t - z_max);
    }
    s_sum = detail::block_sum<kThreads>(s_sum, sh.dred);
    const double max_p = 1.0 / s_sum;
    const double min_keep = static_cast<double>(sp.min_p) * max_p;
    page_probs(sh.page0, sh.p0, t, z_max, s_sum);
    auto kept = [&](unsigned long long k, double p) { return k != 0 && k >= floor_key && p != 0.0 && p >= min_keep; };

    // The kept prefix [0, n_keep) of the sorted order and its mass M.
    double mass = 0.0;
    int n_keep = 0;
    if (sp.top_p < 1.0f) {
      const double top_p = sp.top_p;
      if (threadIdx.x == 0) {
        sh.cum = 0.0;
        sh.n_keep = 0;
        sh.done = 0;
      }
      __syncthreads();
      const unsigned long long* page = sh.page0;
      const double* p = sh.p0;
      int n = n0;
      for (;;) {
        if (threadIdx.x == 0) {
          for (int i = 0; i < n && !sh.done; ++i) {
            if (!kept(page[i], p[i])) {
              sh.done = 1;
              break;
            }
            sh.cum += p[i];
            sh.n_keep++;
            if (sh.cum >= top_p) sh.done = 1;
          }
          if (n < kPage) sh.done = 1;
        }
        __syncthreads();
        if (sh.done) break;
        const uint64_t hi = page[n - 1];
        __syncthreads();
        n = next_page(lkey, vocab, hi, sh.page, sh);
        page_probs(sh.page, sh.p, t, z_max, s_sum);
        page = sh.page;
        p = sh.p;
        if (n == 0) break;
      }
      mass = sh.cum;
      n_keep = sh.n_keep;
    } else {
      double m = 0.0;
      int c = 0;
      for (int64_t i = threadIdx.x; i < vocab; i += kThreads) {
        const float s = sanitize(x[i]);
        if (!in_range(lkey(i), floor_key, kNoBound)) continue;
        const double p = exp(static_cast<double>(s) / t - z_max) / s_sum;
        if (p != 0.0 && p >= min_keep) {
          m += p;
          ++c;
        }
      }
      mass = detail::block_sum<kThreads>(m, sh.dred);
      n_keep = detail::block_sum<kThreads>(c, sh.ired);
    }

    // The draw: the first kept token (sorted order) whose running sum exceeds u * M; else the last kept one.
    const double target = philox_uniform(sp.seed, sp.token_index) * mass;
    if (threadIdx.x == 0) {
      sh.cum = 0.0;
      sh.n_keep = 0;  // walked so far
      sh.done = 0;
      sh.token = id_of(sh.page0[0]);
    }
    __syncthreads();
    const unsigned long long* page = sh.page0;
    const double* p = sh.p0;
    int n = n0;
    for (;;) {
      if (threadIdx.x == 0) {
        for (int i = 0; i < n && sh.n_keep < n_keep; ++i) {
          sh.cum += p[i];
          sh.n_keep++;
          sh.token = id_of(page[i]);
          if (target < sh.cum) {
            sh.done = 1;
            break;
          }
        }
        if (sh.n_keep >= n_keep || n < kPage) sh.done = 1;
      }
      __syncthreads();
      if (sh.done) break;
      const uint64_t hi = page[n - 1];
      __syncthreads();
      n = next_page(lkey, vocab, hi, sh.page, sh);
      page_probs(sh.page, sh.p, t, z_max, s_sum);
      page = sh.page;
      p = sh.p;
      if (n == 0) break;
    }
    token = sh.token;
  }
  if (threadIdx.x == 0) {
    res->token = token;
    res->logprob = static_cast<float>(static_cast<double>(sanitize(x[token])) - lse);
    res->n_top = n_top;
    if (tokens != nullptr) tokens[blockIdx.x] = token;
  }
}

__global__ void __launch_bounds__(kThreads, 1)
    token_logprobs_kernel(const float* __restrict__ logits, int64_t vocab, const int32_t* __restrict__ rows,
                          const int32_t* __restrict__ tokens, const RowPart* __restrict__ parts,
                          float* __restrict__ out) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  __shared__ Shared sh;
  const float* x = logits + static_cast<int64_t>(rows[blockIdx.x]) * vocab;
  unsigned long long max_key = 0;
  const int64_t n_chunks = chunks_of(vocab);
  const double lse = row_lse(parts + blockIdx.x * n_chunks, n_chunks, sh, &max_key);
  if (threadIdx.x == 0) {
    const int32_t t = tokens[blockIdx.x];
    out[blockIdx.x] =
        max_key == 0 || t < 0 || t >= vocab ? NAN : static_cast<float>(static_cast<double>(sanitize(x[t])) - lse);
  }
}

}  // namespace

size_t sample_workspace_bytes(int n, int64_t vocab) {
  return static_cast<size_t>(std::max(n, 0)) * static_cast<size_t>(chunks_of(std::max<int64_t>(vocab, 1))) *
         sizeof(RowPart);
}

namespace {

void check_args(int64_t vocab, int n, const void* workspace, const char* what) {
  if (vocab <= 0 || vocab > (int64_t{1} << 31) - 1)
    fail(what, "vocab " + std::to_string(vocab) + " is outside [1, 2^31 - 1]");
  if (n > 65535) fail(what, std::to_string(n) + " rows in one launch (at most 65535)");
  if (workspace == nullptr || reinterpret_cast<uintptr_t>(workspace) % 16 != 0)
    fail(what, "needs a 16-byte aligned workspace of sample_workspace_bytes()");
}

dim3 parts_grid(int64_t vocab, int n) {
  return dim3(static_cast<unsigned>(chunks_of(vocab)), static_cast<unsigned>(n));
}

}  // namespace

void sample_rows(const float* logits, int64_t vocab, const SampleRowSpec* specs, SampleRowResult* results, int n,
                 void* workspace, cudaStream_t stream, int32_t* tokens) {
  if (n <= 0) return;
  check_args(vocab, n, workspace, "cuda sample_rows");
  auto* parts = static_cast<RowPart*>(workspace);
  launch_pdl(row_parts_kernel, parts_grid(vocab, n), kPartThreads, 0, stream, logits, vocab, specs,
             static_cast<const int32_t*>(nullptr), parts);
  launch_pdl(sample_kernel, static_cast<unsigned>(n), kThreads, 0, stream, logits, vocab, specs,
             static_cast<const RowPart*>(parts), results, tokens);
}

void token_logprobs(const float* logits, int64_t vocab, const int32_t* rows, const int32_t* tokens, float* out, int n,
                    void* workspace, cudaStream_t stream) {
  if (n <= 0) return;
  check_args(vocab, n, workspace, "cuda token_logprobs");
  auto* parts = static_cast<RowPart*>(workspace);
  launch_pdl(row_parts_kernel, parts_grid(vocab, n), kPartThreads, 0, stream, logits, vocab,
             static_cast<const SampleRowSpec*>(nullptr), rows, parts);
  launch_pdl(token_logprobs_kernel, static_cast<unsigned>(n), kThreads, 0, stream, logits, vocab, rows, tokens,
             static_cast<const RowPart*>(parts), out);
}

}  // namespace verbatim::cuda_kernels

// Sampling and logprobs on the GPU, with the engine's definitions (engine/sampler.h), one block of 1024 threads per
// logit row. Every result is a pure function of (the row's logits, the row's spec): the reductions have one fixed
// order per row (the block trees of reduce.cuh over fixed thread strides), selections count integers (exact in any
// order), and the cumulative walks run in one thread in sorted order. No floating-point atomics.
//
// Per row (logits fp32 [vocab], sanitized on read: NaN -> -inf, +inf -> FLT_MAX):
//   lse = m + log(S), m = max x (double), over chunks c of 4096 ids in increasing order (a first kernel spreads the
//     chunks over the GPU, one block each): S = fma(s_c, exp(m_c - m), S), m_c the chunk's max, s_c = sum
//     exp(double(x) - m_c) over the chunk (the block tree over its ids); chunks without a finite logit skipped
//   logprob(t) = float(double(x[t]) - lse)                 (the one definition the scorer uses too)
//   temperature == 0: the token is argmax x, the lowest id among equal maxima.
//   otherwise, as sampler.h steps 2-8, with the sorted order (x descending, id ascending; z = x / T is monotone in x):
//     top_k keeps the top_k first tokens of the sorted order; S = sum exp(z - z_max) over them (the block tree);
//     p = exp(z - z_max) / S; min_p keeps p >= min_p * (1 / S) and p != 0; top_p keeps the shortest sorted prefix
//     whose cumulative mass (summed in sorted order) is >= top_p; M = the kept mass in sorted order (top_p < 1) or
//     the block tree (top_p == 1); the draw u = philox_uniform(seed, token_index) walks the kept tokens in sorted
//     order until u * M < the running sum (the last kept token if rounding leaves the sum short).
//   The sorted order is produced in pages of 1024 tokens (a radix select of the page's last key, then a bitonic sort),
//   as far as the walks read it.
//   top-n: the top_logprobs first tokens of the sorted order with their logprobs.
// Differences from the host sampler (same definitions, other summation orders): S and M use the block tree (the host
// sums in ascending id order), so a token can differ where a cumulative sum lands within rounding of the target.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace verbatim::cuda_kernels {

constexpr int kSampleMaxTop = 20;

struct SampleRowSpec {
  int32_t row = 0;
  float temperature = 1.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  int32_t top_logprobs = 0;
  uint64_t seed = 0;
  uint64_t token_index = 0;
};

struct SampleRowResult {
  int32_t token = -1;  // -1: the row has no finite logit
  float logprob = 0.0f;
  int32_t n_top = 0;
  int32_t top_id[kSampleMaxTop];
  float top_logprob[kSampleMaxTop];
};

// Bytes of device workspace sample_rows and token_logprobs need for n rows (the per-chunk maxima and sums).
size_t sample_workspace_bytes(int n, int64_t vocab);

// logits: [*, vocab] fp32 device; specs, results: [n] device or pinned host memory (mapped: the backend passes its
// pinned buffers, so that no copy runs on either side); workspace: sample_workspace_bytes(n, vocab) bytes,
// 16-byte aligned. tokens: null, or [n] device memory that also gets each result's token (what a fed step of async
// scheduling reads, fetch_words.cuh). At most 65535 rows per call; a bad argument throws verbatim::Error naming it.
void sample_rows(const float* logits, int64_t vocab, const SampleRowSpec* specs, SampleRowResult* results, int n,
                 void* workspace, cudaStream_t stream, int32_t* tokens = nullptr);

// out[i] = logprob of tokens[i] in row rows[i] (NaN when the row has no finite logit or the token is out of range).
// rows, tokens, out: [n] device or pinned host memory; workspace as for sample_rows. Bitwise the logprob sample_rows
// reports for that token.
void token_logprobs(const float* logits, int64_t vocab, const int32_t* rows, const int32_t* tokens, float* out, int n,
                    void* workspace, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

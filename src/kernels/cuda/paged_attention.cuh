// Batch-invariant paged attention on CUDA: prefill, decode, chunked prefill and prefix-cache hits in ONE kernel
// family (one arithmetic per (row, head), whatever the launch). Raw pointers, no engine types.
//
// What a row computes. Row r (a query at position positions[r] of sequence row_seq[r]) attends positions
// [0, positions[r]] of its sequence, in KV head h / (n_heads / n_kv_heads) for query head h. The positions are cut
// into splits of S positions at FIXED absolute offsets: split i covers [i * S, min((i + 1) * S, pos + 1)), where S is a
// function of the row's own position (split_size_at below): split_min, doubled while the row would have more than
// split_target splits, at most split_size. Short rows get short splits (many CTAs for a short context); from
// split_size * split_target positions on, S = split_size, one split more per split_size positions.
// Inside a split, tiles of a fixed size T (64 positions for head_dim <= 128, 32 above; a function of head_dim alone)
// start at i * S + j * T and are visited in increasing order with an online softmax in fp32. Per tile:
//   score[t] = dot(q, k[t]) * (scale * log2(e)), -inf past pos or past the split; tiles starting past pos skipped
//   m' = max(m, max_t score) (exact), alpha = exp2(m - m'), p[t] = exp2(score[t] - m')
//   l' = fma(l, alpha, tile_sum(p))   tile_sum: a fixed butterfly over the tile's T slots
//   acc' = acc * alpha + sum_t p[t] v[t]
// with, by head_dim (so a model always takes the same one):
//   64, 128, 256 (paged_attention_mma.cu): dot and sum_t p v are bf16 tensor-core mma (m16n8k16, fp32 accumulate)
//     over 16-wide chunks in increasing order, p rounded to bf16 (the mma operand; l sums the rounded p);
//   other multiples of 8 (paged_attention_fma.cu): dot is one sequential fma chain over the head dimension and the
//     value sum one sequential fma chain over the tile's valid positions, p in fp32.
// A row with one split writes out = bf16(acc * (1 / l)). A row with several writes (m, l, acc) per split into the
// workspace and a merge kernel combines its splits in increasing order in one thread (w_s = exp2(m_s - M),
// L = l_0 w_0 then fma(l_s, w_s, L); O likewise) and writes bf16(O * (1 / L)); for one split that formula gives the
// same bits as the direct write. No atomics. Masking depends on the row's own position only.
//
// Hence a row's bits depend only on (q row, its sequence's K/V at positions 0..pos, head_dim, the split parameters,
// scale):
// not on the other rows in the launch, on which rows share a CTA (a CTA shares each K/V tile between the query heads of
// one KV group and several consecutive rows of one sequence, but each (row, head) runs the same operations as alone),
// on the grid, max_splits, rows_per_seq_hint or the SM count. A prefill row and a later decode row at the same position
// give the same bits. Mode::Fast uses the same kernels with split_size = fast_split_size(...) (batch-dependent bits).
//
// Supported: head_dim a multiple of 8 up to 256, any n_heads multiple of n_kv_heads, any block_size >= 1, split_size
// and split_min positive multiples of block_size with split_min <= split_size, split_target >= 2, max_splits <= 8192.
// q, out, k_cache, v_cache (and workspace) 16-byte aligned. Anything else throws verbatim::Error.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/attention_inputs.cuh"

namespace verbatim::cuda_kernels {

struct PagedAttentionParams {
  const __nv_bfloat16* q = nullptr;        // [n_rows, n_heads * head_dim], RoPE already applied
  __nv_bfloat16* out = nullptr;            // [n_rows, n_heads * head_dim] (must not alias q)
  const __nv_bfloat16* k_cache = nullptr;  // this layer's K: [num_blocks, n_kv_heads, block_size, head_dim]
  const __nv_bfloat16* v_cache = nullptr;  // this layer's V: same layout
  const int32_t* positions = nullptr;  // [n_rows] device: row r attends positions [0, positions[r]] (>= 0) of its seq
  const int32_t* row_seq = nullptr;    // [n_rows] device: the row's sequence index
  const int32_t* seq_table_begin = nullptr;  // [n_seqs] device: offset of the sequence's block ids in block_table
  const int32_t* block_table = nullptr;      // device: concatenated block ids (position p of sequence s lives in block
                                             // block_table[seq_table_begin[s] + p / block_size], slot p % block_size)
  int n_rows = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0, block_size = 0;
  float scale = 0.0f;    // 1/sqrt(head_dim)
  int split_size = 0;    // the largest split: KV positions per split from split_size * split_target positions on
  int split_min = 0;     // the smallest split (0: split_size, a fixed size); both multiples of block_size
  int split_target = 8;  // a row's splits grow (doubling from split_min) until it has at most this many
  int max_splits = 0;    // grid bound: >= paged_attention_splits(max position) of any row (graph capture may pass a
                         // bucket's bound; CTAs beyond a row's own split count exit early). A row that needs more
                         // splits than this gets NaN outputs (a caller bug made loud).
  float* workspace = nullptr;  // partial results: paged_attention_workspace_bytes(...) bytes (may be null when
                               // max_splits == 1)
  // Speed only, never bits: the most rows any one sequence has in this launch (1 for a decode-only batch; 0 = not
  // known, treated as "many"). With 1 each CTA serves one row (many CTAs: the fast decode shape); with more, a CTA
  // serves up to 32 / (n_heads / n_kv_heads) consecutive rows of one sequence and reads each K/V tile once for all.
  // A wrong hint stays correct (a CTA walks the runs of one sequence inside its rows), only slower.
  int rows_per_seq_hint = 0;
};

// The split size of a row at position pos (a function of pos and the three split parameters alone): split_min
// (split_size where 0), doubled while the row would have more than split_target splits, at most split_size.
__host__ __device__ inline int paged_attention_split_at(int pos, int split_size, int split_min, int split_target) {
  int s = split_min > 0 ? split_min : split_size;
  while (s < split_size && pos / s + 1 > split_target) s = 2 * s < split_size ? 2 * s : split_size;
  return s;
}

// The number of splits of a row at position pos.
__host__ __device__ inline int paged_attention_splits(int pos, int split_size, int split_min, int split_target) {
  return pos / paged_attention_split_at(pos, split_size, split_min, split_target) + 1;
}

// Bytes of workspace for a launch of n_rows rows with max_splits splits (0 when max_splits <= 1).
size_t paged_attention_workspace_bytes(int n_rows, int n_heads, int head_dim, int max_splits);

// out = attention (above). Checks the params (throws verbatim::Error naming the problem) and launches on `stream`
// (asynchronous; graph-capturable: no allocation, no synchronisation).
void paged_attention(const PagedAttentionParams& p, cudaStream_t stream);

// A decode-only step's attention_inputs (attention_inputs.cuh) and attention in one launch: each CTA computes its
// query heads from the fp32 q/k/v rows itself (and split 0 stores them to in.q_out / in.q_bf16), and the CTA of a
// row's last split writes the row's K and V to the cache and uses them from shared memory; no other CTA reads that
// position. The same operations as attention_inputs then paged_attention (attention_inputs_head.cuh), so the same
// bits: q_out, q_bf16, the caches and out are what the two launches give (tests/cuda/paged_attention_test.cu). It
// saves the launch and the completion of one kernel per layer.
// Ordering: the launch copies its first tile of the cache's OLDER positions (below each row's own) before pdl_wait,
// while the kernel ahead still runs (docs/performance.md, 2026-12-04: the attention 1 us a layer shorter). So no
// kernel still running ahead of it in the stream may write those positions of this layer's cache. In the backend they
// were written by earlier steps, and every step starts with the plan's upload, a copy that waits for all earlier work;
// no kernel of a decode step ahead of the attention writes this layer's cache. Served
// where paged_attention_fuses_inputs(p, in): one row per sequence (rows_per_seq_hint == 1), the tensor-core kernel's
// head dims (64, 128, 256), at most 16 query heads per KV head, and `in` describing the same rows, heads, cache and
// positions as p, with in.q_bf16 == p.q. Else it throws.
bool paged_attention_fuses_inputs(const PagedAttentionParams& p, const AttentionInputsParams& in);
void paged_attention_with_inputs(const PagedAttentionParams& p, const AttentionInputsParams& in, cudaStream_t stream);

// Mode::Fast's choice: a split count from the batch (about two CTAs per SM for the batch's rows, as usual engines do)
// turned into a split size: a positive multiple of block_size (of 64 where block_size divides 64), at most
// max_context rounded up.
int fast_split_size(int n_rows, int max_context, int block_size, int sm_count);

// Positions per tile (part of the arithmetic: a function of head_dim alone). 0 where head_dim is unsupported.
int paged_attention_tile(int head_dim);

}  // namespace verbatim::cuda_kernels

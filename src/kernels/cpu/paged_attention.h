// Batch-invariant attention over a paged KV cache (fp32, or bf16), GQA, for many query rows at once.
//
// Every (row, head) output is computed in EXACTLY the order of the reference kernels/cpu/attention.h over the row's
// positions 0 .. pos (its own included):
//   score[t] = (q . k[t]) / sqrtf(head_dim)   dot product sequential in the head dimension (rounded mul, rounded add)
//   a = softmax(score)                        kernels/cpu/softmax.h itself
//   out = a[0] v[0] + a[1] v[1] + ...         sequential in t, from +0
// so the result is bitwise the reference's, whatever the other rows of the step, the blocks the sequence happens to
// own, or the thread count. Threads split (row, head) pairs; each pair is one thread's, start to finish.
//
// The cache layout makes the fixed order fast. One block holds block_size positions of one layer:
//   K block: [kv_dim][block_size]  channel-major, so 8 consecutive positions of one channel are one vector load
//   V block: [n_kv_heads][block_size][head_dim]  head-major, so a head's channels of one position are contiguous
//            and one head's V of the block is one contiguous stretch (as its K is), which the hardware prefetchers
//            follow; position-major [block_size][kv_dim] read a 256-byte piece every kv_dim floats and ran the
//            16-stream decode attention of llama2-110m (context 48, 12 layers, 1 thread) 1.4x slower on the AMD EPYC VM
// The AVX-512 and AVX2 paths compute the scores of 16 / 8 positions per register (lane = position, each lane still
// summing over the head dimension in order) and the weighted sum of V with lane = channel; the widest the CPU has
// runs, else a portable scalar path with the same operations in the same order (the same bits on every path).
//
// bf16 caches (the CPU backend's cpu_kv bf16): every function below has an overload for caches of uint16_t elements
// holding bf16 bits. The write rounds each K and V value to bf16 (round to nearest even, util/half.h f32_to_bf16);
// the reads widen bf16 to fp32 (exact) and then run the fp32 path's operations in its order, so the output is bitwise
// the fp32 kernel's (and the reference's) on K and V rounded to bf16, on every path. Half the bytes read per position.
#pragma once

#include <cstddef>
#include <cstdint>

namespace verbatim::kernels::cpu {

struct PagedKvLayout {
  int block_size = 0;  // positions per block
  int n_kv_heads = 0;
  int head_dim = 0;
  int64_t kv_dim() const { return static_cast<int64_t>(n_kv_heads) * head_dim; }
  int64_t block_floats() const { return kv_dim() * block_size; }  // one block of K (or of V)
};

// The rows of one step as the attention sees them. Row r sits at positions[r] of its sequence, whose block table is
// blocks[r][0 ..] (position p lives in block blocks[r][p / block_size] at offset p % block_size).
struct PagedRows {
  int64_t n_rows = 0;
  const int32_t* positions = nullptr;      // [n_rows]
  const int32_t* const* blocks = nullptr;  // [n_rows] -> the row's sequence's block ids
};

// Stores k[r], v[r] ([n_rows, kv_dim] each, rows contiguous) at their rows' positions in one layer's caches
// k_cache, v_cache ([num_blocks] blocks each, layouts above; bf16 caches: rounded to nearest even). Rows of one step
// never share a slot.
void paged_kv_write(const float* k, const float* v, const PagedRows& rows, float* k_cache, float* v_cache,
                    const PagedKvLayout& l, int threads);
void paged_kv_write(const float* k, const float* v, const PagedRows& rows, uint16_t* k_cache, uint16_t* v_cache,
                    const PagedKvLayout& l, int threads);

// Which code runs: the widest this CPU has (Auto), or one named path (tests compare them; a named path must be
// available, else a kernel check fails).
enum class AttnPath { Auto, Scalar, Avx2, Avx512 };
bool attention_path_available(AttnPath path);

// scores[t - t0] = (qh . K[t]) / sqrtf(head_dim) for t in [t0, t1), K of KV head `kv_head`, in the reference's order.
// qh: [head_dim]; blocks: the sequence's block ids; scores: [t1 - t0].
void paged_scores(const float* qh, const float* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                  float* scores, const PagedKvLayout& l, AttnPath path = AttnPath::Auto);
void paged_scores(const float* qh, const uint16_t* k_cache, const int32_t* blocks, int kv_head, int64_t t0, int64_t t1,
                  float* scores, const PagedKvLayout& l, AttnPath path = AttnPath::Auto);

// out_h[i] = sum_t a[t - t0] * V[t][kv_head, i] for t in [t0, t1), sequential in t from +0. a: [t1 - t0];
// out_h: [head_dim].
void paged_weighted_values(const float* a, const float* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                           int64_t t1, float* out_h, const PagedKvLayout& l, AttnPath path = AttnPath::Auto);
void paged_weighted_values(const float* a, const uint16_t* v_cache, const int32_t* blocks, int kv_head, int64_t t0,
                           int64_t t1, float* out_h, const PagedKvLayout& l, AttnPath path = AttnPath::Auto);

struct PagedAttentionParams {
  int n_heads = 0;  // query heads per row; head h reads KV head h / (n_heads / n_kv_heads)
  PagedKvLayout kv;
  int threads = 1;
  AttnPath path = AttnPath::Auto;
};

// Floats of scratch paged_attention needs when no row sits past position max_pos.
size_t paged_attention_scratch_floats(int64_t max_pos, int threads);

// out[r] = attention of q[r] over positions [0, positions[r]] of its sequence. q, out: [n_rows, n_heads * head_dim]
// (must not alias); k_cache, v_cache: one layer; scratch: paged_attention_scratch_floats(max position, threads).
void paged_attention(const float* q, const float* k_cache, const float* v_cache, const PagedRows& rows, float* out,
                     float* scratch, size_t scratch_floats, const PagedAttentionParams& p);
void paged_attention(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, const PagedRows& rows,
                     float* out, float* scratch, size_t scratch_floats, const PagedAttentionParams& p);

// "avx512", "avx2" or "scalar": the path paged_attention takes on this CPU (Auto).
const char* paged_attention_path();

}  // namespace verbatim::kernels::cpu

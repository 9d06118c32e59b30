// Benchmark of the CUDA paged attention (src/kernels/cuda/paged_attention.cuh) on Qwen3-8B's attention shape
// (32 query heads, 8 KV heads, head_dim 128, block_size 16). Prints one table:
//   decode: batch 1, 16, 64 x context 512, 1024, 4096, invariant split (a fixed 512, the default, and grown from 128
//   up to 512 until a row has at most 8 splits, --cuda-split-min 128) vs fast split (fast_split_size);
//   prefill: one sequence of 2048 rows (positions 0..2047), both invariant splits, rows tiled per CTA (hint n) and
//   not (hint 1).
// Decode bytes = K and V of every row's positions read once; GB/s against a device-to-device cudaMemcpy of 1 GiB
// measured in the same process (bytes read + written). Timing: CUDA events around 10 back-to-back launches (decode)
// or one (prefill), warm-up first, median of the samples; the decode inputs rotate over copies on disjoint blocks
// whose K/V together exceed 4x the L2 where the pool allows (so reruns do not find the data in L2).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/paged_attention.cuh"
#include "kernels/cuda/testdata.h"

namespace {

using verbatim::cuda_kernels::PagedAttentionParams;

void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <typename T>
T* dev_alloc(size_t n) {
  void* p = nullptr;
  ck(cudaMalloc(&p, std::max<size_t>(n * sizeof(T), 16)), "cudaMalloc");
  return static_cast<T*>(p);
}

constexpr int kHeads = 32, kKvHeads = 8, kHd = 128, kBs = 16;
constexpr int kInvariantSplit = 512;
constexpr int kGrownMin = 128;  // a grown split (CudaBackendOptions::split_min = 128, generate --cuda-split-min)
constexpr size_t kBlockElems = static_cast<size_t>(kKvHeads) * kBs * kHd;  // one block of K (or V)

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median over `iters` samples of the ms per launch of f(i) (i: the rotation index), each sample `per` launches back
// to back between two events (so host launch overhead hides behind the kernels, as under graph replay), after
// `warm` warm-up launches.
template <typename F>
float time_ms(F f, int warm, int iters, int per, cudaStream_t s) {
  cudaEvent_t a, b;
  ck(cudaEventCreate(&a), "event");
  ck(cudaEventCreate(&b), "event");
  int n = 0;
  for (int i = 0; i < warm; ++i) f(n++);
  ck(cudaStreamSynchronize(s), "sync");
  std::vector<float> ms;
  for (int i = 0; i < iters; ++i) {
    ck(cudaEventRecord(a, s), "record");
    for (int k = 0; k < per; ++k) f(n++);
    ck(cudaEventRecord(b, s), "record");
    ck(cudaEventSynchronize(b), "sync");
    float t = 0;
    ck(cudaEventElapsedTime(&t, a, b), "elapsed");
    ms.push_back(t / per);
  }
  ck(cudaEventDestroy(a), "event");
  ck(cudaEventDestroy(b), "event");
  return median(ms);
}

}  // namespace

int main() {
  int dev = 0, sms = 0, l2 = 0;
  ck(cudaSetDevice(dev), "cudaSetDevice");
  cudaDeviceProp prop{};
  ck(cudaGetDeviceProperties(&prop, dev), "props");
  sms = prop.multiProcessorCount;
  l2 = prop.l2CacheSize;
  cudaStream_t s;
  ck(cudaStreamCreate(&s), "stream");
  std::printf("device: %s, %d SMs, L2 %d MB\n", prop.name, sms, l2 >> 20);

  // The copy ceiling.
  double copy_gbs = 0;
  {
    const size_t bytes = size_t{1} << 30;
    char* a = dev_alloc<char>(bytes);
    char* b = dev_alloc<char>(bytes);
    ck(cudaMemset(a, 1, bytes), "memset");
    const float ms =
        time_ms([&](int) { ck(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, s), "copy"); }, 3, 15, 1, s);
    copy_gbs = 2.0 * bytes / (ms * 1e-3) / 1e9;
    std::printf("device-to-device copy of 1 GiB: %.3f ms, %.1f GB/s (read + written)\n", ms, copy_gbs);
    ck(cudaFree(a), "free");
    ck(cudaFree(b), "free");
  }

  // One pool of blocks for every case: 2 x 36864 blocks of 32 KiB = 2.25 GiB of K/V.
  const int pool_blocks = 36864;
  __nv_bfloat16* k = dev_alloc<__nv_bfloat16>(pool_blocks * kBlockElems);
  __nv_bfloat16* v = dev_alloc<__nv_bfloat16>(pool_blocks * kBlockElems);
  verbatim::cuda::fill_bf16(k, pool_blocks, kBlockElems, kBlockElems, 1, verbatim::cuda::FillPattern::Uniform, s);
  verbatim::cuda::fill_bf16(v, pool_blocks, kBlockElems, kBlockElems, 2, verbatim::cuda::FillPattern::Uniform, s);
  std::vector<int32_t> perm(pool_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(7);
  std::shuffle(perm.begin(), perm.end(), rng);

  const int max_rows = 2048;
  __nv_bfloat16* q = dev_alloc<__nv_bfloat16>(size_t{max_rows} * kHeads * kHd);
  __nv_bfloat16* out = dev_alloc<__nv_bfloat16>(size_t{max_rows} * kHeads * kHd);
  verbatim::cuda::fill_bf16(q, max_rows, kHeads * kHd, kHeads * kHd, 3, verbatim::cuda::FillPattern::Uniform, s);
  const size_t ws_bytes = std::max(verbatim::cuda_kernels::paged_attention_workspace_bytes(64, kHeads, kHd, 4096 / 16),
                                   verbatim::cuda_kernels::paged_attention_workspace_bytes(max_rows, kHeads, kHd, 8));
  float* ws = dev_alloc<float>(ws_bytes / 4 + 4);
  int32_t* d_pos = dev_alloc<int32_t>(max_rows);
  int32_t* d_seq = dev_alloc<int32_t>(max_rows);
  int32_t* d_begin = dev_alloc<int32_t>(max_rows);
  int32_t* d_table = dev_alloc<int32_t>(pool_blocks);
  ck(cudaMemcpy(d_table, perm.data(), perm.size() * 4, cudaMemcpyHostToDevice), "table");

  std::printf("\n| case | mode | split | max_splits | rotations | us (median) | GB/s | of copy |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");

  struct Case {
    int batch, ctx;
  };
  for (const Case c : {Case{1, 512}, Case{1, 1024}, Case{1, 4096}, Case{16, 512}, Case{16, 1024}, Case{16, 4096},
                       Case{64, 512}, Case{64, 1024}, Case{64, 4096}}) {
    const int blocks_per_seq = c.ctx / kBs;
    const int blocks_case = blocks_per_seq * c.batch;
    // Rotations: copies of the case on disjoint blocks, together >= 4x L2 where the pool and the row arrays allow.
    const double case_bytes = 2.0 * blocks_case * kBlockElems * 2;
    int rot = std::clamp(static_cast<int>(std::ceil(4.0 * l2 / case_bytes)), 1, max_rows / c.batch);
    rot = std::min(rot, pool_blocks / blocks_case);
    // Sequence (rotation r, b) begins at block offset (r * batch + b) * blocks_per_seq of the shuffled table.
    std::vector<int32_t> begin(static_cast<size_t>(rot) * c.batch);
    for (size_t i = 0; i < begin.size(); ++i) begin[i] = static_cast<int32_t>(i * blocks_per_seq);
    ck(cudaMemcpy(d_begin, begin.data(), begin.size() * 4, cudaMemcpyHostToDevice), "begin");
    std::vector<int32_t> pos(static_cast<size_t>(rot) * c.batch, c.ctx - 1), seq(begin.size());
    std::iota(seq.begin(), seq.end(), 0);
    ck(cudaMemcpy(d_pos, pos.data(), pos.size() * 4, cudaMemcpyHostToDevice), "pos");
    ck(cudaMemcpy(d_seq, seq.data(), seq.size() * 4, cudaMemcpyHostToDevice), "seq");
    const double bytes = static_cast<double>(c.batch) * c.ctx * kKvHeads * kHd * 2 * 2;
    // variant 0: invariant, max_splits = the needed count; 1: fast; 2: invariant with max_splits 64 (a graph's bound
    // for 32K positions: the extra CTAs exit early, at a cost this row shows; batch 64 only); 3: invariant, splits
    // grown from kGrownMin.
    for (int variant = 0; variant < 4; ++variant) {
      if (variant == 2 && c.batch != 64) continue;
      const bool fast = variant == 1;
      const int split = fast ? verbatim::cuda_kernels::fast_split_size(c.batch, c.ctx, kBs, sms) : kInvariantSplit;
      const int split_min = variant == 3 ? kGrownMin : 0;
      const int max_splits = variant == 2 ? 64
                                          : verbatim::cuda_kernels::paged_attention_splits(
                                                c.ctx - 1, split, split_min, PagedAttentionParams{}.split_target);
      auto launch = [&](int i) {
        const int r = i % rot;
        PagedAttentionParams p;
        p.q = q, p.out = out, p.k_cache = k, p.v_cache = v;
        p.positions = d_pos + r * c.batch;
        p.row_seq = d_seq + r * c.batch;
        p.seq_table_begin = d_begin;
        p.block_table = d_table;
        p.n_rows = c.batch, p.n_heads = kHeads, p.n_kv_heads = kKvHeads, p.head_dim = kHd, p.block_size = kBs;
        p.scale = 1.0f / std::sqrt(static_cast<float>(kHd));
        p.split_size = split;
        p.split_min = split_min;
        p.max_splits = max_splits;
        p.workspace = ws;
        p.rows_per_seq_hint = 1;
        verbatim::cuda_kernels::paged_attention(p, s);
      };
      const float ms = time_ms(launch, 5, 31, 10, s);
      const double gbs = bytes / (ms * 1e-3) / 1e9;
      std::printf("| decode batch %d ctx %d | %s | %d | %d | %d | %.1f | %.0f | %.1f%% |\n", c.batch, c.ctx,
                  variant == 0   ? "invariant"
                  : variant == 1 ? "fast"
                  : variant == 2 ? "invariant, bound 64"
                                 : "invariant, grown from 128",
                  variant == 3 ? verbatim::cuda_kernels::paged_attention_split_at(c.ctx - 1, split, split_min,
                                                                                  PagedAttentionParams{}.split_target)
                               : split,
                  max_splits, rot, ms * 1e3, gbs, 100.0 * gbs / copy_gbs);
      std::fflush(stdout);
    }
  }

  // Prefill: one sequence, rows at positions 0..n-1, invariant split.
  for (int n : {2048}) {
    std::vector<int32_t> pos(n), seq(n, 0), begin(1, 0);
    std::iota(pos.begin(), pos.end(), 0);
    ck(cudaMemcpy(d_pos, pos.data(), n * 4, cudaMemcpyHostToDevice), "pos");
    ck(cudaMemcpy(d_seq, seq.data(), n * 4, cudaMemcpyHostToDevice), "seq");
    ck(cudaMemcpy(d_begin, begin.data(), 4, cudaMemcpyHostToDevice), "begin");
    for (int variant = 0; variant < 4; ++variant) {
      const int hint = variant % 2, split_min = variant < 2 ? 0 : kGrownMin;
      int max_splits = 1;
      for (int i = 0; i < n; ++i)
        max_splits = std::max(max_splits, verbatim::cuda_kernels::paged_attention_splits(
                                              i, kInvariantSplit, split_min, PagedAttentionParams{}.split_target));
      auto launch = [&](int) {
        PagedAttentionParams p;
        p.q = q, p.out = out, p.k_cache = k, p.v_cache = v;
        p.positions = d_pos, p.row_seq = d_seq, p.seq_table_begin = d_begin, p.block_table = d_table;
        p.n_rows = n, p.n_heads = kHeads, p.n_kv_heads = kKvHeads, p.head_dim = kHd, p.block_size = kBs;
        p.scale = 1.0f / std::sqrt(static_cast<float>(kHd));
        p.split_size = kInvariantSplit;
        p.split_min = split_min;
        p.max_splits = max_splits;
        p.workspace = ws;
        p.rows_per_seq_hint = hint == 0 ? n : 1;
        verbatim::cuda_kernels::paged_attention(p, s);
      };
      const float ms = time_ms(launch, 2, 11, 1, s);
      // Causal: row i reads i + 1 positions; 4 flops per (position, head, dim) (QK and PV multiply-adds).
      const double flops = 4.0 * kHeads * kHd * (static_cast<double>(n) * (n + 1) / 2);
      std::printf("| prefill 1 seq x %d rows (hint %s) | %s | %d | %d | 1 | %.1f | %.1f TFLOP/s | - |\n", n,
                  hint == 0 ? "n" : "1", split_min == 0 ? "invariant" : "invariant, grown from 128", kInvariantSplit,
                  max_splits, ms * 1e3, flops / (ms * 1e-3) / 1e12);
      std::fflush(stdout);
    }
  }
  ck(cudaGetLastError(), "last");
  ck(cudaDeviceSynchronize(), "sync");
  return 0;
}

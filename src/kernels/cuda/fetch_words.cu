#include <algorithm>
#include <string>

#include "kernels/cuda/fetch_words.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxBlocks = 64;

// Every thread loads a batch of its vectors first, then stores them: one round trip over the bus for the small plans
// of a decode step. No griddepcontrol: the next kernel starts once this one has completed (fetch_words.cuh).
__global__ void fetch_words_kernel(const FetchWordsParams p) {
  const int64_t seg_total = static_cast<int64_t>(p.segments) * p.seg_vecs;
  const int64_t total = seg_total + p.tail_vecs;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  constexpr int kBatch = 4;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; base < total;
       base += kBatch * stride) {
    int4 v[kBatch];
    int4* to[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int64_t i = base + b * stride;
      to[b] = nullptr;
      if (i >= total) continue;
      const int4* from;
      if (i < seg_total) {
        const int64_t at = i / p.seg_vecs * p.stride_vecs + i % p.seg_vecs;
        from = reinterpret_cast<const int4*>(p.src) + at;
        to[b] = reinterpret_cast<int4*>(p.dst) + at;
      } else {
        from = reinterpret_cast<const int4*>(p.tail_src) + (i - seg_total);
        to[b] = reinterpret_cast<int4*>(p.tail_dst) + (i - seg_total);
      }
      v[b] = __ldcv(from);  // fetched again, never a line cached from an earlier launch
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      if (to[b] == nullptr) continue;
      if (p.feed != nullptr && base + b * stride < p.seg_vecs) {  // segment 0: the fed words
        int* w = reinterpret_cast<int*>(&v[b]);
#pragma unroll
        for (int k = 0; k < 4; ++k)
          if (w[k] < 0) {
            const int at = -(w[k] + 1);
            w[k] = at < p.feed_n ? max(p.feed[at], 0) : 0;
          }
      }
      *to[b] = v[b];
    }
  }
}

[[noreturn]] void bad(const std::string& what) {
  fail("cuda fetch_words", what);
}

bool aligned16(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
}

}  // namespace

void fetch_words(const FetchWordsParams& p, cudaStream_t stream) {
  if (p.segments < 0 || p.seg_vecs < 0 || p.tail_vecs < 0) bad("negative count");
  if (p.segments > 1 && p.seg_vecs > p.stride_vecs) bad("a segment is longer than the stride between segments");
  const bool segs = p.segments > 0 && p.seg_vecs > 0;
  if (segs && (p.src == nullptr || p.dst == nullptr || !aligned16(p.src) || !aligned16(p.dst)))
    bad("segment pointers must be non-null and 16-byte aligned");
  if (p.tail_vecs > 0 &&
      (p.tail_src == nullptr || p.tail_dst == nullptr || !aligned16(p.tail_src) || !aligned16(p.tail_dst)))
    bad("tail pointers must be non-null and 16-byte aligned");
  if (p.feed_n < 0 || (p.feed_n > 0 && p.feed == nullptr)) bad("fed words need the feed array");
  const int64_t total = (segs ? static_cast<int64_t>(p.segments) * p.seg_vecs : 0) + p.tail_vecs;
  if (total == 0) return;
  FetchWordsParams q = p;
  if (!segs) q.segments = 0, q.seg_vecs = 1, q.feed = nullptr;
  const int blocks = static_cast<int>(std::min<int64_t>(kMaxBlocks, (total + kThreads - 1) / kThreads));
  fetch_words_kernel<<<blocks, kThreads, 0, stream>>>(q);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) bad(std::string("launch failed: ") + cudaGetErrorString(e));
}

}  // namespace verbatim::cuda_kernels

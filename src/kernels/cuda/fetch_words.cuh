// A kernel that copies a step's small inputs from pinned host memory to the device: the step plan's segments and
// its block table in one launch, read by the kernel over the bus (pinned memory is mapped into the device's address
// space), instead of copy-engine transfers. A copy, no arithmetic.
//
// Why: a decode step starts with its plan's upload, and each copy-engine transfer costs its own latency between the
// kernels of the stream. Measured by events on an H200 (docs/performance.md, 2026-12-04): the two transfers it
// replaces held the GPU 20-25 us a step with the block table in pageable memory, 12.5 us from pinned memory; this
// launch 9.9 us. Ordering: launched plainly (not as a programmatic dependent), so that it starts after every earlier
// piece of work in the stream has completed (as the copies did), and it never lets the next kernel start early: the
// kernels after it see the words it wrote, even those that read the plan before their own pdl_wait.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

// `segments` ranges of `seg_vecs` 16-byte vectors each, the i-th at src + i * stride_vecs to dst + i * stride_vecs
// (vectors of 4 int32), then `tail_vecs` vectors from tail_src to tail_dst. All pointers 16-byte aligned; src and
// tail_src may be pinned host memory. Nothing to copy: no launch.
// Fed words (async scheduling: the step plan's tokens that the step before samples): with `feed` set, a negative word
// w of segment 0 is stored as feed[-w - 1] instead (0 where that index is not below feed_n, or the value is negative:
// a row with no finite logit, whose step the engine fails anyway). feed is device memory that an earlier kernel of
// the stream wrote (the sampling kernels' tokens); this launch starts after it has completed.
struct FetchWordsParams {
  const int32_t* src = nullptr;
  int32_t* dst = nullptr;
  int segments = 0;
  int64_t seg_vecs = 0, stride_vecs = 0;
  const int32_t* tail_src = nullptr;
  int32_t* tail_dst = nullptr;
  int64_t tail_vecs = 0;
  const int32_t* feed = nullptr;
  int feed_n = 0;
};

// Throws verbatim::Error on a bad argument (negative counts, a segment longer than its stride, misaligned or null
// pointers where there is something to copy, feed_n > 0 without feed).
void fetch_words(const FetchWordsParams& p, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

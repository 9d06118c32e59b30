#include "kernels/cuda/gather_rows.cuh"
#include "kernels/cuda/pdl.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

__global__ void gather_rows_kernel(const uint32_t* __restrict__ x, const int32_t* __restrict__ rows,
                                   uint32_t* __restrict__ out, int64_t row_words) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t i = blockIdx.x;
  const uint32_t* src = x + static_cast<int64_t>(rows[i]) * row_words;
  uint32_t* dst = out + i * row_words;
  for (int64_t w = threadIdx.x; w < row_words; w += kThreads) dst[w] = src[w];
}

}  // namespace

void gather_rows(const void* x, const int32_t* rows, int64_t n, int64_t row_bytes, void* out, cudaStream_t stream) {
  if (n <= 0) return;
  launch_pdl(gather_rows_kernel, static_cast<unsigned>(n), kThreads, 0, stream, static_cast<const uint32_t*>(x), rows,
             static_cast<uint32_t*>(out), row_bytes / 4);
}

}  // namespace verbatim::cuda_kernels

#include <cuda_bf16.h>

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/split_columns.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

__global__ void split_columns_kernel(const float* __restrict__ in, int64_t n, SplitColumnsParams p) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (t >= n) return;
  const int64_t r = t / p.total;
  int64_t c = t % p.total;
  int part = 0;
  while (part + 1 < p.n_parts && c >= p.cols[part]) c -= p.cols[part++];
  float v = in[t];
  if (p.bias[part] != nullptr) v = v + __bfloat162float(static_cast<const __nv_bfloat16*>(p.bias[part])[c]);
  p.out[part][r * p.cols[part] + c] = v;
}

}  // namespace

void split_columns(const float* in, int64_t rows, const SplitColumnsParams& p, cudaStream_t stream) {
  const int64_t n = rows * p.total;
  if (n <= 0) return;
  launch_pdl(split_columns_kernel, static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream, in, n, p);
}

}  // namespace verbatim::cuda_kernels

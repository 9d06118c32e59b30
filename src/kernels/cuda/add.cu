#include "kernels/cuda/add.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

__global__ void add_inplace_kernel(float* __restrict__ residual, const float* __restrict__ x, int64_t n) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < n) residual[i] = residual[i] + x[i];
}

__global__ void add_bias_kernel(float* __restrict__ y, const __nv_bfloat16* __restrict__ bias, int64_t n,
                                int64_t cols) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < n) y[i] = y[i] + __bfloat162float(bias[i % cols]);
}

}  // namespace

void add_inplace(float* residual, const float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  launch_pdl(add_inplace_kernel, static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream, residual, x,
             n);
}

void add_bias(float* y, const void* bias, int64_t rows, int64_t cols, cudaStream_t stream) {
  const int64_t n = rows * cols;
  if (n <= 0) return;
  launch_pdl(add_bias_kernel, static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads, 0, stream, y,
             static_cast<const __nv_bfloat16*>(bias), n, cols);
}

}  // namespace verbatim::cuda_kernels

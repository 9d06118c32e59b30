#include <cuda_bf16.h>

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rope.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

__global__ void rope_kernel(float* __restrict__ x, const int32_t* __restrict__ positions,
                            const float* __restrict__ inv_freq, __nv_bfloat16* __restrict__ copy, int64_t total,
                            RopeParams p) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;  // (row, head, i)
  if (t >= total) return;
  const int half = p.head_dim / 2;
  const int i = static_cast<int>(t % half);
  const int64_t rh = t / half;  // row * n_heads + head
  const int64_t row = rh / p.n_heads;
  const float angle = static_cast<float>(positions[row]) * inv_freq[i];
  const float c = cosf(angle), s = sinf(angle);
  float* v = x + rh * p.head_dim;
  const float a = v[i], b = v[i + half];
  const float lo = a * c - b * s, hi = b * c + a * s;
  v[i] = lo;
  v[i + half] = hi;
  if (copy != nullptr) {
    copy[rh * p.head_dim + i] = __float2bfloat16_rn(lo);
    copy[rh * p.head_dim + i + half] = __float2bfloat16_rn(hi);
  }
}

}  // namespace

void rope(float* x, const int32_t* positions, int64_t rows, const float* inv_freq, const RopeParams& p, void* copy_bf16,
          cudaStream_t stream) {
  const int64_t total = rows * p.n_heads * (p.head_dim / 2);
  if (total <= 0) return;
  launch_pdl(rope_kernel, static_cast<unsigned>((total + kThreads - 1) / kThreads), kThreads, 0, stream, x, positions,
             inv_freq, static_cast<__nv_bfloat16*>(copy_bf16), total, p);
}

}  // namespace verbatim::cuda_kernels

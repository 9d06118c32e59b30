#include "kernels/cuda/head_rmsnorm.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kWarpsPerBlock = 4;

__global__ void head_rmsnorm_kernel(float* __restrict__ x, const __nv_bfloat16* __restrict__ w, int64_t n_vectors,
                                    HeadRmsNormParams p) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t vec = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (vec >= n_vectors) return;  // whole warps leave together
  const int lane = static_cast<int>(threadIdx.x % 32);
  float* v = x + vec * p.head_dim;
  float ss = 0.0f;
  for (int64_t i = lane; i < p.head_dim; i += 32) ss += v[i] * v[i];
  ss = detail::warp_sum(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(p.head_dim) + p.eps);
  for (int64_t i = lane; i < p.head_dim; i += 32) v[i] = __bfloat162float(w[i]) * (v[i] * inv);
}

}  // namespace

void head_rmsnorm(float* x, const void* w, int64_t rows, const HeadRmsNormParams& p, cudaStream_t stream) {
  const int64_t n_vectors = rows * p.n_heads;
  if (n_vectors <= 0) return;
  const auto blocks = static_cast<unsigned>((n_vectors + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_pdl(head_rmsnorm_kernel, blocks, kWarpsPerBlock * 32, 0, stream, x, static_cast<const __nv_bfloat16*>(w),
             n_vectors, p);
}

}  // namespace verbatim::cuda_kernels

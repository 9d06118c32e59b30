#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/rmsnorm.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

template <typename Out>
__global__ void add_rmsnorm_kernel(float* __restrict__ residual, const float* __restrict__ x,
                                   const __nv_bfloat16* __restrict__ w, Out* __restrict__ out, RmsNormParams p) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  __shared__ float shared[32];
  const int64_t r = blockIdx.x;
  const float* xr = x + r * p.n;
  float* res = residual != nullptr ? residual + r * p.n : nullptr;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < p.n; i += kThreads) {
    float v = xr[i];
    if (res != nullptr) {
      v = res[i] + v;
      res[i] = v;
    }
    ss += v * v;
  }
  ss = detail::block_sum<kThreads>(ss, shared);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(p.n) + p.eps);
  const float* src = res != nullptr ? res : xr;  // each thread re-reads only what it wrote itself
  Out* o = out + r * p.n;
  for (int64_t i = threadIdx.x; i < p.n; i += kThreads) detail::store_f(o, i, __bfloat162float(w[i]) * (src[i] * inv));
}

}  // namespace

void add_rmsnorm(float* residual, const float* x, const void* w, void* out, DType out_dtype, int64_t rows,
                 const RmsNormParams& p, cudaStream_t stream) {
  if (rows <= 0) return;
  const auto* wb = static_cast<const __nv_bfloat16*>(w);
  if (out_dtype == DType::BF16) {
    launch_pdl(add_rmsnorm_kernel<__nv_bfloat16>, static_cast<unsigned>(rows), kThreads, 0, stream, residual, x, wb,
               static_cast<__nv_bfloat16*>(out), p);
  } else {
    launch_pdl(add_rmsnorm_kernel<float>, static_cast<unsigned>(rows), kThreads, 0, stream, residual, x, wb,
               static_cast<float*>(out), p);
  }
}

}  // namespace verbatim::cuda_kernels

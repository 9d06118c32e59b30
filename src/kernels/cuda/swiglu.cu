#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/row_math.cuh"
#include "kernels/cuda/swiglu.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

template <typename Out>
__global__ void swiglu_kernel(const float* __restrict__ gate, const float* __restrict__ up, Out* __restrict__ out,
                              int64_t n) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  detail::store_f(out, i, detail::swiglu_one(gate[i], up[i]));
}

// Rows along blockIdx.y, columns along blockIdx.x; with a row scale warp 0 first computes the row's inv_rms.
template <typename Out>
__global__ void swiglu_rows_kernel(const float* __restrict__ gate, const float* __restrict__ up, int64_t ld,
                                   int64_t cols, Out* __restrict__ out, RowScale scale) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t r = blockIdx.y, c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  __shared__ float inv_shared;
  const float inv = scale.ss != nullptr ? detail::block_row_inv(scale, r, &inv_shared) : 1.0f;
  if (c >= cols) return;
  float g = gate[r * ld + c], u = up[r * ld + c];
  if (scale.ss != nullptr) g = __fmul_rn(g, inv), u = __fmul_rn(u, inv);
  detail::store_f(out, r * cols + c, detail::swiglu_one(g, u));
}

}  // namespace

void swiglu_rows(const float* gate, const float* up, int64_t ld, int64_t rows, int64_t cols, void* out, DType out_dtype,
                 cudaStream_t stream, const RowScale& scale) {
  if (rows <= 0 || cols <= 0) return;
  if (rows > 65535) fail("cuda swiglu_rows", "more than 65535 rows in one launch");
  const dim3 blocks(static_cast<unsigned>((cols + kThreads - 1) / kThreads), static_cast<unsigned>(rows));
  if (out_dtype == DType::BF16) {
    launch_pdl(swiglu_rows_kernel<__nv_bfloat16>, blocks, kThreads, 0, stream, gate, up, ld, cols,
               static_cast<__nv_bfloat16*>(out), scale);
  } else {
    launch_pdl(swiglu_rows_kernel<float>, blocks, kThreads, 0, stream, gate, up, ld, cols, static_cast<float*>(out),
               scale);
  }
}

void swiglu(const float* gate, const float* up, void* out, DType out_dtype, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  if (out_dtype == DType::BF16) {
    launch_pdl(swiglu_kernel<__nv_bfloat16>, blocks, kThreads, 0, stream, gate, up, static_cast<__nv_bfloat16*>(out),
               n);
  } else {
    launch_pdl(swiglu_kernel<float>, blocks, kThreads, 0, stream, gate, up, static_cast<float*>(out), n);
  }
}

}  // namespace verbatim::cuda_kernels

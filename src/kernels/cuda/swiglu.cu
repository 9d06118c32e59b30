#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/row_math.cuh"
#include "kernels/cuda/swiglu.cuh"

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

template <typename Out>
__global__ void swiglu_rows_kernel(const float* __restrict__ gate, const float* __restrict__ up, int64_t ld,
                                   int64_t cols, Out* __restrict__ out, int64_t n) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= n) return;
  const int64_t r = i / cols, c = i % cols;
  detail::store_f(out, i, detail::swiglu_one(gate[r * ld + c], up[r * ld + c]));
}

}  // namespace

void swiglu_rows(const float* gate, const float* up, int64_t ld, int64_t rows, int64_t cols, void* out, DType out_dtype,
                 cudaStream_t stream) {
  const int64_t n = rows * cols;
  if (n <= 0) return;
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  if (out_dtype == DType::BF16) {
    launch_pdl(swiglu_rows_kernel<__nv_bfloat16>, blocks, kThreads, 0, stream, gate, up, ld, cols,
               static_cast<__nv_bfloat16*>(out), n);
  } else {
    launch_pdl(swiglu_rows_kernel<float>, blocks, kThreads, 0, stream, gate, up, ld, cols, static_cast<float*>(out), n);
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

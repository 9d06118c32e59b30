#include <cuda_bf16.h>

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/row_math.cuh"
#include "kernels/cuda/split_columns.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

// Rows along blockIdx.y, columns along blockIdx.x; with a row scale warp 0 first computes the row's inv_rms.
__global__ void split_columns_kernel(const float* __restrict__ in, SplitColumnsParams p, RowScale scale) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t r = blockIdx.y;
  int64_t c = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  __shared__ float inv_shared;
  const float inv = scale.ss != nullptr ? detail::block_row_inv(scale, r, &inv_shared) : 1.0f;
  if (c >= p.total) return;
  float v = in[r * p.total + c];
  int part = 0;
  while (part + 1 < p.n_parts && c >= p.cols[part]) c -= p.cols[part++];
  if (scale.ss != nullptr) v = __fmul_rn(v, inv);
  if (p.bias[part] != nullptr) v = v + __bfloat162float(static_cast<const __nv_bfloat16*>(p.bias[part])[c]);
  p.out[part][r * p.cols[part] + c] = v;
}

}  // namespace

void split_columns(const float* in, int64_t rows, const SplitColumnsParams& p, cudaStream_t stream,
                   const RowScale& scale) {
  if (rows <= 0 || p.total <= 0) return;
  if (rows > 65535) fail("cuda split_columns", "more than 65535 rows in one launch");
  const dim3 grid(static_cast<unsigned>((p.total + kThreads - 1) / kThreads), static_cast<unsigned>(rows));
  launch_pdl(split_columns_kernel, grid, kThreads, 0, stream, in, p, scale);
}

}  // namespace verbatim::cuda_kernels

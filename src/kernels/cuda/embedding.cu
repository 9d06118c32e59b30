#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/reduce.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

__global__ void embedding_kernel(const __nv_bfloat16* __restrict__ table, const int32_t* __restrict__ tokens,
                                 float* __restrict__ out, EmbeddingParams p) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t r = blockIdx.x;
  const int32_t t = tokens[r];
  float* o = out + r * p.dim;
  if (t < 0 || t >= p.vocab) {
    for (int64_t i = threadIdx.x; i < p.dim; i += kThreads) o[i] = 0.0f;
    return;
  }
  const __nv_bfloat16* row = table + static_cast<int64_t>(t) * p.dim;
  for (int64_t i = threadIdx.x; i < p.dim; i += kThreads) o[i] = __bfloat162float(row[i]);
}

}  // namespace

void embedding(const void* table, const int32_t* tokens, int64_t n_rows, float* out, const EmbeddingParams& p,
               cudaStream_t stream) {
  if (n_rows <= 0) return;
  launch_pdl(embedding_kernel, static_cast<unsigned>(n_rows), kThreads, 0, stream,
             static_cast<const __nv_bfloat16*>(table), tokens, out, p);
}

}  // namespace verbatim::cuda_kernels

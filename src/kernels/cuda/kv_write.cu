#include <cuda_bf16.h>

#include "kernels/cuda/kv_write.cuh"
#include "kernels/cuda/pdl.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;

__global__ void kv_write_kernel(const float* __restrict__ k, const float* __restrict__ v,
                                const int32_t* __restrict__ row_block, const int32_t* __restrict__ positions,
                                int64_t total, __nv_bfloat16* __restrict__ kc, __nv_bfloat16* __restrict__ vc,
                                KvWriteParams p) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;  // (row, head, d)
  if (t >= total) return;
  const int64_t width = static_cast<int64_t>(p.n_kv_heads) * p.head_dim;
  const int64_t row = t / width;
  const int64_t hd = t % width;
  const int64_t h = hd / p.head_dim, d = hd % p.head_dim;
  const int64_t slot = positions[row] % p.block_size;
  const int64_t dst =
      ((static_cast<int64_t>(row_block[row]) * p.n_kv_heads + h) * p.block_size + slot) * p.head_dim + d;
  kc[dst] = __float2bfloat16_rn(k[t]);
  vc[dst] = __float2bfloat16_rn(v[t]);
}

}  // namespace

void kv_write(const float* k, const float* v, const int32_t* row_block, const int32_t* positions, int64_t rows,
              void* k_cache, void* v_cache, const KvWriteParams& p, cudaStream_t stream) {
  const int64_t total = rows * p.n_kv_heads * p.head_dim;
  if (total <= 0) return;
  launch_pdl(kv_write_kernel, static_cast<unsigned>((total + kThreads - 1) / kThreads), kThreads, 0, stream, k, v,
             row_block, positions, total, static_cast<__nv_bfloat16*>(k_cache), static_cast<__nv_bfloat16*>(v_cache),
             p);
}

}  // namespace verbatim::cuda_kernels

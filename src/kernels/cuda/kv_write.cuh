// CUDA KV-cache write: stores each row's K and V (fp32, rounded to bf16) at its position's slot of the paged cache,
// in the layout the attention kernel reads (paged_attention.cuh): [num_blocks, n_kv_heads, block_size, head_dim] per
// layer, K and V separately. A copy with one rounding; CPU reference: the bf16 rounding of kernels/cpu paged_kv_write.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

struct KvWriteParams {
  int n_kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
};

// k, v: [rows, n_kv_heads * head_dim] fp32; row_block: [rows] device, the cache block of the row's position;
// positions: [rows] device; k_cache, v_cache: this layer's caches (bf16).
void kv_write(const float* k, const float* v, const int32_t* row_block, const int32_t* positions, int64_t rows,
              void* k_cache, void* v_cache, const KvWriteParams& p, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

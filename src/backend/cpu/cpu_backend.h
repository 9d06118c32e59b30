// The CPU backend (make_cpu_backend in backend/backend.h): fp32 activations, an fp32 (or bf16) paged KV cache, OpenMP
// threads owned by the backend (the num_threads clause on each op; the one global setting touched is OpenBLAS's thread
// count, set to 1 in Mode::Fast).
//
// Mode::Invariant: every op is bitwise the reference kernel of src/kernels/cpu for each of its rows, so LlamaForward's
// logits equal LlamaReference's bit for bit, whatever the batch, the chunking of a prefill or the thread count.
//   matmul      kernels/cpu/gemm.h: weights repacked (exactly) into 32-column panels at first use; AVX-512 (or AVX2)
//               FMA tiles of up to 8 rows x 128 columns; threads split (column block, row block) items.
//               With CpuMatmul::Bf16 (option cpu_matmul bf16) instead kernels/cpu/gemm_bf16dot.h: x rounded to bf16
//               per row, AVX512_BF16 vdpbf16ps tiles of the same shapes; batch invariant as well, but then the
//               logits are the bf16-dot model's, not LlamaReference's. With CpuMatmul::Amx (cpu_matmul amx)
//               kernels/cpu/gemm_amx.h: the same bf16 operands and packed weights on the AMX tile unit, 16 x 16 output
//               tiles per 32 k; batch invariant, the AMX model's own bits
//   attention   kernels/cpu/paged_attention.h: threads split (row, head) pairs; fixed order over positions.
//               With CpuKv::Bf16 (option cpu_kv bf16) K and V are stored rounded to bf16 and widened on load, the
//               arithmetic unchanged: batch invariant as well, the logits those of the model on bf16-rounded K/V
//   norms, RoPE, SwiGLU, embedding, adds: the reference expressions, threads split rows (or elements)
// Mode::Fast: the usual batch-dependent choices, to show what invariance costs and what it prevents:
//   matmul      m == 1: the invariant kernel (of cpu_matmul); m > 1: OpenBLAS cblas_sgemm on an fp32 copy of the
//   weights (made at
//               first use), its output columns sliced over the backend's threads, one single-threaded sgemm per
//               slice (OpenBLAS's own threads are set to 1 for the process: see blas_single_threaded)
//   attention   kernels/cpu/paged_attention_split.h with max(1, threads / rows) KV splits per row
//
// KV cache: [n_layers][num_blocks] blocks of block_size positions; a K block is [kv_dim][block_size] (channel-major),
// a V block [n_kv_heads][block_size][head_dim] (see kernels/cpu/paged_attention.h). kv_element_bytes() = 4, or 2
// with cpu_kv bf16.
//
// Memory: Invariant keeps one packed copy of each matmul weight (the same dtype and size as the model's); Fast keeps
// that plus an fp32 copy (for bf16/f16 models, three times the weights in all).
#pragma once

#include <string>

#include "backend/backend.h"

namespace verbatim::backend {

// One line naming the kernel path each op takes on this CPU (e.g. "gemm avx2 (bf16 avx2, f16 avx2), attention
// avx2"), for logs and benchmarks.
std::string cpu_kernel_paths();

}  // namespace verbatim::backend

#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/attention_inputs_head.cuh"
#include "kernels/cuda/pdl.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kWarpsPerBlock = 4;

__global__ void attention_inputs_kernel(AttentionInputsParams p, int64_t rows) {
  // pdl.cuh: the next kernel may start. Before pdl_wait this kernel reads only what no kernel writes (the step plan's
  // positions and blocks, the norm weights, inv_freq) and computes the rotation from them, so the kernel ahead (the
  // q/k/v GEMM) hides that latency; the same operations as after the wait, so the same bits.
  pdl_allow_dependents();
  const int heads = p.n_heads + 2 * p.n_kv_heads;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (item >= rows * heads) {  // whole warps leave together
    pdl_wait();
    return;
  }
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t r = item / heads;
  const int h = static_cast<int>(item % heads);
  const int32_t position = p.positions[r];
  const int64_t slot = position % p.block_size;
  const int64_t block = p.row_block[r];
  const bool is_v = h >= p.n_heads + p.n_kv_heads;
  const bool is_q = h < p.n_heads;
  float wa[detail::kAiMaxPairs], wb[detail::kAiMaxPairs], cs[detail::kAiMaxPairs], sn[detail::kAiMaxPairs];
  if (!is_v) {
    detail::ai_norm_weights(wa, wb, is_q ? p.q_norm : p.k_norm, p.head_dim / 2, lane);
    detail::ai_rope(cs, sn, p.inv_freq, position, p.head_dim / 2, lane);
  }
  pdl_wait();  // the q/k/v rows and the caches: everything the kernels ahead wrote is visible now
  if (is_v) {  // V: copy to the cache
    detail::ai_v(p, r, h - p.n_heads - p.n_kv_heads, block, slot, lane);
    return;
  }
  detail::ai_qk(p, r, is_q, is_q ? h : h - p.n_heads, block, slot, wa, wb, cs, sn, lane, true, nullptr);
}

}  // namespace

void attention_inputs(const AttentionInputsParams& p, int64_t rows, cudaStream_t stream) {
  const int64_t items = rows * (p.n_heads + 2 * p.n_kv_heads);
  if (items <= 0) return;
  const auto blocks = static_cast<unsigned>((items + kWarpsPerBlock - 1) / kWarpsPerBlock);
  launch_pdl(attention_inputs_kernel, blocks, kWarpsPerBlock * 32, 0, stream, p, rows);
}

}  // namespace verbatim::cuda_kernels

// The paged-attention family of paged_attention.cuh: parameter checks, the kernel choice (tensor-core kernel for head
// dims 64, 128, 256, CUDA-core kernel otherwise: a function of head_dim alone, so a model always takes the same one),
// and the merge of a row's splits in increasing split order.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/cuda/paged_attention.cuh"
#include "kernels/cuda/paged_attention_internal.cuh"
#include "kernels/cuda/pdl.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

using detail::Args;

// One CTA per (row, head) of a row with 2..max_splits splits: the merge in increasing split order. Every thread
// computes M, the weights and L by the same operations; thread i then merges dims i, i + blockDim, ...
__global__ void paged_attention_merge_kernel(const Args a) {
  pdl_enter();  // pdl.cuh: the next kernel may start; the ones ahead have finished
  const PagedAttentionParams& p = a.p;
  extern __shared__ float wsm[];  // [max_splits] weights
  const int64_t rh = blockIdx.x;
  const int row = static_cast<int>(rh / p.n_heads);
  const int pos = p.positions[row];
  const int n_splits = paged_attention_splits(pos, p.split_size, p.split_min, p.split_target);
  if (n_splits == 1 || n_splits > p.max_splits) return;  // written by the attention kernel
  const float* ml = a.ws_ml + rh * p.max_splits * 2;
  const float* acc = a.ws_acc + rh * p.max_splits * p.head_dim;
  float m = ml[0];
  for (int s = 1; s < n_splits; ++s) m = fmaxf(m, ml[2 * s]);
  for (int s = static_cast<int>(threadIdx.x); s < n_splits; s += static_cast<int>(blockDim.x)) {
    wsm[s] = exp2f(__fsub_rn(ml[2 * s], m));
  }
  __syncthreads();
  float l = __fmul_rn(ml[1], wsm[0]);
  for (int s = 1; s < n_splits; ++s) l = __fmaf_rn(ml[2 * s + 1], wsm[s], l);
  const float inv = __frcp_rn(l);
  for (int d = static_cast<int>(threadIdx.x); d < p.head_dim; d += static_cast<int>(blockDim.x)) {
    float o = __fmul_rn(acc[d], wsm[0]);
    for (int s = 1; s < n_splits; ++s) o = __fmaf_rn(acc[static_cast<int64_t>(s) * p.head_dim + d], wsm[s], o);
    p.out[rh * p.head_dim + d] = __float2bfloat16_rn(__fmul_rn(o, inv));
  }
}

[[noreturn]] void bad(const std::string& what) {
  fail("cuda paged_attention", what);
}

bool aligned16(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) % 16 == 0;
}

}  // namespace

int paged_attention_tile(int head_dim) {
  if (head_dim < 8 || head_dim > 256 || head_dim % 8 != 0) return 0;
  return head_dim <= 128 ? 64 : 32;
}

size_t paged_attention_workspace_bytes(int n_rows, int n_heads, int head_dim, int max_splits) {
  if (max_splits <= 1 || n_rows <= 0) return 0;
  const size_t n = static_cast<size_t>(n_rows) * static_cast<size_t>(n_heads) * static_cast<size_t>(max_splits);
  const size_t ml_floats = (2 * n + 3) / 4 * 4;  // keeps the acc part 16-byte aligned
  return (ml_floats + n * static_cast<size_t>(head_dim)) * sizeof(float);
}

int fast_split_size(int n_rows, int max_context, int block_size, int sm_count) {
  if (block_size <= 0) bad("fast_split_size: block_size must be positive, got " + std::to_string(block_size));
  const int rows = std::max(n_rows, 1), ctx = std::max(max_context, 1), sms = std::max(sm_count, 1);
  const int max_split_count = (ctx + block_size - 1) / block_size;  // at least one block per split
  const int splits = std::clamp((2 * sms + rows - 1) / rows, 1, max_split_count);
  const int unit = 64 % block_size == 0 ? 64 : block_size;
  const int size = (ctx + splits - 1) / splits;
  return (size + unit - 1) / unit * unit;
}

namespace {

void launch(const PagedAttentionParams& p, const AttentionInputsParams* in, cudaStream_t stream) {
  if (p.n_rows < 0) bad("n_rows is negative (" + std::to_string(p.n_rows) + ")");
  if (p.n_heads <= 0 || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0) {
    bad("n_heads (" + std::to_string(p.n_heads) + ") must be a positive multiple of n_kv_heads (" +
        std::to_string(p.n_kv_heads) + ")");
  }
  if (paged_attention_tile(p.head_dim) == 0) {
    bad("head_dim " + std::to_string(p.head_dim) + " is not supported (a multiple of 8 from 8 to 256)");
  }
  if (p.block_size <= 0) bad("block_size must be positive, got " + std::to_string(p.block_size));
  if (p.split_size <= 0 || p.split_size % p.block_size != 0) {
    bad("split_size " + std::to_string(p.split_size) + " is not a positive multiple of block_size " +
        std::to_string(p.block_size));
  }
  if (p.split_min < 0 || (p.split_min > 0 && (p.split_min % p.block_size != 0 || p.split_min > p.split_size))) {
    bad("split_min " + std::to_string(p.split_min) + " is not 0 or a positive multiple of block_size " +
        std::to_string(p.block_size) + " up to split_size " + std::to_string(p.split_size));
  }
  if (p.split_target < 2) bad("split_target must be >= 2, got " + std::to_string(p.split_target));
  if (p.max_splits < 1) bad("max_splits must be >= 1, got " + std::to_string(p.max_splits));
  if (!(p.scale > 0.0f) || !std::isfinite(p.scale)) bad("scale must be positive and finite");
  if (p.n_rows == 0) return;
  if (p.q == nullptr || p.out == nullptr || p.k_cache == nullptr || p.v_cache == nullptr || p.positions == nullptr ||
      p.row_seq == nullptr || p.seq_table_begin == nullptr || p.block_table == nullptr) {
    bad("a required pointer is null");
  }
  if (!aligned16(p.q) || !aligned16(p.out) || !aligned16(p.k_cache) || !aligned16(p.v_cache)) {
    bad("q, out, k_cache and v_cache must be 16-byte aligned");
  }
  if (static_cast<const void*>(p.q) == static_cast<const void*>(p.out)) bad("out must not alias q");
  if (p.max_splits > 1 && (p.workspace == nullptr || !aligned16(p.workspace))) {
    bad("max_splits > 1 needs a 16-byte aligned workspace of paged_attention_workspace_bytes()");
  }
  if (p.max_splits > 8192) bad("max_splits " + std::to_string(p.max_splits) + " exceeds 8192");
  if (p.n_kv_heads > 65535) bad("n_kv_heads exceeds 65535");

  Args a{};
  a.p = p;
  a.group = p.n_heads / p.n_kv_heads;
  a.fused = in != nullptr;
  if (in != nullptr) a.in = *in;
  const bool decode = p.rows_per_seq_hint == 1;
  const detail::KernelChoice kc = detail::mma_supported(p.head_dim) ? detail::mma_kernel(p.head_dim, decode)
                                                                    : detail::fma_kernel(p.head_dim, decode);
  a.hg = std::min(a.group, kc.qvmax);
  a.n_hgroups = (a.group + a.hg - 1) / a.hg;
  a.rows_per_cta = std::max(1, kc.qvmax / a.hg);
  if (p.rows_per_seq_hint > 0) a.rows_per_cta = std::min(a.rows_per_cta, p.rows_per_seq_hint);
  a.scale_log2 = p.scale * detail::kLog2e;
  if (p.max_splits > 1) {
    const size_t n = static_cast<size_t>(p.n_rows) * p.n_heads * p.max_splits;
    a.ws_ml = p.workspace;
    a.ws_acc = p.workspace + (2 * n + 3) / 4 * 4;
  }

  const detail::KernelFn fn = kc.fn;
  const size_t smem = kc.smem;
  cudaError_t e = cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (e == cudaSuccess) e = cudaFuncSetAttribute(fn, cudaFuncAttributePreferredSharedMemoryCarveout, 100);
  if (e != cudaSuccess) bad(std::string("cudaFuncSetAttribute failed: ") + cudaGetErrorString(e));
  const long long tiles = (static_cast<long long>(p.n_rows) + a.rows_per_cta - 1) / a.rows_per_cta;
  const long long gx = tiles * a.n_hgroups;
  if (gx > 0x7FFFFFFFLL) bad("too many rows for one launch");
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(p.n_kv_heads), static_cast<unsigned>(p.max_splits));
  launch_pdl(fn, grid, detail::kThreads, smem, stream, a);
  e = cudaGetLastError();
  if (e != cudaSuccess) bad(std::string("attention kernel launch failed: ") + cudaGetErrorString(e));
  if (p.max_splits > 1) {
    const long long n_rh = static_cast<long long>(p.n_rows) * p.n_heads;
    if (n_rh > 0x7FFFFFFFLL) bad("too many (row, head) pairs for one launch");
    const int threads = p.head_dim >= 128 ? 128 : 64;
    launch_pdl(paged_attention_merge_kernel, static_cast<unsigned>(n_rh), threads, sizeof(float) * p.max_splits, stream,
               a);
    e = cudaGetLastError();
    if (e != cudaSuccess) bad(std::string("merge kernel launch failed: ") + cudaGetErrorString(e));
  }
}

}  // namespace

void paged_attention(const PagedAttentionParams& p, cudaStream_t stream) {
  launch(p, nullptr, stream);
}

bool paged_attention_fuses_inputs(const PagedAttentionParams& p, const AttentionInputsParams& in) {
  const void* k_cache = p.k_cache;
  const void* v_cache = p.v_cache;
  const void* q = p.q;
  return p.rows_per_seq_hint == 1 && detail::mma_supported(p.head_dim) && p.n_kv_heads > 0 &&
         p.n_heads % p.n_kv_heads == 0 && p.n_heads / p.n_kv_heads <= detail::mma_kernel(p.head_dim, true).qvmax &&
         in.n_heads == p.n_heads && in.n_kv_heads == p.n_kv_heads && in.head_dim == p.head_dim &&
         in.block_size == p.block_size && in.k_cache == k_cache && in.v_cache == v_cache &&
         in.positions == p.positions && in.q_bf16 == q && in.q_out != nullptr && in.row_block != nullptr &&
         in.inv_freq != nullptr && in.q != nullptr && in.k != nullptr && in.v != nullptr;
}

void paged_attention_with_inputs(const PagedAttentionParams& p, const AttentionInputsParams& in, cudaStream_t stream) {
  if (!paged_attention_fuses_inputs(p, in)) {
    bad("paged_attention_with_inputs: not a decode launch of the tensor-core kernel with inputs describing the same "
        "rows, heads, cache and positions (paged_attention_fuses_inputs)");
  }
  launch(p, &in, stream);
}

}  // namespace verbatim::cuda_kernels
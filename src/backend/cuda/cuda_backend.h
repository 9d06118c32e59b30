// The CUDA backend (backend::Backend on one NVIDIA GPU): bf16 weights, a bf16 paged KV cache, fp32 accumulation in
// every op; bf16 matmul inputs (ActRole::MatmulIn) and fp32 everything else (residual stream, matmul outputs,
// logits). Kernels live in src/kernels/cuda (raw pointers); GEMMs are verbatim::cuda::Gemm (gemm.h): in
// Mode::Invariant one bit-verified cuBLASLt algorithm table per weight shape, tuned at start-up for M up to max_rows.
//
// Invariance (Mode::Invariant): every op computes each row with one order fixed by the model's shapes and the row's
// own position: GEMM rows are verified equal across M; attention uses a fixed split SIZE (split_size) and a fixed
// merge; norms, RoPE, SwiGLU, embedding and adds work per row (or element) with fixed block trees.
//
// CUDA graphs: a decode-only step (every sequence one row, every row with logits) of n <= 64 rows is padded to the
// next bucket B in {1, 2, 4, ..., 64} and runs as a graph captured once per (B, attention split bound). Padding rows
// read token 0 at position 0 from a dummy KV block that no sequence owns; they cannot change a real row's bits
// (rows are independent in every op, and the GEMM table is verified across M). graphs = false runs every step eagerly
// (the tests compare the two bitwise).
//
// This header needs no CUDA headers: core code (backend/make_backend.cpp) includes it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backend/backend.h"

namespace verbatim::backend {

inline constexpr unsigned kFuseNorm = 1, kFuseResidual = 2, kFuseSwiglu = 4, kFuseAttention = 8, kFuseEmbed = 16,
                          kFuseAll = 31;

struct CudaBackendOptions {
  Mode mode = Mode::Invariant;
  int device = 0;
  int max_rows = 512;   // most rows in one step: GEMMs are verified up to this M (the engine's max_batch_tokens)
  int max_logits = 64;  // most logit rows in one step
  bool graphs = true;   // CUDA graphs for decode-only steps
  // Fold norms, residual adds and SwiGLU into the GEMMs around them where a GEMM runs the own small-M kernel (decode;
  // cuda_backend_impl.h): a mask of kFuseNorm (a norm that feeds a stacked GEMM, a "scaled" norm in Mode::Invariant,
  // as the epilogue of the residual GEMM ahead of it: the residual add, U = bf16(w * h) and the tile partials of the
  // sum of squares; kernels/cuda/rms_prep.cuh), kFuseResidual (the residual add as the GEMM's epilogue ahead of a plain
  // norm, the final one) and kFuseSwiglu (SwiGLU, with the row scale, as the gate/up GEMM's epilogue, M = 1); and
  // kFuseAttention: a one-row decode step's attention_inputs into its attention launch (paged_attention_with_inputs,
  // the tensor-core head dims); kFuseEmbed: the embedding into layer 0's scaled norm (rms_prep gathers the rows from
  // the table itself: one kernel fewer a step). Never changes an output bit (the tests compare all and none). Default:
  // norm, SwiGLU and attention, the ones measured faster (H200, synthetic qwen3-8b, batch 1; docs/performance.md); the
  // others stay for A/B runs (kFuseEmbed is not measured yet).
  unsigned fuse = kFuseNorm | kFuseSwiglu | kFuseAttention;
  bool device_sampling = true;  // can_sample(): the engine samples on the GPU (false: it reads logits rows)
  int split_size = 512;  // attention KV positions per split from 8 x split_size positions on (rounded up to a multiple
                         // of the block size); invariant mode only (fast mode picks one size from the batch)
  int split_min = 0;     // 0: split_size, one fixed size (the default). Else the split of short rows: split_min
                         // doubled until the row has at most 8 splits, at most split_size (paged_attention.cuh): a
                         // function of the row's own position, so invariant. Faster at batch 1 with 0.5-2K positions,
                         // slower for prefill and wide batches there (docs/performance.md, 2026-12-02)
  int64_t memory_budget_bytes = 0;          // 0: none; else every device allocation of this backend must fit in it
  std::shared_ptr<SharedResources> shared;  // null: the backend makes its own (tunes its own GEMMs)
  bool log = false;                         // GEMM tuning tables and graph captures to stderr
};

// Throws Error naming the problem (no device, bad options, a weight shape with no verified GEMM algorithm).
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options);

// The stream, cuBLASLt context and tuned GEMM tables of one device, to share between CUDA backends made one after
// another in one process (tests, benchmarks): each weight shape is tuned once.
std::shared_ptr<SharedResources> make_cuda_shared_resources(int device = 0);

// Whether a CUDA device can be used (never throws).
bool cuda_device_available();
// What of the device can change bits, for fingerprints: its name, compute capability and the cuBLASLt release, e.g.
// "NVIDIA H200, sm_90, cuBLASLt 130100" (device 0; "no CUDA device" without one). The name is kept although the bits
// are expected to be the same across Hopper SKUs: the GEMM tuner's candidates come from cuBLASLt's heuristic, which
// may answer differently per SKU, so that identity is not proven.
std::string cuda_device_arch();

}  // namespace verbatim::backend

// The op set a model's forward pass is written in, implemented once per device (backend/cpu, later backend/cuda).
// The model file of an architecture (src/model/llama_forward.cpp) calls these ops in order for one StepPlan; the
// backend launches kernels and checks shapes. Activations live in the backend's memory in the backend's own
// activation type (fp32 on the CPU); the model never touches their data.
//
// Invariance: in Mode::Invariant every op computes each output element with a reduction order fixed by the model's
// shapes and the row's own position — never by the number of rows, the plan's other sequences, or the thread count.
// Mode::Fast keeps the usual batch-dependent choices (library GEMM for many rows, split-KV counts from the batch), so
// the cost of invariance and the divergence it prevents can be shown side by side.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backend/plan.h"
#include "model/tensor.h"

namespace verbatim {

enum class Mode { Invariant, Fast };
const char* mode_name(Mode m);
Mode parse_mode(const std::string& s);  // "invariant" | "fast"; throws Error naming the value

namespace backend {

// A weight in backend memory: [rows, cols] (vectors: rows = 1). On the CPU a view of the model's own memory.
struct Weight {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  bool empty() const { return data == nullptr; }
};

// What an activation buffer holds, so that a backend can pick its storage type: the CPU keeps every buffer in fp32;
// CUDA stores matmul inputs in bf16 (what its GEMM reads) and everything else in fp32.
enum class ActRole {
  Residual,   // the residual stream
  MatmulIn,   // normed rows, attention output, SwiGLU output: read by matmul
  MatmulOut,  // matmul results (q, k, v, projections, gate, up)
  Logits,     // the LM head's output
};

// An activation buffer in backend memory: `rows` rows of `cols` elements of `dtype` (chosen by the backend from the
// buffer's role). Buffers are allocated once for the largest step; an op works on the first n rows it is told about.
struct Act {
  void* data = nullptr;
  int64_t rows = 0;  // capacity
  int64_t cols = 0;
  DType dtype = DType::F32;
};

// Device state that several backends in one process may share: for CUDA the stream, the cuBLASLt handle and the
// tuned, bit-verified GEMM tables, so that engines made one after another (tests, benchmarks) tune each weight shape
// once. Opaque here; a backend makes it (make_shared_resources) and accepts only its own kind. Not thread-safe:
// backends that share it run their steps from one thread.
class SharedResources {
 public:
  virtual ~SharedResources() = default;
};

// One logit row to sample on the device, with the engine's sampling definition (engine/sampler.h): a plain copy of
// the request's SamplingParams plus the token's index in the request's own output (the Philox counter).
struct SampleSpec {
  int32_t row = 0;  // logit row of the step
  float temperature = 1.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  uint64_t seed = 0;
  uint64_t token_index = 0;
  int32_t top_logprobs = 0;  // <= kMaxTop
};

struct SampleResult {
  static constexpr int kMaxTop = 20;
  int32_t token = -1;  // -1: every logit of the row was -inf or NaN
  float logprob = 0.0f;
  int32_t n_top = 0;
  std::array<std::pair<int32_t, float>, kMaxTop> top{};  // [n_top] (token, raw logprob), highest first
};

struct KvCacheLayout {
  int n_layers = 0;
  int num_blocks = 0;
  int block_size = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda"
  virtual Mode mode() const = 0;

  // Memory. Weights stay valid for the backend's lifetime; so do activation buffers and the KV cache.
  virtual Weight upload(const Tensor& t) = 0;
  // Uploads matrices of the same width as one block of rows, in order (q, k, v; gate, up), so that a backend can run
  // matmul_group over them as one matmul. Default: upload() each.
  virtual std::vector<Weight> upload_group(std::span<const Tensor* const> tensors);
  virtual Act alloc(int64_t rows, int64_t cols, ActRole role) = 0;
  virtual void alloc_kv_cache(const KvCacheLayout& layout) = 0;
  virtual int kv_element_bytes() const = 0;  // bytes of one cached K or V element (for sizing the cache)
  // With a memory budget: the most KV blocks of this layout (num_blocks ignored) that fit in what the budget leaves
  // after everything allocated so far, counting the per-block workspace the backend adds (attention over n_heads
  // query heads). -1: the backend has no budget (size the cache another way).
  virtual int max_kv_blocks(const KvCacheLayout& layout, int n_heads) const {
    (void)layout;
    (void)n_heads;
    return -1;
  }

  // One step. begin_step takes the plan (kept by reference until end_step); every op below then works on the
  // plan's n_rows rows (or n_logits rows where said).
  virtual void begin_step(const StepPlan& plan) = 0;
  virtual void end_step() = 0;

  // out[r] = table[token[r]]  (table [vocab, dim])
  virtual void embed(const Weight& table, Act out) = 0;
  // out[r] = rmsnorm(x[r]) * w
  virtual void rmsnorm(Act x, const Weight& w, float eps, Act out) = 0;
  // residual[r] += x[r]; out[r] = rmsnorm(residual[r]) * w     (the residual add fused into the next norm)
  virtual void add_rmsnorm(Act residual, Act x, const Weight& w, float eps, Act out) = 0;
  // residual[r] += x[r]
  virtual void add(Act residual, Act x) = 0;
  // y[r] = W x[r] (+ bias)   W [n, k]; rows = n_rows, or n_logits when `logit_rows` (x holds gathered rows)
  virtual void matmul(Act x, const Weight& w, const Weight& bias, Act y, bool logit_rows = false) = 0;
  // y[i] = matmul(x, w[i], bias[i]) for the weights of one upload_group (bias[i] may be empty), as one matmul where
  // the backend can (CUDA: one GEMM over the stacked rows, then the columns split into the y[i]). Default: matmul each.
  virtual void matmul_group(Act x, std::span<const Weight> w, std::span<const Weight> bias, std::span<const Act> y);
  // RMSNorm of every head of size w.cols in x[r], in place (Qwen3's q_norm / k_norm)
  virtual void head_rmsnorm(Act x, const Weight& w, float eps) = 0;
  // RoPE in place on every head of x[r] at the row's position; inv_freq [head_dim / 2] in host memory
  virtual void rope(Act x, int head_dim, const float* inv_freq) = 0;
  // Stores k[r], v[r] at the row's slot in the cache of `layer`
  virtual void kv_write(int layer, Act k, Act v) = 0;
  // The attention inputs of one layer: q/k head norms (where q_norm, k_norm are given), RoPE on q and k, then
  // kv_write(layer, k, v). A backend may fuse these (CUDA: one kernel, reading q/k/v straight from a pending
  // matmul_group). Default: the separate ops in that order.
  virtual void attention_inputs(int layer, Act q, Act k, Act v, const Weight& q_norm, const Weight& k_norm, float eps,
                                int head_dim, const float* inv_freq);
  // out[r] = attention of q[r] (n_heads heads) over positions [0, pos(r)] of the row's sequence, from the cache
  virtual void attention(int layer, Act q, int n_heads, Act out) = 0;
  // out[r] = silu(gate[r]) * up[r]
  virtual void swiglu(Act gate, Act up, Act out) = 0;
  // out[i] = x[logit_rows[i]]
  virtual void gather_logit_rows(Act x, Act out) = 0;
  // host[i] = fp32 copy of x[i] for the n_logits rows (the logits leave the device)
  virtual void read_logits(Act x, float* host) = 0;

  // Sampling on the device (backends where can_sample()): after end_step, on the logits of that step's logit rows
  // (x = the buffer the LM head wrote). sample: one result per spec, bitwise a pure function of (the row's logits,
  // the spec). token_logprobs: out[i] = log_softmax(logits[rows[i]])[tokens[i]], bit for bit the logprob sample()
  // reports when it picks that token (the scorer). Both synchronize and throw Error on bad input.
  virtual bool can_sample() const { return false; }
  virtual void sample(Act x, std::span<const SampleSpec> specs, std::span<SampleResult> out);
  virtual void token_logprobs(Act x, std::span<const int32_t> rows, std::span<const int32_t> tokens, float* out);

  // Async sampling and fed steps (backends where can_feed(); the engine's async scheduling): sample_async enqueues
  // what sample() computes and returns before the results exist; sample_wait(out) waits for the oldest pending one
  // and fills out (one result per spec). At most kMaxPendingSamples are pending; sample() and token_logprobs() need
  // none pending. A plan given to begin_step after a sample_async may name that call's results in StepPlan::fed: the
  // backend puts their tokens into the step's rows on the device, so that the step is enqueued before the host has
  // seen them. A fed token that is -1 (no finite logit) becomes 0; the engine fails the step before that one's results
  // are used. Each throws Error on bad input or misuse (a fed plan with no sample_async before it, an index outside
  // its results, too many pending).
  static constexpr int kMaxPendingSamples = 2;
  virtual bool can_feed() const { return false; }
  virtual void sample_async(Act x, std::span<const SampleSpec> specs);
  virtual void sample_wait(std::span<SampleResult> out);
};

// The arithmetic of the CPU backend's linear layers (the option cpu_matmul):
//   Fp32  fp32 activations times the exact weights, fp32 FMAs in the reference order (kernels/cpu/gemm.h): bitwise
//         the reference model (LlamaReference). The default.
//   Bf16  activations rounded to bf16 per row, bf16 dot products (AVX512_BF16 vdpbf16ps, kernels/cpu/gemm_bf16dot.h):
//         twice the multiply-adds per instruction; still batch invariant, but not the reference's bits. Needs a CPU
//         with AVX512_BF16: make_cpu_backend fails, naming the feature, on one without (never a silent fallback).
//   Amx   the same bf16 operands on the AMX tile unit (tdpbf16ps, kernels/cpu/gemm_amx.h): ~8x Bf16's multiply-adds
//         per cycle, so a multi-row (many-stream) step costs little more than one row's weight read; batch invariant
//         (its own bits: neither Fp32's nor Bf16's). Needs AMX-BF16 and the OS's tile permission: make_cpu_backend
//         fails, naming them, where they are missing.
enum class CpuMatmul { Fp32, Bf16, Amx };

// "fp32" / "bf16" / "amx"; parse_cpu_matmul throws Error (naming cpu_matmul) for anything else.
const char* cpu_matmul_name(CpuMatmul m);
CpuMatmul parse_cpu_matmul(const std::string& name);

// The element type of the CPU backend's paged KV cache (the option cpu_kv):
//   Fp32  K and V stored as computed: bitwise the reference model (LlamaReference). The default.
//   Bf16  K and V rounded to bf16 (nearest even) when written, widened to fp32 (exactly) when attention reads them;
//         the attention's arithmetic and order are the fp32 path's, so the model is "fp32 on bf16-rounded K/V": still
//         batch invariant, but not the reference's bits. Half the cache's bytes (kv_element_bytes() = 2), so half
//         the attention's reads, and twice the positions in the same kv_cache_bytes. Runs on any CPU.
enum class CpuKv { Fp32, Bf16 };

// "fp32" / "bf16"; parse_cpu_kv throws Error (naming cpu_kv) for anything else.
const char* cpu_kv_name(CpuKv k);
CpuKv parse_cpu_kv(const std::string& name);

struct CpuBackendOptions {
  Mode mode = Mode::Invariant;
  int threads = 1;  // OpenMP threads for this backend's ops (no global setting is touched)
  CpuMatmul matmul = CpuMatmul::Fp32;
  CpuKv kv = CpuKv::Fp32;
};
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options);

}  // namespace backend
}  // namespace verbatim

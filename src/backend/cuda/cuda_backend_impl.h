// The CUDA backend's class (make_cuda_backend in cuda_backend.h), split by concern over
//   cuda_backend.cpp  memory (weights, activations, the KV cache, the budget) and the ops
//   cuda_pending.cpp  the deferred ops: fusions into the small-M GEMMs, the scaled and plain norms, settle()
//   cuda_step.cpp     the step: plan upload, CUDA graph capture and replay
//   cuda_sample.cpp   sampling and logprobs on the device
// Internal header: only those files include it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_resources.h"
#include "backend/cuda/cuda_util.h"
#include "backend/cuda/gemm.h"
#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/rms_prep.cuh"
#include "kernels/cuda/split_columns.cuh"

namespace verbatim::cuda {

class CudaBackend final : public backend::Backend {
 public:
  explicit CudaBackend(const backend::CudaBackendOptions& options);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  Mode mode() const override { return opt_.mode; }

  backend::Weight upload(const Tensor& t) override;
  std::vector<backend::Weight> upload_group(std::span<const Tensor* const> tensors) override;
  void matmul_group(backend::Act x, std::span<const backend::Weight> w, std::span<const backend::Weight> bias,
                    std::span<const backend::Act> y) override;
  backend::Act alloc(int64_t rows, int64_t cols, backend::ActRole role) override;
  void alloc_kv_cache(const backend::KvCacheLayout& layout) override;
  int kv_element_bytes() const override { return 2; }
  int max_kv_blocks(const backend::KvCacheLayout& layout, int n_heads) const override;

  void begin_step(const StepPlan& plan) override;
  void end_step() override;

  void embed(const backend::Weight& table, backend::Act out) override;
  void rmsnorm(backend::Act x, const backend::Weight& w, float eps, backend::Act out) override;
  void add_rmsnorm(backend::Act residual, backend::Act x, const backend::Weight& w, float eps,
                   backend::Act out) override;
  void add(backend::Act residual, backend::Act x) override;
  void matmul(backend::Act x, const backend::Weight& w, const backend::Weight& bias, backend::Act y,
              bool logit_rows) override;
  void head_rmsnorm(backend::Act x, const backend::Weight& w, float eps) override;
  void rope(backend::Act x, int head_dim, const float* inv_freq) override;
  void kv_write(int layer, backend::Act k, backend::Act v) override;
  void attention_inputs(int layer, backend::Act q, backend::Act k, backend::Act v, const backend::Weight& q_norm,
                        const backend::Weight& k_norm, float eps, int head_dim, const float* inv_freq) override;
  void attention(int layer, backend::Act q, int n_heads, backend::Act out) override;
  void swiglu(backend::Act gate, backend::Act up, backend::Act out) override;
  void gather_logit_rows(backend::Act x, backend::Act out) override;
  void read_logits(backend::Act x, float* host) override;

  bool can_sample() const override { return opt_.device_sampling; }
  void sample(backend::Act x, std::span<const backend::SampleSpec> specs,
              std::span<backend::SampleResult> out) override;
  void token_logprobs(backend::Act x, std::span<const int32_t> rows, std::span<const int32_t> tokens,
                      float* out) override;
  bool can_feed() const override { return opt_.device_sampling; }
  void sample_async(backend::Act x, std::span<const backend::SampleSpec> specs) override;
  void sample_wait(std::span<backend::SampleResult> out) override;

  // For tests and benchmarks: graph captures and replays so far.
  int64_t graph_captures() const { return graph_captures_; }
  int64_t graph_replays() const { return graph_replays_; }
  // Fused small-M GEMM launches so far (residual, prep or SwiGLU epilogue; eager and captured).
  int64_t fused_launches() const { return fused_launches_; }
  // Attention launches with attention_inputs fused in (kFuseAttention; eager and captured).
  int64_t fused_attention_launches() const { return fused_attention_launches_; }
  // Scaled norms that gathered the embedding themselves (kFuseEmbed; eager and captured).
  int64_t fused_embedding_launches() const { return fused_embedding_launches_; }

 private:
  // ---- memory (cuda_backend.cpp) ----
  void* allocate(size_t bytes, const char* what, bool zero = true);
  Gemm& gemm_for(const backend::Weight& w, DType out);
  void* shadow_of(const void* act) const;  // the bf16 copy rope writes of a MatmulOut buffer, or null
  static backend::Weight shape_of(const Tensor& t);
  void copy_to_device(const Tensor& t, void* dev);  // t converted to bf16

  // Weights uploaded by upload_group: the first member's data -> the stacked matrix.
  struct Group {
    std::vector<const void*> members;
    int64_t rows = 0, cols = 0;
  };
  std::map<const void*, Group> groups_;
  float* group_out_ = nullptr;  // [max_rows, largest group's rows] fp32: the stacked GEMM's output
  int64_t group_out_cols_ = 0;
  // A matmul_group's column split, deferred: the next op either consumes group_out_ directly (attention_inputs of
  // its q/k/v, swiglu of its gate/up) or the split runs first (settle()).
  struct PendingSplit {
    bool active = false;
    cuda_kernels::SplitColumnsParams sp;
    int64_t rows = 0;
    cuda_kernels::RowScale rs;  // group_out_'s rows still to be scaled (its input was a scaled norm's), or none
  };
  PendingSplit pending_;
  // Decode-step fusions (opt_.fuse, Mode::Invariant; kernels/cuda/gemm_small_m.cuh), where the GEMM's M bucket runs
  // the own small-M kernel: a matmul waits for the add_rmsnorm that adds its output to the residual (the add, and for
  // a scaled norm U and the tile partials, become its epilogue: PendingPrep below); a matmul_group waits for its
  // consumer (swiglu: the SwiGLU epilogue, with the row scale; anything else: the group's split). Each fused kernel
  // gives the bits of the kernels it replaces, so a step may fuse or not (it follows the bucket) without any output
  // changing. settle() runs whatever still waits.
  struct PendingGemm {
    bool active = false;
    cuda_kernels::SmallMGemmParams p;
    bool group = false;  // p.y is group_out_; the split `sp` follows unless the consumer takes group_out_
    cuda_kernels::SplitColumnsParams sp;
    cuda_kernels::RowScale rs;  // as PendingSplit's
  };
  // Mode::Invariant: an add_rmsnorm or rmsnorm waits for the op that reads its output. A bias-free stacked GEMM
  // (matmul_group) takes it as a *scaled* norm (row_math.cuh, rms_prep.cuh): its input is U = bf16(w * h) and its
  // output rows are multiplied by their inv_rms (from the tile partials in norm_ss_) by whatever reads them
  // (attention_inputs, swiglu, or the split), so no kernel between the two GEMMs has to finish the row's sum of
  // squares; the add and U are rms_prep's, or (kFuseNorm) the epilogue of the residual GEMM that wrote x. Anything
  // else settles it as the plain norm (add_rmsnorm's kernel, the final norm before the logits). Which of the two a
  // norm becomes depends on the model's ops only, never on the batch.
  // kFuseEmbed (Mode::Invariant): the embedding waits for the norm that reads its output (layer 0's); where that one
  // becomes a scaled norm, rms_prep gathers the rows from the table itself (and writes the embedding's output too);
  // anything else launches the embedding first (settle(), launch_prep_plain()).
  struct PendingEmbed {
    bool active = false;
    const void* table = nullptr;
    int64_t vocab = 0, dim = 0, rows = 0;
    float* out = nullptr;
  };
  PendingEmbed embed_;
  int64_t fused_embedding_launches_ = 0;
  void launch_embed(const PendingEmbed& e);
  struct PendingPrep {
    bool active = false;
    float* residual = nullptr;  // add_rmsnorm: residual += x first; rmsnorm: null (the row is x)
    const float* x = nullptr;
    const void* w = nullptr;
    float eps = 0;
    void* out = nullptr;  // [rows, cols]: U (bf16) once scaled, the normed rows (out_dtype) once plain
    DType out_dtype = DType::BF16;
    int64_t rows = 0, cols = 0;
    PendingGemm gemm;    // the small-M GEMM that wrote x, still waiting (kFuseResidual / kFuseNorm), or inactive
    PendingEmbed embed;  // the embedding that writes x (rmsnorm of layer 0), still waiting (kFuseEmbed), or inactive
  };
  PendingPrep prep_;
  float* norm_ss_ = nullptr;  // [norm_ss_rows_, norm_ss_cols_] fp32: the scaled norms' tile partials
  int64_t norm_ss_rows_ = 0, norm_ss_cols_ = 0;
  // The norm of residual (+= x first; or of x alone without residual) times w into out, as prep_: waiting for its
  // consumer where it can (Mode::Invariant, a bf16 output, a width of whole tiles that norm_ss_ holds), else launched
  // as the plain norm at once. gemm: the pending GEMM that wrote x, or inactive.
  void begin_prep(float* residual, const float* x, const backend::Weight& w, float eps, backend::Act out, int64_t rows,
                  const PendingGemm& gemm, const PendingEmbed& embed);
  // prep_ as the plain norm (settle()).
  void launch_prep_plain();
  // prep_ as a scaled norm for the GEMM that reads it: launches its kernels, returns the GEMM output's row scale.
  cuda_kernels::RowScale launch_prep_scaled(const PendingPrep& pp);
  // kFuseAttention: a decode-only step's attention_inputs waits for the attention that reads its q (which then runs it
  // in its own launch, paged_attention_with_inputs); any other next op gets it standalone (settle()).
  struct PendingInputs {
    bool active = false;
    cuda_kernels::AttentionInputsParams p;
    int64_t rows = 0;
    const void* q = nullptr;  // the q activation it rotates
  };
  PendingGemm gemm_;
  PendingInputs inputs_;
  int64_t fused_launches_ = 0;
  int64_t fused_attention_launches_ = 0;
  // The own-kernel parameters of g at M = m where fusing is on and g's bucket runs that kernel (else m == 0).
  cuda_kernels::SmallMGemmParams fusable(Gemm& g, const void* x, const void* w, void* y, int64_t m) const;
  void launch_small_m(const cuda_kernels::SmallMGemmParams& p);
  void launch_pending_gemm();  // a pending group's split becomes pending_
  void settle();
  const void* device_inv_freq(const float* host, int head_dim);

  // ---- the step (cuda_step.cpp) ----
  // One recorded op of a captured graph: replay checks that the forward pass calls the same ops on the same buffers.
  struct OpSig {
    int op = 0;
    const void* p[4] = {nullptr, nullptr, nullptr, nullptr};
    int64_t i = 0;
    float f = 0;
    bool operator==(const OpSig& o) const;
  };
  enum class StepMode { None, Eager, Capture, Replay };
  // Records (capture) or checks (replay) op `sig`; true when the op must enqueue its kernels (eager or capture).
  bool record(const OpSig& sig);
  void flush();          // ends a capture and launches the graph, or launches the replayed one; then no-op
  void abort_capture();  // after an error inside a capture
  const StepPlan& plan() const;
  void check_rows(backend::Act a, int64_t n, int64_t cols, DType dtype, const char* what) const;
  int64_t rows(backend::Act a, int64_t cols, DType dtype, const char* what) const;  // step rows, after checks
  int attention_split_size(int n_rows) const;
  int attention_split_min(int split_size) const;  // the step's shortest split (paged_attention.cuh)

  backend::CudaBackendOptions opt_;
  std::shared_ptr<CudaResources> res_;
  cudaStream_t stream_ = nullptr;
  int64_t used_bytes_ = 0;
  std::vector<DeviceBuffer> buffers_;
  std::map<const void*, void*> shadows_;  // MatmulOut buffer -> its bf16 copy
  std::map<std::tuple<const void*, int64_t, int64_t, DType>, Gemm*> gemms_;
  std::map<const float*, void*> inv_freq_;  // host inv_freq -> device copy

  // KV cache: per layer [num_blocks + 1, n_kv_heads, block_size, head_dim] bf16 (block num_blocks: the dummy block of
  // padding rows).
  backend::KvCacheLayout kv_;
  int64_t layer_elems_ = 0;
  __nv_bfloat16* k_cache_ = nullptr;
  __nv_bfloat16* v_cache_ = nullptr;
  int max_splits_capacity_ = 0;  // splits of the longest sequence the cache holds
  void* attn_workspace_ = nullptr;
  size_t attn_workspace_bytes_ = 0;

  // Plan buffers: device and pinned host copies of [tokens | positions | row_seq | logit_rows | row_block |
  // seq_table_begin], each plan_slots_ ints (max_rows + 1 rounded up to a multiple of 4: 16-byte aligned segments),
  // and the block table (both copies grown as needed, to a multiple of 4 ints; growing drops graphs). The host
  // copies are staging: kernels/cuda/fetch_words.cuh moves them to the device in one launch per step.
  int plan_slots_ = 0;
  int32_t* plan_dev_ = nullptr;
  int32_t* plan_host_ = nullptr;  // cudaMallocHost
  int32_t* table_dev_ = nullptr;
  int32_t* table_host_ = nullptr;  // cudaMallocHost
  int64_t table_cap_ = 0;
  std::unique_ptr<Event> upload_done_;

  // The current step.
  const StepPlan* plan_ = nullptr;
  StepMode step_mode_ = StepMode::None;
  int64_t step_rows_ = 0;    // rows the kernels run on (padded to the graph bucket)
  int64_t step_logits_ = 0;  // logit rows the kernels run on (padded)
  int step_split_size_ = 0;
  int step_split_min_ = 0;
  int step_max_splits_ = 0;
  int step_rows_per_seq_ = 0;
  std::set<const void*> fresh_shadows_;  // bf16 copies written by rope this step
  bool warmed_up_ = false;               // an eager step has completed (lazy allocations done)

  // Graphs, keyed by (rows bucket, split size, max splits).
  struct Graph {
    cudaGraphExec_t exec = nullptr;
    std::vector<OpSig> ops;
  };
  std::map<std::tuple<int64_t, int, int>, Graph> graphs_;
  Graph* graph_ = nullptr;  // the graph being captured or replayed
  size_t replay_cursor_ = 0;
  bool capturing_ = false;
  int64_t graph_captures_ = 0;
  int64_t graph_replays_ = 0;
  void drop_graphs();

  // Sampling scratch (cuda_sample.cpp): the kernels' workspace on the device; specs, queries and results in pinned
  // host memory, which the kernels read and write directly, in two halves that alternate between sample_async calls
  // (so that the host writes one call's specs while the device may still read the other's, and reads one call's
  // results while the other's are being written); the latest call's tokens on the device (feed_dev_), which the next
  // step's fetch_words puts into its fed rows.
  void* sample_dev_ = nullptr;
  size_t sample_dev_bytes_ = 0;
  void* sample_host_ = nullptr;  // cudaMallocHost: two halves of sample_half_bytes_
  size_t sample_half_bytes_ = 0;
  int32_t* feed_dev_ = nullptr;  // [feed_cap_]
  int feed_cap_ = 0;
  int feed_n_ = 0;  // results of the latest sample_async (0: none, or a sync sample since: nothing to feed from)
  struct PendingSample {
    int half = 0;
    size_t n = 0;
  };
  std::vector<PendingSample> sample_pending_;  // oldest first
  int next_half_ = 0;
  std::unique_ptr<Event> sample_done_[2];
  // Buffers for n rows of logits x (sized once for x's rows; grown only while nothing is pending).
  void ensure_sample_buffers(backend::Act x, size_t n);
  size_t spec_bytes(size_t n) const;
  char* sample_half(int half) const;
};

}  // namespace verbatim::cuda

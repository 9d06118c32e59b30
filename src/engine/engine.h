// The serving engine: continuous batching over a paged KV cache with prefix caching, chunked prefill and preemption
// by recompute, on any backend. A request's tokens, logprobs and text are bitwise the same whatever else runs beside
// it, however its prompt is chunked, whether its prefix was cached, and whether it was preempted: every logit is a
// pure function of the request's own tokens (the backend's Mode::Invariant), and sampling is a pure function of
// (logits, params, the request's own token index).
//
// Single-threaded: submit / cancel / step are called from one thread (the server wraps it in its own loop thread).
// Two engines can live in one process; nothing is global.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "backend/backend.h"
#include "engine/block_manager.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "model/llama_forward.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace verbatim {

struct EngineOptions {
  std::string backend = "cpu";
  Mode mode = Mode::Invariant;
  int threads = 1;
  // backend "cpu": the linear layers' arithmetic: Fp32 (default; bitwise the reference model) or Bf16 (activations
  // rounded to bf16, AVX512_BF16 dot products; batch invariant too, other bits; backend/backend.h)
  backend::CpuMatmul cpu_matmul = backend::CpuMatmul::Fp32;
  // backend "cpu": the KV cache's element type: Fp32 (default; bitwise the reference model) or Bf16 (K and V rounded
  // to bf16 when stored; half the cache bytes; batch invariant too, other bits; backend/backend.h)
  backend::CpuKv cpu_kv = backend::CpuKv::Fp32;
  int block_size = 16;
  int num_blocks = 0;  // KV cache blocks; 0: as many as kv_cache_bytes holds
  int64_t kv_cache_bytes = int64_t{256} << 20;
  int max_batch_tokens = 512;
  int max_running = 64;
  int max_logits = 64;
  bool prefix_caching = true;
  uint64_t chunk_seed = 0;   // testing: random prefill chunk lengths (never changes an output bit)
  int preempt_interval = 0;  // testing: preempt the newest request every N steps (never changes an output bit)
  // backend "cuda":
  bool cuda_graphs = true;    // CUDA graphs for decode steps (never changes an output bit)
  unsigned cuda_fuse = 13;    // decode-step fusions, a mask (backend/cuda/cuda_backend.h's kFuse*; no bit changes)
  int cuda_split_size = 512;  // attention KV positions per split (CudaBackendOptions::split_size): changes the bits of
                              // every attention output (still invariant: a fixed size); the fingerprint names it
  int cuda_split_min = 0;     // 0: cuda_split_size, one fixed size. Else the split of short rows, grown to
                              // cuda_split_size (CudaBackendOptions::split_min; a function of the row's own position:
                              // invariant, other bits); at most cuda_split_size; the fingerprint names a non-zero one
  int64_t gpu_memory_bytes = 0;  // memory budget on the GPU (weights + KV cache + workspaces); 0: none. With a budget
                                 // and num_blocks == 0, the KV cache gets what the budget leaves
  std::shared_ptr<backend::SharedResources> backend_shared;  // device state shared between engines (tests): each
                                                             // GEMM shape is tuned once; null: the engine's own
  // Async scheduling, where the backend can feed (cuda): while a decode step runs on the device, the engine enqueues
  // the next one (the same requests, each row's token the one the running step samples, put in place on the device)
  // before it reads the running step's results, so the device does not wait for the host between decode steps. Only
  // where the next step is what schedule() would build anyway (every request caught up and short of its limits,
  // nobody waiting); a request that stops meanwhile has its extra row dropped. Never changes an output bit.
  bool async_scheduling = true;
  // Testing: wraps the backend the engine makes (tests/support/feeding_backend.h runs the async path on the CPU).
  std::function<std::unique_ptr<backend::Backend>(std::unique_ptr<backend::Backend>)> wrap_backend;

  void validate() const;  // throws Error naming the option
};

struct EngineStats {
  int waiting = 0;
  int running = 0;
  int kv_blocks_total = 0;
  int kv_blocks_used = 0;
  int in_flight = 0;   // steps enqueued and not yet completed (async scheduling: up to two)
  uint64_t steps = 0;  // steps enqueued
  uint64_t preemptions = 0;
  uint64_t prefix_cache_hits = 0;     // blocks reused
  uint64_t prefix_cache_queries = 0;  // blocks looked up
  uint64_t prompt_tokens = 0;         // computed prompt rows (cache hits excluded)
  uint64_t generated_tokens = 0;
  uint64_t fed_steps = 0;     // async scheduling: steps enqueued before the step ahead's tokens were read
  uint64_t dropped_rows = 0;  // rows of fed steps whose request had finished (their results unused)
};

// The tokens that end generation for this model: the config's EOS ids, the tokenizer's, and for llama2.c
// checkpoints BOS too (those models delimit stories with BOS, and run.c stops when it samples it).
std::vector<int32_t> end_of_sequence_ids(const Model& model, const Tokenizer* tokenizer);

class Engine {
 public:
  // The model (and tokenizer, if given) must outlive the engine. Without a tokenizer there is no text, no stop
  // strings, and EOS comes from the model config only.
  Engine(const Model& model, const Tokenizer* tokenizer, const EngineOptions& options);
  ~Engine();

  // Queues a request. Throws Error (naming the field) for invalid params, an empty prompt, a token outside the
  // vocabulary, or a prompt + max_tokens longer than the context or the KV cache.
  uint64_t submit(std::vector<int32_t> prompt, const RequestParams& params, EventCallback on_event = {});

  // Finishes a request as Cancelled and frees its KV blocks now. Unknown or finished ids are ignored.
  void cancel(uint64_t id);

  // Runs one step: schedule, execute, sample, stream. Returns false when there was nothing to run. With async
  // scheduling a call completes one step (its tokens streamed) and may leave the next one running on the device.
  bool step();
  void run_until_idle();
  bool idle() const;

  // The output of a finished request (removed from the engine), or nullopt while it is unfinished or unknown.
  std::optional<RequestOutput> take_output(uint64_t id);

  // Per-token logprobs of `tokens` (entry 0 is NaN) in one prefill: the scorer. Runs the engine until that request
  // is done (other queued requests progress too). Bitwise equal to the logprobs reported when generating them.
  std::vector<float> score(const std::vector<int32_t>& tokens);

  EngineStats stats() const;
  const EngineOptions& options() const { return opt_; }
  const ModelConfig& config() const { return model_.config; }
  std::string backend_name() const;

 private:
  // A step whose work is enqueued on the backend and whose results are not applied yet.
  struct Launched {
    std::vector<ScheduledSeq> batch;
    bool fed = false;             // built by schedule_fed: every request one step ahead of its state at launch
    bool device = false;          // sampled on the backend (else the host samples logits_ at completion)
    bool pending = false;         // its samples are the backend's pending sample_async
    std::vector<int> spec_of;     // [batch] its sample's index, -1 where the sequence samples nothing this step
    std::vector<int> logprob_of;  // [batch] its first prompt logprob's index in logprobs
    std::vector<backend::SampleResult> samples;
    std::vector<float> logprobs;  // prompt logprobs (device)
  };

  bool step_impl();
  Launched launch(std::vector<ScheduledSeq> batch, bool fed);
  void device_sample(Launched& l);
  void complete(Launched& l);
  void launch_fed_after(const Launched& l);  // enqueues the fed step after l (in_flight_) where it may
  void release_retired();
  void abandon_in_flight() noexcept;  // after an error: drops the steps in flight (their rows are redone later)
  void finish(Request& r, FinishReason reason);
  void after_token(Request& r, const SampledToken& s);
  void emit_text(Request& r, const SampledToken* s, bool finished);
  bool is_eos(const Request& r, int32_t token) const;

  const Model& model_;
  const Tokenizer* tokenizer_;
  EngineOptions opt_;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<LlamaForward> forward_;
  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<int32_t> eos_ids_;
  std::map<uint64_t, std::unique_ptr<Request>> active_;
  std::map<uint64_t, RequestOutput> finished_;
  uint64_t next_id_ = 1;
  StepPlan plan_;
  std::vector<float> logits_;  // [max_logits, vocab]
  EngineStats counters_;
  bool async_ = false;                             // async scheduling on (the option, and the backend can feed)
  std::deque<Launched> in_flight_;                 // enqueued, not completed, oldest first (at most two)
  std::vector<std::unique_ptr<Request>> retired_;  // finished with rows still in flight
};

}  // namespace verbatim

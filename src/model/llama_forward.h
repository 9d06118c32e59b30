// The batched forward pass of the Llama family (Llama 1/2/3, Qwen2, Qwen3) over a paged KV cache, written once in
// the ops of backend::Backend and run on any backend. One call executes one StepPlan: any mix of prefill chunks and
// decode rows of many sequences. Per row it computes exactly what LlamaReference computes for that token; in
// Mode::Invariant its bits depend on nothing but the row's own sequence.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "model/model.h"

namespace verbatim {

struct ForwardOptions {
  int num_blocks = 0;    // KV cache blocks; 0: as many as the backend's memory budget leaves (max_kv_blocks)
  int block_size = 16;   // positions per block
  int max_rows = 256;    // most rows (tokens) in one step
  int max_logits = 256;  // most rows whose logits one step returns
};

class LlamaForward {
 public:
  // Uploads the weights to the backend and allocates the KV cache and activations. Throws Error when the model does
  // not match its config or an option is out of range. The model and the backend must outlive this object.
  LlamaForward(const Model& model, backend::Backend& backend, const ForwardOptions& options);

  // Runs one step and writes the logits of plan.logit_rows to `logits` [plan.n_logits(), vocab_size] (fp32).
  // Throws Error for a plan that does not fit (validate(), max_rows, max_logits). logits == nullptr: the logits stay
  // in the backend's buffer logits_buffer() (for sampling on the device).
  void execute(const StepPlan& plan, float* logits);
  backend::Act logits_buffer() const { return logits_; }

  const ModelConfig& config() const { return cfg_; }
  const ForwardOptions& options() const { return opt_; }
  backend::Backend& backend() { return be_; }

 private:
  struct Layer {
    backend::Weight attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm, ffn_norm, w_gate, w_up, w_down;
  };

  const ModelConfig& cfg_;
  backend::Backend& be_;
  ForwardOptions opt_;
  std::vector<float> inv_freq_;  // [head_dim / 2]
  backend::Weight tok_embeddings_, final_norm_, lm_head_;
  std::vector<Layer> layers_;
  // Activations, [max_rows, width] each (logits buffers [max_logits, width]).
  backend::Act x_, xb_, q_, k_, v_, att_, proj_, gate_, up_, hidden_, xl_, logits_;
};

}  // namespace verbatim

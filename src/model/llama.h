// The plain fp32 CPU reference forward pass of the Llama family (Llama 1/2/3, Qwen2 with q/k/v bias, Qwen3 with
// per-head q/k RMSNorm), one token at a time over a contiguous KV cache. It is the oracle every optimized CPU and CUDA
// path is tested against, so it is written for clarity: each step is one call into src/kernels/cpu, whose fixed
// reduction orders make the logits a pure function of (model, tokens so far, build).
//
// Per layer, for the token at position `pos`:
//   h  = rmsnorm(x, attn_norm)
//   q  = Wq h (+ bq),  k = Wk h (+ bk),  v = Wv h (+ bv)          bias: Qwen2 (config.attn_qkv_bias)
//   q, k = rmsnorm of each head with q_norm / k_norm              Qwen3 (config.qk_norm), before RoPE
//   q, k = rope(q, k, pos)                                        rotate halves, config.rope_theta / rope_scaling
//   cache[pos] = k, v;  a = attention(q, cache[0 .. pos])          GQA
//   x  = x + Wo a
//   x  = x + Wdown (silu(Wgate h2) * Wup h2),  h2 = rmsnorm(x, ffn_norm)
// then logits = lm_head rmsnorm(x, final_norm).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model.h"

namespace verbatim {

class LlamaReference {
 public:
  // KV-cache length used when the constructor is given 0: the model's max_seq_len, capped at this.
  static constexpr int kDefaultMaxPositions = 4096;

  // Checks the weights against the config (every tensor present with its canonical shape; biases and q/k norms
  // present exactly when the config says so) and allocates the KV cache for `max_positions` positions (0: the
  // default above). Throws Error for a mismatched model, a max_positions outside [1, config.max_seq_len] or a cache
  // that cannot be allocated. The model must outlive this object.
  explicit LlamaReference(const Model& model, int max_positions = 0);

  // Runs `token` at position `pos` and returns its logits [vocab_size], valid until the next forward() or reset().
  // `pos` must equal positions() (the number already in the cache): decoding is strictly in order. Throws Error for
  // a token outside [0, vocab_size), a pos out of order, or a full cache; the state is unchanged then.
  std::span<const float> forward(int32_t token, int pos);

  // Forgets every cached position; the next forward() starts at pos 0.
  void reset() { n_positions_ = 0; }

  int positions() const { return n_positions_; }
  int max_positions() const { return max_positions_; }
  const ModelConfig& config() const { return model_.config; }

 private:
  void attention_block(int layer, int pos);
  void mlp_block(int layer);
  float* k_cache_at(int layer, int pos);  // [kv_dim]
  float* v_cache_at(int layer, int pos);  // [kv_dim]

  const Model& model_;
  const ModelConfig& cfg_;
  int max_positions_ = 0;
  int n_positions_ = 0;
  std::vector<float> inv_freq_;  // [head_dim / 2]

  // KV cache, contiguous: [n_layers][max_positions][kv_dim] each.
  std::vector<float> k_cache_;
  std::vector<float> v_cache_;

  // Activations of the token being run.
  std::vector<float> x_;       // [dim]  the residual stream
  std::vector<float> xb_;      // [dim]  normed input of a block
  std::vector<float> q_;       // [n_heads * head_dim]
  std::vector<float> k_;       // [n_kv_heads * head_dim]
  std::vector<float> v_;       // [n_kv_heads * head_dim]
  std::vector<float> att_;     // [n_heads * head_dim]  attention output, before Wo
  std::vector<float> scores_;  // [max_positions]  attention scratch
  std::vector<float> proj_;    // [dim]  a block's output, before the residual add
  std::vector<float> gate_;    // [hidden_dim]
  std::vector<float> up_;      // [hidden_dim]
  std::vector<float> logits_;  // [vocab_size]
};

}  // namespace verbatim

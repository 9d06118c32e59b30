#include "model/llama_forward.h"

#include <string>

#include "kernels/cpu/rope.h"
#include "util/error.h"

namespace verbatim {
namespace {

kernels::cpu::RopeFreqScaling rope_scaling_of(const RopeScaling& s) {
  kernels::cpu::RopeFreqScaling r;
  switch (s.type) {
    case RopeScaling::Type::None:
      r.type = kernels::cpu::RopeFreqScaling::Type::None;
      break;
    case RopeScaling::Type::Linear:
      r.type = kernels::cpu::RopeFreqScaling::Type::Linear;
      break;
    case RopeScaling::Type::Llama3:
      r.type = kernels::cpu::RopeFreqScaling::Type::Llama3;
      break;
  }
  r.factor = s.factor;
  r.low_freq_factor = s.low_freq_factor;
  r.high_freq_factor = s.high_freq_factor;
  r.original_max_position_embeddings = s.original_max_position_embeddings;
  return r;
}

}  // namespace

LlamaForward::LlamaForward(const Model& model, backend::Backend& backend, const ForwardOptions& options)
    : cfg_(model.config), be_(backend), opt_(options) {
  cfg_.validate(model.path);
  if (opt_.num_blocks < 0 || opt_.block_size <= 0 || opt_.max_rows <= 0 || opt_.max_logits <= 0)
    fail("forward options", "num_blocks must be >= 0; block_size, max_rows and max_logits positive");
  const ModelWeights& w = model.weights;
  if (static_cast<int>(w.layers.size()) != cfg_.n_layers) fail(model.path, "layer count differs from the config");
  inv_freq_ = kernels::cpu::rope_inv_freq(cfg_.head_dim, cfg_.rope_theta, rope_scaling_of(cfg_.rope_scaling));

  auto up = [&](const Tensor& t) { return t.empty() ? backend::Weight{} : be_.upload(t); };
  tok_embeddings_ = up(w.tok_embeddings);
  final_norm_ = up(w.final_norm);
  lm_head_ = up(w.lm_head);
  layers_.reserve(w.layers.size());
  for (const LayerWeights& lw : w.layers) {
    Layer l;
    l.attn_norm = up(lw.attn_norm);
    if (lw.wq.empty() || lw.wk.empty() || lw.wv.empty() || lw.w_gate.empty() || lw.w_up.empty())
      fail(model.path, "a layer is missing weights");
    const Tensor* qkv[3] = {&lw.wq, &lw.wk, &lw.wv};
    const std::vector<backend::Weight> qkv_w = be_.upload_group(qkv);
    l.wq = qkv_w[0];
    l.wk = qkv_w[1];
    l.wv = qkv_w[2];
    l.wo = up(lw.wo);
    l.bq = up(lw.bq);
    l.bk = up(lw.bk);
    l.bv = up(lw.bv);
    l.q_norm = up(lw.q_norm);
    l.k_norm = up(lw.k_norm);
    l.ffn_norm = up(lw.ffn_norm);
    const Tensor* gate_up[2] = {&lw.w_gate, &lw.w_up};
    const std::vector<backend::Weight> gate_up_w = be_.upload_group(gate_up);
    l.w_gate = gate_up_w[0];
    l.w_up = gate_up_w[1];
    l.w_down = up(lw.w_down);
    if (l.wq.empty() || l.wk.empty() || l.wv.empty() || l.wo.empty() || l.w_gate.empty() || l.w_up.empty() ||
        l.w_down.empty() || l.attn_norm.empty() || l.ffn_norm.empty())
      fail(model.path, "a layer is missing weights");
    if (cfg_.qk_norm && (l.q_norm.empty() || l.k_norm.empty())) fail(model.path, "q/k norm weights missing");
    layers_.push_back(l);
  }
  if (tok_embeddings_.empty() || final_norm_.empty() || lm_head_.empty())
    fail(model.path, "embedding, final norm or lm_head missing");

  const int64_t rows = opt_.max_rows;
  using backend::ActRole;
  x_ = be_.alloc(rows, cfg_.dim, ActRole::Residual);
  xb_ = be_.alloc(rows, cfg_.dim, ActRole::MatmulIn);
  q_ = be_.alloc(rows, cfg_.q_dim(), ActRole::MatmulOut);
  k_ = be_.alloc(rows, cfg_.kv_dim(), ActRole::MatmulOut);
  v_ = be_.alloc(rows, cfg_.kv_dim(), ActRole::MatmulOut);
  att_ = be_.alloc(rows, cfg_.q_dim(), ActRole::MatmulIn);
  proj_ = be_.alloc(rows, cfg_.dim, ActRole::MatmulOut);
  gate_ = be_.alloc(rows, cfg_.hidden_dim, ActRole::MatmulOut);
  up_ = be_.alloc(rows, cfg_.hidden_dim, ActRole::MatmulOut);
  hidden_ = be_.alloc(rows, cfg_.hidden_dim, ActRole::MatmulIn);
  xl_ = be_.alloc(opt_.max_logits, cfg_.dim, ActRole::MatmulIn);
  logits_ = be_.alloc(opt_.max_logits, cfg_.vocab_size, ActRole::Logits);
  backend::KvCacheLayout kv{.n_layers = cfg_.n_layers,
                            .num_blocks = opt_.num_blocks,
                            .block_size = opt_.block_size,
                            .n_kv_heads = cfg_.n_kv_heads,
                            .head_dim = cfg_.head_dim};
  if (kv.num_blocks == 0) {
    kv.num_blocks = be_.max_kv_blocks(kv, cfg_.n_heads);
    if (kv.num_blocks < 0) fail("forward options", "num_blocks is 0 and the backend has no memory budget");
    if (kv.num_blocks == 0)
      fail("gpu memory budget", "no KV cache block fits in what the weights and activations leave of the budget");
    opt_.num_blocks = kv.num_blocks;
  }
  be_.alloc_kv_cache(kv);
}

void LlamaForward::execute(const StepPlan& plan, float* logits) {
  plan.validate(opt_.num_blocks, opt_.block_size, cfg_.vocab_size);
  if (plan.has_fed() && !be_.can_feed())
    fail("step plan", "fed rows (async scheduling) on the " + be_.name() + " backend, which cannot feed");
  if (plan.n_rows() == 0) return;
  if (plan.n_rows() > opt_.max_rows)
    fail("step plan", std::to_string(plan.n_rows()) + " rows, more than max_rows " + std::to_string(opt_.max_rows));
  if (plan.n_logits() > opt_.max_logits)
    fail("step plan", std::to_string(plan.n_logits()) + " logit rows, more than " + std::to_string(opt_.max_logits));
  const float eps = cfg_.norm_eps;
  const backend::Weight none;

  be_.begin_step(plan);
  be_.embed(tok_embeddings_, x_);
  be_.rmsnorm(x_, layers_[0].attn_norm, eps, xb_);
  for (int li = 0; li < cfg_.n_layers; ++li) {
    const Layer& l = layers_[li];
    // Attention block: xb holds rmsnorm(x) * attn_norm.
    const backend::Weight qkv_w[3] = {l.wq, l.wk, l.wv}, qkv_b[3] = {l.bq, l.bk, l.bv};
    const backend::Act qkv_y[3] = {q_, k_, v_};
    be_.matmul_group(xb_, qkv_w, qkv_b, qkv_y);
    // q/k norms (Qwen3), RoPE, K/V into the cache.
    be_.attention_inputs(li, q_, k_, v_, cfg_.qk_norm ? l.q_norm : none, cfg_.qk_norm ? l.k_norm : none, eps,
                         cfg_.head_dim, inv_freq_.data());
    be_.attention(li, q_, cfg_.n_heads, att_);
    be_.matmul(att_, l.wo, none, proj_);
    be_.add_rmsnorm(x_, proj_, l.ffn_norm, eps, xb_);
    // MLP block.
    const backend::Weight gate_up_w[2] = {l.w_gate, l.w_up}, gate_up_b[2] = {none, none};
    const backend::Act gate_up_y[2] = {gate_, up_};
    be_.matmul_group(xb_, gate_up_w, gate_up_b, gate_up_y);
    be_.swiglu(gate_, up_, hidden_);
    be_.matmul(hidden_, l.w_down, none, proj_);
    const backend::Weight& next_norm = li + 1 < cfg_.n_layers ? layers_[li + 1].attn_norm : final_norm_;
    be_.add_rmsnorm(x_, proj_, next_norm, eps, xb_);
  }
  if (plan.n_logits() > 0) {
    be_.gather_logit_rows(xb_, xl_);
    be_.matmul(xl_, lm_head_, none, logits_, /*logit_rows=*/true);
    if (logits != nullptr) be_.read_logits(logits_, logits);
  }
  be_.end_step();
}

}  // namespace verbatim

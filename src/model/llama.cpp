#include "model/llama.h"

#include <algorithm>
#include <new>
#include <stdexcept>
#include <string>

#include "kernels/cpu/add.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/swiglu.h"
#include "util/error.h"

namespace verbatim {

namespace kc = kernels::cpu;

namespace {

constexpr const char* kWhere = "LlamaReference";

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string tensor_label(const Tensor& t, const std::string& role, int layer) {
  std::string label = layer >= 0 ? "layer " + std::to_string(layer) + " " + role : role;
  if (!t.name.empty()) label += " (" + t.name + ")";
  return label;
}

void check_tensor(const Tensor& t, const std::vector<int64_t>& shape, const std::string& role, int layer = -1) {
  if (t.empty()) fail(kWhere, "missing tensor " + tensor_label(t, role, layer));
  if (t.shape != shape)
    fail(kWhere, "tensor " + tensor_label(t, role, layer) + " has shape " + shape_string(t.shape) + ", expected " +
                     shape_string(shape));
}

void check_absent(const Tensor& t, const std::string& role, int layer, const char* flag) {
  if (!t.empty()) fail(kWhere, "tensor " + tensor_label(t, role, layer) + " present but config." + flag + " is off");
}

void check_model(const Model& m) {
  const ModelConfig& c = m.config;
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 ||
      c.vocab_size <= 0)
    fail(kWhere, "config has a non-positive size");
  if (c.n_heads % c.n_kv_heads != 0) fail(kWhere, "n_heads is not a multiple of n_kv_heads");
  if (c.head_dim % 2 != 0) fail(kWhere, "head_dim must be even for RoPE");
  if (!(c.rope_theta > 0.0f) || !(c.norm_eps > 0.0f)) fail(kWhere, "rope_theta and norm_eps must be positive");
  const ModelWeights& w = m.weights;
  const int64_t dim = c.dim, hidden = c.hidden_dim, q_dim = c.q_dim(), kv_dim = c.kv_dim(), hd = c.head_dim;
  check_tensor(w.tok_embeddings, {c.vocab_size, dim}, "tok_embeddings");
  check_tensor(w.final_norm, {dim}, "final_norm");
  check_tensor(w.lm_head, {c.vocab_size, dim}, "lm_head");
  if (w.layers.size() != static_cast<size_t>(c.n_layers))
    fail(kWhere, "model has " + std::to_string(w.layers.size()) + " layers, config says " + std::to_string(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    check_tensor(L.attn_norm, {dim}, "attn_norm", l);
    check_tensor(L.wq, {q_dim, dim}, "wq", l);
    check_tensor(L.wk, {kv_dim, dim}, "wk", l);
    check_tensor(L.wv, {kv_dim, dim}, "wv", l);
    check_tensor(L.wo, {dim, q_dim}, "wo", l);
    if (c.attn_qkv_bias) {
      check_tensor(L.bq, {q_dim}, "bq", l);
      check_tensor(L.bk, {kv_dim}, "bk", l);
      check_tensor(L.bv, {kv_dim}, "bv", l);
    } else {
      check_absent(L.bq, "bq", l, "attn_qkv_bias");
      check_absent(L.bk, "bk", l, "attn_qkv_bias");
      check_absent(L.bv, "bv", l, "attn_qkv_bias");
    }
    if (c.qk_norm) {
      check_tensor(L.q_norm, {hd}, "q_norm", l);
      check_tensor(L.k_norm, {hd}, "k_norm", l);
    } else {
      check_absent(L.q_norm, "q_norm", l, "qk_norm");
      check_absent(L.k_norm, "k_norm", l, "qk_norm");
    }
    check_tensor(L.ffn_norm, {dim}, "ffn_norm", l);
    check_tensor(L.w_gate, {hidden, dim}, "w_gate", l);
    check_tensor(L.w_up, {hidden, dim}, "w_up", l);
    check_tensor(L.w_down, {dim, hidden}, "w_down", l);
  }
}

kc::RopeFreqScaling to_kernel_scaling(const RopeScaling& s) {
  kc::RopeFreqScaling k;
  switch (s.type) {
    case RopeScaling::Type::None:
      k.type = kc::RopeFreqScaling::Type::None;
      break;
    case RopeScaling::Type::Linear:
      k.type = kc::RopeFreqScaling::Type::Linear;
      break;
    case RopeScaling::Type::Llama3:
      k.type = kc::RopeFreqScaling::Type::Llama3;
      break;
  }
  k.factor = s.factor;
  k.low_freq_factor = s.low_freq_factor;
  k.high_freq_factor = s.high_freq_factor;
  k.original_max_position_embeddings = s.original_max_position_embeddings;
  return k;
}

// y = W x for one token, W: [n, k] as stored.
void linear(const Tensor& w, const float* x, float* y) {
  kc::matmul(x, w.data, w.dtype, y, {.m = 1, .n = w.shape[0], .k = w.shape[1]});
}

}  // namespace

LlamaReference::LlamaReference(const Model& model, int max_positions) : model_(model), cfg_(model.config) {
  check_model(model_);
  const int limit = cfg_.max_seq_len > 0 ? cfg_.max_seq_len : kDefaultMaxPositions;
  max_positions_ = max_positions == 0 ? std::min(limit, kDefaultMaxPositions) : max_positions;
  if (max_positions_ < 1 || max_positions_ > limit)
    fail(kWhere, "max_positions " + std::to_string(max_positions) + " outside [1, " + std::to_string(limit) + "]");

  size_t kv_elems = 0;  // n_layers * max_positions * kv_dim, per cache
  size_t kv_bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(cfg_.n_layers), static_cast<size_t>(max_positions_), &kv_elems) ||
      __builtin_mul_overflow(kv_elems, static_cast<size_t>(cfg_.kv_dim()), &kv_elems) ||
      __builtin_mul_overflow(kv_elems, 2 * sizeof(float), &kv_bytes))
    fail(kWhere, "the KV cache size overflows");
  try {
    k_cache_.assign(kv_elems, 0.0f);
    v_cache_.assign(kv_elems, 0.0f);
    x_.resize(cfg_.dim);
    xb_.resize(cfg_.dim);
    q_.resize(cfg_.q_dim());
    k_.resize(cfg_.kv_dim());
    v_.resize(cfg_.kv_dim());
    att_.resize(cfg_.q_dim());
    scores_.resize(max_positions_);
    proj_.resize(cfg_.dim);
    gate_.resize(cfg_.hidden_dim);
    up_.resize(cfg_.hidden_dim);
    logits_.resize(cfg_.vocab_size);
  } catch (const std::bad_alloc&) {
    fail(kWhere, "cannot allocate the KV cache (" + std::to_string(kv_bytes) + " bytes for " +
                     std::to_string(max_positions_) + " positions)");
  } catch (const std::length_error&) {
    fail(kWhere, "the KV cache is too large (" + std::to_string(kv_bytes) + " bytes)");
  }
  inv_freq_ = kc::rope_inv_freq(cfg_.head_dim, cfg_.rope_theta, to_kernel_scaling(cfg_.rope_scaling));
}

float* LlamaReference::k_cache_at(int layer, int pos) {
  return k_cache_.data() + (static_cast<size_t>(layer) * max_positions_ + pos) * cfg_.kv_dim();
}

float* LlamaReference::v_cache_at(int layer, int pos) {
  return v_cache_.data() + (static_cast<size_t>(layer) * max_positions_ + pos) * cfg_.kv_dim();
}

std::span<const float> LlamaReference::forward(int32_t token, int pos) {
  if (token < 0 || token >= cfg_.vocab_size)
    fail(kWhere,
         "token " + std::to_string(token) + " outside the vocabulary [0, " + std::to_string(cfg_.vocab_size) + ")");
  if (pos != n_positions_)
    fail(kWhere, "forward at pos " + std::to_string(pos) + " but the cache holds " + std::to_string(n_positions_) +
                     " positions (positions run in order; reset() starts over)");
  if (pos >= max_positions_) fail(kWhere, "the KV cache is full (" + std::to_string(max_positions_) + " positions)");

  const ModelWeights& w = model_.weights;
  kc::embedding(w.tok_embeddings.data, w.tok_embeddings.dtype, &token, 1, x_.data(),
                {.vocab = cfg_.vocab_size, .dim = cfg_.dim});
  for (int l = 0; l < cfg_.n_layers; ++l) {
    attention_block(l, pos);
    mlp_block(l);
  }
  kc::rmsnorm(x_.data(), w.final_norm.data, w.final_norm.dtype, xb_.data(), 1, {.n = cfg_.dim, .eps = cfg_.norm_eps});
  linear(w.lm_head, xb_.data(), logits_.data());
  n_positions_ = pos + 1;
  return logits_;
}

void LlamaReference::attention_block(int layer, int pos) {
  const LayerWeights& L = model_.weights.layers[layer];
  const kc::RmsNormParams norm{.n = cfg_.dim, .eps = cfg_.norm_eps};
  kc::rmsnorm(x_.data(), L.attn_norm.data, L.attn_norm.dtype, xb_.data(), 1, norm);

  linear(L.wq, xb_.data(), q_.data());
  linear(L.wk, xb_.data(), k_.data());
  linear(L.wv, xb_.data(), v_.data());
  if (cfg_.attn_qkv_bias) {
    kc::add_bias(q_.data(), L.bq.data, L.bq.dtype, 1, cfg_.q_dim());
    kc::add_bias(k_.data(), L.bk.data, L.bk.dtype, 1, cfg_.kv_dim());
    kc::add_bias(v_.data(), L.bv.data, L.bv.dtype, 1, cfg_.kv_dim());
  }
  if (cfg_.qk_norm) {  // each head normalized on its own, in place
    const kc::RmsNormParams head_norm{.n = cfg_.head_dim, .eps = cfg_.norm_eps};
    kc::rmsnorm(q_.data(), L.q_norm.data, L.q_norm.dtype, q_.data(), cfg_.n_heads, head_norm);
    kc::rmsnorm(k_.data(), L.k_norm.data, L.k_norm.dtype, k_.data(), cfg_.n_kv_heads, head_norm);
  }
  const int32_t position = pos;
  kc::rope(q_.data(), &position, 1, inv_freq_.data(), {.n_heads = cfg_.n_heads, .head_dim = cfg_.head_dim});
  kc::rope(k_.data(), &position, 1, inv_freq_.data(), {.n_heads = cfg_.n_kv_heads, .head_dim = cfg_.head_dim});

  std::copy(k_.begin(), k_.end(), k_cache_at(layer, pos));
  std::copy(v_.begin(), v_.end(), v_cache_at(layer, pos));
  kc::attention(q_.data(), k_cache_at(layer, 0), v_cache_at(layer, 0), scores_.data(), att_.data(),
                {.n_heads = cfg_.n_heads,
                 .n_kv_heads = cfg_.n_kv_heads,
                 .head_dim = cfg_.head_dim,
                 .n_ctx = pos + 1,
                 .kv_stride = cfg_.kv_dim()});

  linear(L.wo, att_.data(), proj_.data());
  kc::add_inplace(x_.data(), proj_.data(), cfg_.dim);
}

void LlamaReference::mlp_block(int layer) {
  const LayerWeights& L = model_.weights.layers[layer];
  kc::rmsnorm(x_.data(), L.ffn_norm.data, L.ffn_norm.dtype, xb_.data(), 1, {.n = cfg_.dim, .eps = cfg_.norm_eps});
  linear(L.w_gate, xb_.data(), gate_.data());
  linear(L.w_up, xb_.data(), up_.data());
  kc::swiglu(gate_.data(), up_.data(), gate_.data(), cfg_.hidden_dim);
  linear(L.w_down, gate_.data(), proj_.data());
  kc::add_inplace(x_.data(), proj_.data(), cfg_.dim);
}

}  // namespace verbatim

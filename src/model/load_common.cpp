#include "model/load_common.h"

#include <cstring>

#include "util/error.h"

namespace verbatim::detail {

const NameScheme kHfNames = {
    "model.embed_tokens.weight",
    "model.norm.weight",
    "lm_head.weight",
    "model.layers.",
    "input_layernorm.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "self_attn.q_proj.bias",
    "self_attn.k_proj.bias",
    "self_attn.v_proj.bias",
    "self_attn.q_norm.weight",
    "self_attn.k_norm.weight",
    "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
};

const NameScheme kGgufNames = {
    "token_embd.weight",  "output_norm.weight", "output.weight",   "blk.",
    "attn_norm.weight",   "attn_q.weight",      "attn_k.weight",   "attn_v.weight",
    "attn_output.weight", "attn_q.bias",        "attn_k.bias",     "attn_v.bias",
    "attn_q_norm.weight", "attn_k_norm.weight", "ffn_norm.weight", "ffn_gate.weight",
    "ffn_up.weight",      "ffn_down.weight",
};

ModelWeights fetch_weights(const ModelConfig& c, const NameScheme& n, const FetchTensor& fetch) {
  const int64_t dim = c.dim, hidden = c.hidden_dim, q = c.q_dim(), kv = c.kv_dim(), vocab = c.vocab_size;
  ModelWeights w;
  w.tok_embeddings = fetch(n.tok_embeddings, {vocab, dim});
  // Layers are appended one by one, never sized from the config: a bogus layer count fails at its first missing
  // tensor instead of allocating for billions of layers.
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = n.layer_prefix + std::to_string(i) + ".";
    LayerWeights& l = w.layers.emplace_back();
    l.attn_norm = fetch(p + n.attn_norm, {dim});
    l.wq = fetch(p + n.wq, {q, dim});
    l.wk = fetch(p + n.wk, {kv, dim});
    l.wv = fetch(p + n.wv, {kv, dim});
    l.wo = fetch(p + n.wo, {dim, q});
    if (c.attn_qkv_bias) {
      l.bq = fetch(p + n.bq, {q});
      l.bk = fetch(p + n.bk, {kv});
      l.bv = fetch(p + n.bv, {kv});
    }
    if (c.qk_norm) {
      l.q_norm = fetch(p + n.q_norm, {c.head_dim});
      l.k_norm = fetch(p + n.k_norm, {c.head_dim});
    }
    l.ffn_norm = fetch(p + n.ffn_norm, {dim});
    l.w_gate = fetch(p + n.w_gate, {hidden, dim});
    l.w_up = fetch(p + n.w_up, {hidden, dim});
    l.w_down = fetch(p + n.w_down, {dim, hidden});
  }
  w.final_norm = fetch(n.final_norm, {dim});
  w.lm_head = c.tie_embeddings ? w.tok_embeddings : fetch(n.lm_head, {vocab, dim});
  return w;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

const void* own_copy(const void* bytes, size_t n, std::vector<std::shared_ptr<const void>>& storage) {
  // operator new[] aligns to __STDCPP_DEFAULT_NEW_ALIGNMENT__ (16), enough for every DType.
  std::shared_ptr<uint8_t[]> buf(new uint8_t[n == 0 ? 1 : n]);
  if (n) std::memcpy(buf.get(), bytes, n);
  storage.push_back(buf);
  return buf.get();
}

Tensor aligned_view(Tensor t, std::vector<std::shared_ptr<const void>>& storage) {
  if (reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype) != 0) t.data = own_copy(t.data, t.nbytes(), storage);
  return t;
}

Tensor permute_rope_rows(const Tensor& t, int head_dim, std::vector<std::shared_ptr<const void>>& storage) {
  const int64_t rows = t.shape.empty() ? 0 : t.shape[0];
  const size_t row_bytes = rows == 0 ? 0 : t.nbytes() / static_cast<size_t>(rows);
  const int64_t half = head_dim / 2;
  if (head_dim <= 0 || head_dim % 2 != 0 || rows % head_dim != 0)
    fail(t.name,
         "internal error: cannot permute " + std::to_string(rows) + " rows in heads of " + std::to_string(head_dim));
  std::shared_ptr<uint8_t[]> buf(new uint8_t[t.nbytes() == 0 ? 1 : t.nbytes()]);
  const auto* src = static_cast<const uint8_t*>(t.data);
  for (int64_t h = 0; h < rows / head_dim; ++h) {
    for (int64_t j = 0; j < half; ++j) {
      const int64_t base = h * head_dim;
      std::memcpy(buf.get() + (base + j) * row_bytes, src + (base + 2 * j) * row_bytes, row_bytes);
      std::memcpy(buf.get() + (base + half + j) * row_bytes, src + (base + 2 * j + 1) * row_bytes, row_bytes);
    }
  }
  storage.push_back(buf);
  Tensor out = t;
  out.data = buf.get();
  return out;
}

}  // namespace verbatim::detail

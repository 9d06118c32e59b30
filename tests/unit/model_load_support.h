// Shared checks for the model loader tests: a loaded Model against the tiny model's canonical (HF) weights.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "model/model.h"
#include "unit/formats_writers.h"
#include "util/error.h"

namespace verbatim::testing {

// Bitwise equality of a tensor with the tiny model's HF tensor (F32), shape included.
inline void expect_tensor(const Tensor& t, const TinyModel& m, const std::string& hf_name) {
  SCOPED_TRACE(hf_name);
  ASSERT_FALSE(t.empty());
  const auto& [shape, values] = m.hf.at(hf_name);
  EXPECT_EQ(t.shape, shape);
  ASSERT_EQ(t.dtype, DType::F32);
  ASSERT_EQ(t.numel(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 4, 0u);
  EXPECT_EQ(std::memcmp(t.data, values.data(), values.size() * 4), 0);
}

inline void expect_matches_tiny(const Model& model, const TinyModel& m) {
  const ModelConfig& c = model.config;
  EXPECT_EQ(c.dim, m.dim);
  EXPECT_EQ(c.hidden_dim, m.hidden);
  EXPECT_EQ(c.n_layers, m.layers);
  EXPECT_EQ(c.n_heads, m.heads);
  EXPECT_EQ(c.n_kv_heads, m.kv_heads);
  EXPECT_EQ(c.head_dim, m.head_dim);
  EXPECT_EQ(c.vocab_size, m.vocab);
  EXPECT_EQ(c.tie_embeddings, m.tied);
  EXPECT_EQ(c.attn_qkv_bias, m.arch == "qwen2");
  EXPECT_EQ(c.qk_norm, m.arch == "qwen3");
  const ModelWeights& w = model.weights;
  expect_tensor(w.tok_embeddings, m, "model.embed_tokens.weight");
  ASSERT_EQ(w.layers.size(), static_cast<size_t>(m.layers));
  for (int i = 0; i < m.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const LayerWeights& l = w.layers[static_cast<size_t>(i)];
    expect_tensor(l.attn_norm, m, p + "input_layernorm.weight");
    expect_tensor(l.wq, m, p + "self_attn.q_proj.weight");
    expect_tensor(l.wk, m, p + "self_attn.k_proj.weight");
    expect_tensor(l.wv, m, p + "self_attn.v_proj.weight");
    expect_tensor(l.wo, m, p + "self_attn.o_proj.weight");
    if (m.arch == "qwen2") {
      expect_tensor(l.bq, m, p + "self_attn.q_proj.bias");
      expect_tensor(l.bk, m, p + "self_attn.k_proj.bias");
      expect_tensor(l.bv, m, p + "self_attn.v_proj.bias");
    } else {
      EXPECT_TRUE(l.bq.empty() && l.bk.empty() && l.bv.empty());
    }
    if (m.arch == "qwen3") {
      expect_tensor(l.q_norm, m, p + "self_attn.q_norm.weight");
      expect_tensor(l.k_norm, m, p + "self_attn.k_norm.weight");
    } else {
      EXPECT_TRUE(l.q_norm.empty() && l.k_norm.empty());
    }
    expect_tensor(l.ffn_norm, m, p + "post_attention_layernorm.weight");
    expect_tensor(l.w_gate, m, p + "mlp.gate_proj.weight");
    expect_tensor(l.w_up, m, p + "mlp.up_proj.weight");
    expect_tensor(l.w_down, m, p + "mlp.down_proj.weight");
  }
  expect_tensor(w.final_norm, m, "model.norm.weight");
  if (m.tied) {
    EXPECT_EQ(w.lm_head.data, w.tok_embeddings.data);
    EXPECT_EQ(w.lm_head.shape, w.tok_embeddings.shape);
  } else {
    expect_tensor(w.lm_head, m, "lm_head.weight");
  }
}

// The Error message of fn(), or "" when it did not throw.
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace verbatim::testing

// stories260K as a llama2.c checkpoint and as GGUF (the same weights): both load to the same config (up to the
// context length, 512 vs the converter's 2048) and bitwise-identical canonical tensors, Q/K rows included.
#include <gtest/gtest.h>

#include <cstring>

#include "formats/gguf.h"
#include "formats/llama2c.h"
#include "model/model.h"
#include "support/test_support.h"

namespace verbatim {
namespace {

void expect_same_tensor(const Tensor& a, const Tensor& b, const std::string& what) {
  SCOPED_TRACE(what + " (" + a.name + " vs " + b.name + ")");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(a.dtype, b.dtype);
  ASSERT_EQ(a.shape, b.shape);
  EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes()), 0);
}

TEST(LoadStories260K, BinAndGgufGiveTheSameModel) {
  VERBATIM_REQUIRE_SHARED(bin_path, "models/stories260K/stories260K.bin");
  VERBATIM_REQUIRE_SHARED(gguf_path, "models/stories260K/stories260K-f32.gguf");
  auto bin = Model::load(bin_path);
  auto gguf = Model::load(gguf_path);
  EXPECT_EQ(bin->format, ModelFormat::Llama2c);
  EXPECT_EQ(gguf->format, ModelFormat::Gguf);

  const ModelConfig& a = bin->config;
  const ModelConfig& b = gguf->config;
  EXPECT_EQ(a.arch, Arch::Llama);
  EXPECT_EQ(a.dim, 64);
  EXPECT_EQ(a.hidden_dim, 172);
  EXPECT_EQ(a.n_layers, 5);
  EXPECT_EQ(a.n_heads, 8);
  EXPECT_EQ(a.n_kv_heads, 4);
  EXPECT_EQ(a.head_dim, 8);
  EXPECT_EQ(a.vocab_size, 512);
  EXPECT_EQ(a.max_seq_len, 512);
  EXPECT_EQ(b.max_seq_len, 2048);  // the converter's default; the model was trained at 512
  EXPECT_TRUE(a.tie_embeddings);
  EXPECT_EQ(a.bos_id, 1);
  EXPECT_EQ(a.eos_ids, std::vector<int>{2});

  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.hidden_dim, b.hidden_dim);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
  // The GGUF stores output.weight, but as a byte-identical copy of token_embd: tied, like the .bin.
  EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
  EXPECT_EQ(a.attn_qkv_bias, b.attn_qkv_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.bos_id, b.bos_id);
  EXPECT_EQ(a.eos_ids, b.eos_ids);

  const ModelWeights& x = bin->weights;
  const ModelWeights& y = gguf->weights;
  expect_same_tensor(x.tok_embeddings, y.tok_embeddings, "tok_embeddings");
  expect_same_tensor(x.final_norm, y.final_norm, "final_norm");
  expect_same_tensor(x.lm_head, y.lm_head, "lm_head");
  EXPECT_EQ(x.lm_head.data, x.tok_embeddings.data);
  EXPECT_EQ(y.lm_head.data, y.tok_embeddings.data);
  ASSERT_EQ(x.layers.size(), 5u);
  ASSERT_EQ(y.layers.size(), 5u);
  for (size_t i = 0; i < x.layers.size(); ++i) {
    const LayerWeights& p = x.layers[i];
    const LayerWeights& q = y.layers[i];
    const std::string l = "layer " + std::to_string(i) + " ";
    expect_same_tensor(p.attn_norm, q.attn_norm, l + "attn_norm");
    expect_same_tensor(p.wq, q.wq, l + "wq");
    expect_same_tensor(p.wk, q.wk, l + "wk");
    expect_same_tensor(p.wv, q.wv, l + "wv");
    expect_same_tensor(p.wo, q.wo, l + "wo");
    expect_same_tensor(p.ffn_norm, q.ffn_norm, l + "ffn_norm");
    expect_same_tensor(p.w_gate, q.w_gate, l + "w_gate");
    expect_same_tensor(p.w_up, q.w_up, l + "w_up");
    expect_same_tensor(p.w_down, q.w_down, l + "w_down");
    EXPECT_TRUE(p.bq.empty() && q.bq.empty() && p.q_norm.empty() && q.q_norm.empty());
  }
}

// What the files hold: the GGUF's Q/K rows are byte-identical to the .bin's (both in the interleaved-pair order that
// llama2.c's and llama.cpp's `llama` RoPE use), and the canonical rows are that order regrouped into halves.
TEST(LoadStories260K, QkRowsAreRegroupedFromInterleavedPairs) {
  VERBATIM_REQUIRE_SHARED(bin_path, "models/stories260K/stories260K.bin");
  VERBATIM_REQUIRE_SHARED(gguf_path, "models/stories260K/stories260K-f32.gguf");
  llama2c::Checkpoint raw(bin_path);
  gguf::File file(gguf_path);
  auto model = Model::load(bin_path);
  const int d = model->config.head_dim, dim = model->config.dim;
  const size_t row_bytes = static_cast<size_t>(dim) * 4;
  for (int l = 0; l < model->config.n_layers; ++l) {
    for (bool is_q : {true, false}) {
      const int rows = is_q ? model->config.q_dim() : model->config.kv_dim();
      const float* raw_rows = (is_q ? raw.weights().wq : raw.weights().wk).data() + static_cast<size_t>(l) * rows * dim;
      const auto* info = file.find_tensor("blk." + std::to_string(l) + (is_q ? ".attn_q.weight" : ".attn_k.weight"));
      ASSERT_NE(info, nullptr);
      ASSERT_EQ(file.tensor_data(*info).size(), static_cast<size_t>(rows) * row_bytes);
      EXPECT_EQ(std::memcmp(file.tensor_data(*info).data(), raw_rows, static_cast<size_t>(rows) * row_bytes), 0);
      const Tensor& t =
          is_q ? model->weights.layers[static_cast<size_t>(l)].wq : model->weights.layers[static_cast<size_t>(l)].wk;
      const auto* canon = static_cast<const uint8_t*>(t.data);
      for (int h = 0; h < rows / d; ++h)
        for (int j = 0; j < d / 2; ++j) {
          const size_t base = static_cast<size_t>(h) * d;
          ASSERT_EQ(std::memcmp(canon + (base + j) * row_bytes, raw_rows + (base + 2 * j) * dim, row_bytes), 0);
          ASSERT_EQ(std::memcmp(canon + (base + d / 2 + j) * row_bytes, raw_rows + (base + 2 * j + 1) * dim, row_bytes),
                    0);
        }
    }
  }
}

}  // namespace
}  // namespace verbatim

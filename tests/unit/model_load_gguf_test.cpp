// Loading GGUF models: metadata -> config, tensors checked against it, and the Q/K un-permutation of `llama` files
// (llama.cpp's converter stores them for interleaved RoPE) that makes them bitwise equal to the HF weights.
#include <gtest/gtest.h>

#include "formats/gguf.h"
#include "model/model.h"
#include "support/test_support.h"
#include "unit/formats_writers.h"
#include "unit/gguf_quant_blocks.h"
#include "unit/model_load_support.h"

namespace verbatim {
namespace {

using testing::error_of;
using testing::GgufWriter;
using testing::make_tiny;
using testing::TinyModel;

std::string write_gguf(const std::string& bytes) {
  const std::string path = testing::temp_dir() + "/model.gguf";
  testing::write_file(path, bytes);
  return path;
}

// A tiny llama GGUF writer, edited by `edit` before building; returns the file path.
std::string edited(const std::function<void(GgufWriter&)>& edit, const TinyModel& m = make_tiny()) {
  GgufWriter w;
  testing::tiny_gguf(m, &w);
  edit(w);
  return write_gguf(w.build());
}

TEST(ModelLoadGguf, MatchesHfWeightsForEveryArchitecture) {
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    for (bool tied : {false, true}) {
      SCOPED_TRACE(std::string(arch) + (tied ? " tied" : " untied"));
      TinyModel m = make_tiny(arch, tied);
      const std::string path = write_gguf(testing::tiny_gguf(m));
      auto model = Model::load(path);
      EXPECT_EQ(model->format, ModelFormat::Gguf);
      EXPECT_EQ(model->path, path);
      EXPECT_EQ(model->tokenizer_path, path);
      EXPECT_EQ(arch_name(model->config.arch), std::string(arch));
      EXPECT_EQ(model->config.max_seq_len, m.seq);
      EXPECT_EQ(model->config.bos_id, 1);
      EXPECT_EQ(model->config.eos_ids, std::vector<int>{2});
      EXPECT_EQ(model->config.norm_eps, 1e-5f);
      EXPECT_EQ(model->config.rope_theta, 10000.0f);
      testing::expect_matches_tiny(*model, m);
    }
  }
}

TEST(ModelLoadGguf, OutputIdenticalToEmbeddingCountsAsTied) {
  TinyModel m = make_tiny("llama", false);
  m.hf["lm_head.weight"] = m.hf["model.embed_tokens.weight"];
  auto model = Model::load(write_gguf(testing::tiny_gguf(m)));
  EXPECT_TRUE(model->config.tie_embeddings);
  EXPECT_EQ(model->weights.lm_head.data, model->weights.tok_embeddings.data);
}

TEST(ModelLoadGguf, MetadataVariants) {
  auto model = Model::load(edited([](GgufWriter& w) {
    w.kv_u32("tokenizer.ggml.eot_token_id", 3);
    w.kv_u32("tokenizer.ggml.eom_token_id", 2);  // already an eos: not repeated
    w.drop_kv("tokenizer.ggml.bos_token_id");
    w.kv_u32("tokenizer.ggml.bos_token_id", 0xffffffffu);  // llama.cpp's "none"
    w.kv_str("llama.rope.scaling.type", "linear");
    w.kv_f32("llama.rope.scaling.factor", 4.0f);
    w.kv_u32("llama.rope.dimension_count", 8);
    w.drop_kv("llama.rope.freq_base");
    w.drop_kv("tokenizer.ggml.tokens");  // vocab size from token_embd
  }));
  const ModelConfig& c = model->config;
  EXPECT_EQ(c.eos_ids, (std::vector<int>{2, 3}));
  EXPECT_EQ(c.bos_id, -1);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::Linear);
  EXPECT_EQ(c.rope_scaling.factor, 4.0f);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.vocab_size, 16);

  TinyModel mha = make_tiny("llama", false, /*kv_heads=*/2);
  model = Model::load(edited(
      [](GgufWriter& w) {
        w.drop_kv("llama.rope.freq_base");
        w.kv_f32("llama.rope.freq_base", 500000.0f);
        w.drop_kv("llama.attention.head_count_kv");  // defaults to head_count
      },
      mha));
  EXPECT_EQ(model->config.n_kv_heads, 2);
  testing::expect_matches_tiny(*model, mha);
  EXPECT_EQ(model->config.rope_theta, 500000.0f);
}

TEST(ModelLoadGguf, MetadataErrors) {
  auto expect = [](const std::function<void(GgufWriter&)>& edit, const std::string& phrase) {
    const std::string path = edited(edit);
    std::string msg = error_of([&] { Model::load(path); });
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(phrase), std::string::npos) << msg;
  };
  expect(
      [](GgufWriter& w) {
        w.drop_kv("general.architecture");
        w.kv_str("general.architecture", "gpt2");
      },
      "unsupported architecture gpt2");
  expect([](GgufWriter& w) { w.drop_kv("general.architecture"); }, "metadata key 'general.architecture' is missing");
  expect([](GgufWriter& w) { w.drop_kv("llama.embedding_length"); },
         "metadata key 'llama.embedding_length' is missing");
  expect(
      [](GgufWriter& w) {
        w.drop_kv("llama.block_count");
        w.kv_str("llama.block_count", "2");
      },
      "'llama.block_count' has type STRING, expected an integer");
  expect(
      [](GgufWriter& w) {
        w.drop_kv("llama.block_count");
        w.kv_u64("llama.block_count", uint64_t{1} << 40);
      },
      "'llama.block_count' value 1099511627776 is out of range");
  expect(
      [](GgufWriter& w) {
        w.drop_kv("llama.attention.head_count_kv");
        w.kv_u32("llama.attention.head_count_kv", 3);
      },
      "n_heads = 2 is not a multiple of n_kv_heads = 3");
  // A huge layer count fails at the first missing layer instead of allocating for every layer (found by fuzzing).
  expect(
      [](GgufWriter& w) {
        w.drop_kv("llama.block_count");
        w.kv_u32("llama.block_count", 0x7fffffff);
      },
      "tensor blk.2.attn_norm.weight is missing");
  expect([](GgufWriter& w) { w.kv_u32("llama.rope.dimension_count", 4); }, "partial rotary embeddings");
  expect([](GgufWriter& w) { w.kv_str("llama.rope.scaling.type", "yarn"); }, "unsupported rope scaling type yarn");
  expect(
      [](GgufWriter& w) {
        w.tensor_f32("rope_freqs.weight", {4}, {1, 1, 1, 1});
      },
      "tensor rope_freqs.weight (per-dimension RoPE frequency factors");
  expect([](GgufWriter& w) { w.drop_kv("llama.attention.layer_norm_rms_epsilon"); },
         "layer_norm_rms_epsilon' is missing");
  expect([](GgufWriter& w) { w.kv_u32("tokenizer.ggml.eot_token_id", 16); },
         "eos token id 16 is outside the vocabulary");
}

TEST(ModelLoadGguf, TensorErrorsNameFileAndTensor) {
  auto expect_exact = [](const std::function<void(GgufWriter&)>& edit, const std::string& what) {
    const std::string path = edited(edit);
    EXPECT_EQ(error_of([&] { Model::load(path); }), path + ": " + what);
  };
  expect_exact([](GgufWriter& w) { w.drop_tensor("blk.1.ffn_up.weight"); }, "tensor blk.1.ffn_up.weight is missing");
  expect_exact(
      [](GgufWriter& w) {
        w.drop_tensor("blk.0.ffn_up.weight");
        w.tensor_f32("blk.0.ffn_up.weight", {24, 16}, std::vector<float>(24 * 16));
      },
      "tensor blk.0.ffn_up.weight has shape [16, 24], expected [24, 16]");
  expect_exact(
      [](GgufWriter& w) {
        w.drop_tensor("token_embd.weight");
        w.tensor("token_embd.weight", {32, 16}, 8, std::string(16 * 34, '\0'));  // Q8_0, rows too long
      },
      "tensor token_embd.weight has shape [16, 32], expected [16, 16]");
  expect_exact(
      [](GgufWriter& w) {
        w.drop_tensor("output_norm.weight");
        w.tensor("output_norm.weight", {256}, 15, std::string(292, '\0'));  // Q8_K: not a file format
      },
      "tensor output_norm.weight has type Q8_K, which is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, "
      "Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
  expect_exact(
      [](GgufWriter& w) {
        w.drop_tensor("output.weight");
        w.drop_tensor("token_embd.weight");
      },
      "tensor token_embd.weight is missing");
}

// Quantized projections and embeddings (every type, K-quants included) dequantize at load to exactly what their blocks
// encode, with the Q/K rows of `llama` files un-permuted like F32 ones; norms stay F32.
TEST(ModelLoadGguf, QuantizedTensorsDequantizeAtLoad) {
  for (const char* arch : {"llama", "qwen2"}) {
    for (bool tied : {false, true}) {
      SCOPED_TRACE(std::string(arch) + (tied ? " tied" : " untied"));
      TinyModel m;
      m.arch = arch;
      m.tied = tied;
      m.dim = 256, m.hidden = 512, m.heads = 4, m.kv_heads = 2, m.head_dim = 64, m.vocab = 16;
      testing::fill_tiny(m);
      testing::quantize_tiny(m, testing::quant_types());
      ASSERT_GE(m.gguf_blocks.size(), testing::quant_types().size());
      auto model = Model::load(write_gguf(testing::tiny_gguf(m)));
      testing::expect_matches_tiny(*model, m);
      EXPECT_EQ(model->weights.final_norm.dtype, DType::F32);
    }
  }
}

TEST(ModelLoadGguf, HalfPrecisionAndUnalignedData) {
  TinyModel m = make_tiny();
  // With alignment 1 and a 2-byte tensor first, the F32 tensors after it are not 4-byte aligned in the map: the
  // loader must copy them. The name length is chosen so that the first F32 tensor is misaligned.
  for (std::string first = "a";; first += "a") {
    GgufWriter w;
    w.alignment = 1;
    w.kv_u32("general.alignment", 1);
    w.tensor(first, {1}, 1, std::string(2, '\0'));  // F16
    testing::tiny_gguf(m, &w);
    w.drop_tensor("output_norm.weight");
    std::string f16;
    for (int i = 0; i < m.dim; ++i) testing::put<uint16_t>(f16, 0x3c00);  // 1.0
    w.tensor("output_norm.weight", {static_cast<uint64_t>(m.dim)}, 1, f16);
    const std::string bytes = w.build();
    if ((w.data_start + 2) % 4 == 0) continue;
    auto model = Model::load(write_gguf(bytes));
    EXPECT_EQ(model->weights.final_norm.dtype, DType::F16);
    EXPECT_EQ(model->weights.final_norm.at(5), 1.0f);
    testing::expect_tensor(model->weights.tok_embeddings, m, "model.embed_tokens.weight");
    testing::expect_tensor(model->weights.layers[1].wq, m, "model.layers.1.self_attn.q_proj.weight");
    testing::expect_tensor(model->weights.layers[1].w_down, m, "model.layers.1.mlp.down_proj.weight");
    break;
  }
}

TEST(ModelLoadGguf, TruncatedFilesNameThePath) {
  const std::string bytes = testing::tiny_gguf(make_tiny());
  const std::string path = testing::temp_dir() + "/cut.gguf";
  // Writing a file costs milliseconds, so this samples cut points; formats_gguf_test tries every prefix in memory.
  for (size_t n = 4; n < bytes.size(); n += (n < 400 ? 13 : 997)) {
    testing::write_file(path, bytes.substr(0, n));
    std::string msg = error_of([&] { Model::load(path); });
    ASSERT_EQ(msg.rfind(path + ": ", 0), 0u) << "cut at " << n << ": " << msg;
  }
}

}  // namespace
}  // namespace verbatim

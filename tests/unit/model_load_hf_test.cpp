// Loading Hugging Face directories: config.json parsing, safetensors weights checked against the config, and clear
// errors for every kind of bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "support/test_support.h"
#include "unit/formats_writers.h"
#include "unit/model_load_support.h"
#include "util/half.h"

namespace verbatim {
namespace {

using nlohmann::json;
using testing::error_of;
using testing::make_tiny;
using testing::TinyModel;

// The Error from loading `m` with its config.json edited by `edit`.
std::string load_error_with_config(const std::function<void(json&)>& edit, std::string* dir_out = nullptr) {
  TinyModel m = make_tiny();
  const std::string dir = testing::temp_dir();
  testing::write_tiny_hf(m, dir);
  json cfg = testing::tiny_hf_config(m);
  edit(cfg);
  testing::write_file(dir + "/config.json", cfg.dump());
  if (dir_out) *dir_out = dir;
  return error_of([&] { Model::load(dir); });
}

// Writes `m` but lets `edit` change the safetensors writer first.
std::string write_with(const TinyModel& m, const std::function<void(testing::SafetensorsWriter&)>& edit) {
  const std::string dir = testing::temp_dir();
  testing::write_file(dir + "/config.json", testing::tiny_hf_config(m).dump());
  testing::SafetensorsWriter w;
  for (const auto& [name, t] : m.hf) w.tensor_f32(name, t.first, t.second);
  edit(w);
  testing::write_file(dir + "/model.safetensors", w.build());
  return dir;
}

TEST(ModelLoadHf, LoadsEveryArchitecture) {
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    for (bool tied : {false, true}) {
      SCOPED_TRACE(std::string(arch) + (tied ? " tied" : " untied"));
      TinyModel m = make_tiny(arch, tied);
      const std::string dir = testing::temp_dir();
      testing::write_tiny_hf(m, dir);
      auto model = Model::load(dir);
      EXPECT_EQ(model->format, ModelFormat::HfDirectory);
      EXPECT_EQ(model->path, dir);
      EXPECT_EQ(model->tokenizer_path, "");
      EXPECT_EQ(arch_name(model->config.arch), std::string(arch));
      EXPECT_EQ(model->config.max_seq_len, m.seq);
      EXPECT_EQ(model->config.rope_theta, 10000.0f);
      EXPECT_EQ(model->config.norm_eps, 1e-5f);
      EXPECT_EQ(model->config.bos_id, 1);
      EXPECT_EQ(model->config.eos_ids, std::vector<int>{2});
      testing::expect_matches_tiny(*model, m);
    }
  }
}

TEST(ModelLoadHf, TokenizerAndGenerationConfig) {
  TinyModel m = make_tiny();
  const std::string dir = testing::temp_dir();
  testing::write_tiny_hf(m, dir);
  testing::write_file(dir + "/tokenizer.json", "{}");
  testing::write_file(dir + "/generation_config.json", R"({"bos_token_id": 3, "eos_token_id": [2, 5, 2]})");
  auto model = Model::load(dir);
  EXPECT_EQ(model->tokenizer_path, dir + "/tokenizer.json");
  EXPECT_EQ(model->config.bos_id, 3);
  EXPECT_EQ(model->config.eos_ids, (std::vector<int>{2, 5}));

  testing::write_file(dir + "/generation_config.json", R"({"eos_token_id": 99})");
  std::string msg = error_of([&] { Model::load(dir); });
  EXPECT_EQ(msg,
            dir + "/generation_config.json: invalid model config: eos token id 99 is outside the vocabulary of 16");
  testing::write_file(dir + "/generation_config.json", "{");
  msg = error_of([&] { Model::load(dir); });
  EXPECT_EQ(msg.rfind(dir + "/generation_config.json: invalid JSON", 0), 0u) << msg;
}

TEST(ModelLoadHf, ShardedWeights) {
  TinyModel m = make_tiny("qwen2");
  const std::string dir = testing::temp_dir();
  testing::write_file(dir + "/config.json", testing::tiny_hf_config(m).dump());
  testing::SafetensorsWriter a, b;
  json map = json::object();
  int k = 0;
  for (const auto& [name, t] : m.hf) {
    const bool first = k++ % 2 == 0;
    (first ? a : b).tensor_f32(name, t.first, t.second);
    map[name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  testing::write_file(dir + "/model-00001-of-00002.safetensors", a.build());
  testing::write_file(dir + "/model-00002-of-00002.safetensors", b.build());
  testing::write_file(dir + "/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  testing::expect_matches_tiny(*Model::load(dir), m);

  map.erase("model.layers.1.mlp.up_proj.weight");
  testing::write_file(dir + "/model.safetensors.index.json", json{{"weight_map", map}}.dump());
  EXPECT_EQ(error_of([&] { Model::load(dir); }),
            dir + "/model.safetensors.index.json: tensor model.layers.1.mlp.up_proj.weight is missing");
}

TEST(ModelLoadHf, HalfPrecisionAndUnalignedData) {
  TinyModel m = make_tiny();
  // Every matrix in BF16, the final norm in F16; a 1-byte tensor first so that nothing after it is aligned.
  const std::string dir = write_with(m, [&](testing::SafetensorsWriter& w) {
    w = testing::SafetensorsWriter();
    w.tensor("odd", "U8", {1}, "x");
    for (const auto& [name, t] : m.hf) {
      if (name == "model.norm.weight") {
        std::string bytes;
        for (size_t i = 0; i < t.second.size(); ++i) testing::put<uint16_t>(bytes, 0x3c00);  // 1.0 in F16
        w.tensor(name, "F16", t.first, bytes);
      } else if (t.first.size() == 2) {
        std::string bytes;
        for (float x : t.second) testing::put<uint16_t>(bytes, f32_to_bf16(x));
        w.tensor(name, "BF16", t.first, bytes);
      } else {
        w.tensor_f32(name, t.first, t.second);
      }
    }
  });
  auto model = Model::load(dir);
  const Tensor& wq = model->weights.layers[1].wq;
  EXPECT_EQ(wq.dtype, DType::BF16);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(wq.data) % 2, 0u);
  const auto& want = m.v("model.layers.1.self_attn.q_proj.weight");
  for (int64_t i = 0; i < wq.numel(); ++i) ASSERT_EQ(wq.at(i), bf16_to_f32(f32_to_bf16(want[i]))) << i;
  const Tensor& norm = model->weights.final_norm;
  EXPECT_EQ(norm.dtype, DType::F16);
  EXPECT_EQ(norm.at(3), 1.0f);
  testing::expect_tensor(model->weights.layers[0].attn_norm, m, "model.layers.0.input_layernorm.weight");
}

TEST(ModelLoadHf, TensorErrorsNameFileAndTensor) {
  TinyModel m = make_tiny();
  std::string dir = write_with(m, [](auto& w) { w.header.erase("model.layers.1.mlp.up_proj.weight"); });
  EXPECT_EQ(error_of([&] { Model::load(dir); }),
            dir + "/model.safetensors: tensor model.layers.1.mlp.up_proj.weight is missing");

  dir = write_with(m, [&](auto& w) {
    w.tensor_f32("model.layers.1.mlp.up_proj.weight", {16, 24}, m.v("model.layers.1.mlp.up_proj.weight"));
  });
  EXPECT_EQ(error_of([&] { Model::load(dir); }),
            dir + "/model.safetensors: tensor model.layers.1.mlp.up_proj.weight has shape [16, 24], expected [24, 16]");

  dir = write_with(m, [](auto& w) { w.tensor("model.norm.weight", "I8", {16}, std::string(16, '\1')); });
  EXPECT_EQ(error_of([&] { Model::load(dir); }),
            dir + "/model.safetensors: tensor model.norm.weight has dtype I8, which is not supported (F32, F16, BF16)");

  dir = write_with(m, [](auto& w) { w.header.erase("lm_head.weight"); });
  EXPECT_EQ(error_of([&] { Model::load(dir); }), dir + "/model.safetensors: tensor lm_head.weight is missing");

  TinyModel q2 = make_tiny("qwen2");
  dir = write_with(q2, [](auto& w) { w.header.erase("model.layers.0.self_attn.k_proj.bias"); });
  EXPECT_EQ(error_of([&] { Model::load(dir); }),
            dir + "/model.safetensors: tensor model.layers.0.self_attn.k_proj.bias is missing");

  dir = testing::temp_dir();
  testing::write_file(dir + "/config.json", testing::tiny_hf_config(m).dump());
  EXPECT_EQ(error_of([&] { Model::load(dir); }),
            dir + ": no model.safetensors or model.safetensors.index.json in this directory");
  testing::write_file(dir + "/model.safetensors", "garbage!");
  std::string msg = error_of([&] { Model::load(dir); });
  EXPECT_EQ(msg.rfind(dir + "/model.safetensors: ", 0), 0u) << msg;
}

TEST(ModelLoadHf, ConfigErrors) {
  std::string dir;
  auto expect = [&](const std::function<void(json&)>& edit, const std::string& phrase) {
    std::string msg = load_error_with_config(edit, &dir);
    EXPECT_EQ(msg.rfind(dir + "/config.json: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(phrase), std::string::npos) << msg;
  };
  expect([](json& j) { j["architectures"] = {"MistralForCausalLM"}; }, "unsupported architecture MistralForCausalLM");
  expect(
      [](json& j) {
        j.erase("architectures");
        j["model_type"] = "gemma";
      },
      "unsupported architecture gemma");
  expect(
      [](json& j) {
        j.erase("architectures");
        j.erase("model_type");
      },
      "neither \"architectures\" nor \"model_type\"");
  expect([](json& j) { j["architectures"] = "LlamaForCausalLM"; }, "\"architectures\" must be a non-empty list");
  expect([](json& j) { j["hidden_size"] = "big"; }, "\"hidden_size\" must be an integer, got \"big\"");
  expect([](json& j) { j["hidden_size"] = 16.5; }, "\"hidden_size\" must be an integer, got 16.5");
  expect([](json& j) { j["num_hidden_layers"] = true; }, "\"num_hidden_layers\" must be an integer, got true");
  expect([](json& j) { j["intermediate_size"] = -24; }, "\"intermediate_size\" = -24 must be positive");
  expect([](json& j) { j["vocab_size"] = 0; }, "\"vocab_size\" = 0 must be positive");
  expect([](json& j) { j["vocab_size"] = 1e30; }, "\"vocab_size\" must be an integer");
  expect([](json& j) { j["vocab_size"] = 4294967296LL; }, "\"vocab_size\" = 4294967296 is out of range");
  expect([](json& j) { j.erase("num_attention_heads"); }, "missing \"num_attention_heads\"");

  // A huge layer count fails at the first missing layer, without allocating for all of them.
  std::string msg = load_error_with_config([](json& j) { j["num_hidden_layers"] = 2147483647; }, &dir);
  EXPECT_EQ(msg, dir + "/model.safetensors: tensor model.layers.2.input_layernorm.weight is missing");
  expect([](json& j) { j["num_key_value_heads"] = 3; }, "n_heads = 2 is not a multiple of n_kv_heads = 3");
  expect([](json& j) { j["num_attention_heads"] = 3; }, "hidden_size 16 is not a multiple of num_attention_heads 3");
  expect([](json& j) { j["rope_theta"] = "x"; }, "\"rope_theta\" must be a number");
  expect([](json& j) { j["rope_theta"] = -1; }, "rope_theta = -1.000000 must be > 0");
  expect([](json& j) { j["rms_norm_eps"] = 0; }, "norm_eps = 0.000000 must be > 0");
  expect([](json& j) { j["tie_word_embeddings"] = 1; }, "\"tie_word_embeddings\" must be true or false");
  expect(
      [](json& j) {
        j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
      },
      "unsupported rope_scaling type yarn");
  expect(
      [](json& j) {
        j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 4.0}};
      },
      "unsupported rope_scaling type dynamic");
  expect([](json& j) { j["rope_scaling"] = {{"rope_type", "linear"}}; }, "needs a \"factor\"");
  expect([](json& j) { j["rope_scaling"] = 4; }, "\"rope_scaling\" must be an object or null");
  expect([](json& j) { j["attention_bias"] = true; }, "attention_bias = true");
  expect([](json& j) { j["hidden_act"] = "gelu"; }, "unsupported hidden_act gelu");
  expect([](json& j) { j["eos_token_id"] = {2, "x"}; }, "\"eos_token_id\" must be an integer");
  expect([](json& j) { j["bos_token_id"] = 16; }, "bos token id 16 is outside the vocabulary of 16");
  expect([](json& j) { j = json::array(); }, "config is not a JSON object");

  TinyModel m = make_tiny();
  dir = testing::temp_dir();
  testing::write_tiny_hf(m, dir);
  testing::write_file(dir + "/config.json", "{\"hidden_size\": 16,");
  msg = error_of([&] { Model::load(dir); });
  EXPECT_EQ(msg.rfind(dir + "/config.json: invalid JSON", 0), 0u) << msg;
  std::filesystem::remove(dir + "/config.json");
  EXPECT_EQ(error_of([&] { Model::load(dir); }), dir + ": not a model directory: config.json is missing");
}

TEST(ModelLoadHf, DeeplyNestedValuesGiveShortMessages) {
  const std::string nested = std::string(5000, '[') + std::string(5000, ']');  // deep, yet within ASan's stack
  json j = testing::tiny_hf_config(make_tiny());
  j["hidden_size"] = json::parse(nested);
  EXPECT_EQ(error_of([&] { config_from_hf_json(j, "config.json"); }),
            "config.json: \"hidden_size\" must be an integer, got an array of 1 elements");
  j = testing::tiny_hf_config(make_tiny());
  j["hidden_act"] = std::string(1000, 'x');
  const std::string msg = error_of([&] { config_from_hf_json(j, "config.json"); });
  EXPECT_EQ(msg.rfind("config.json: unsupported hidden_act xxx", 0), 0u) << msg;
  j["hidden_act"] = 5;
  EXPECT_EQ(error_of([&] { config_from_hf_json(j, "config.json"); }),
            "config.json: \"hidden_act\" must be a string, got 5");
}

TEST(ModelLoadHf, ConfigVariants) {
  json j = testing::tiny_hf_config(make_tiny());
  j.erase("num_key_value_heads");
  j.erase("architectures");
  j.erase("rope_theta");
  j.erase("rms_norm_eps");
  j.erase("tie_word_embeddings");
  j.erase("max_position_embeddings");
  j["eos_token_id"] = {2, 3, 2};
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  ModelConfig c = config_from_hf_json(j, "config.json");
  EXPECT_EQ(c.arch, Arch::Llama);
  EXPECT_EQ(c.n_kv_heads, c.n_heads);
  EXPECT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.norm_eps, 1e-6f);
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_EQ(c.max_seq_len, 2048);
  EXPECT_EQ(c.eos_ids, (std::vector<int>{2, 3}));
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::Llama3);
  EXPECT_EQ(c.rope_scaling.factor, 8.0f);
  EXPECT_EQ(c.rope_scaling.low_freq_factor, 1.0f);
  EXPECT_EQ(c.rope_scaling.high_freq_factor, 4.0f);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);

  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  j["head_dim"] = 4;
  j["bos_token_id"] = nullptr;  // null means absent
  c = config_from_hf_json(j, "config.json");
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::Linear);
  EXPECT_EQ(c.rope_scaling.factor, 2.0f);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.q_dim(), 8);
  EXPECT_EQ(c.bos_id, -1);

  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0}, {"high_freq_factor", 4.0}};
  EXPECT_NE(error_of([&] { config_from_hf_json(j, "config.json"); }).find("low_freq_factor < high_freq_factor"),
            std::string::npos);

  // transformers >= 5: "rope_parameters" carries theta and the scaling.
  j.erase("rope_scaling");
  j["rope_theta"] = 1.0;  // superseded by rope_parameters
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  c = config_from_hf_json(j, "config.json");
  EXPECT_EQ(c.rope_theta, 1000000.0f);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::None);
  j["rope_parameters"] = {{"rope_type", "linear"}, {"rope_theta", 500000.0}, {"factor", 4.0}};
  c = config_from_hf_json(j, "config.json");
  EXPECT_EQ(c.rope_theta, 500000.0f);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::Linear);
  EXPECT_EQ(c.rope_scaling.factor, 4.0f);
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_EQ(error_of([&] { config_from_hf_json(j, "config.json"); }),
            "config.json: unsupported rope_parameters type yarn (supported: default, linear, llama3)");
  j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}}}};
  EXPECT_NE(error_of([&] { config_from_hf_json(j, "config.json"); }).find("per layer type is not supported"),
            std::string::npos);

  json q3 = testing::tiny_hf_config(make_tiny("qwen3"));
  q3["head_dim"] = 32;
  c = config_from_hf_json(q3, "config.json");
  EXPECT_EQ(c.head_dim, 32);
  EXPECT_EQ(c.q_dim(), 64);
  EXPECT_TRUE(c.qk_norm);
  q3.erase("head_dim");
  EXPECT_EQ(config_from_hf_json(q3, "config.json").head_dim, 128);
}

TEST(ModelLoadHf, PathErrors) {
  const std::string dir = testing::temp_dir();
  testing::write_tiny_hf(make_tiny(), dir);
  EXPECT_EQ(error_of([&] { Model::load(dir + "/model.safetensors"); }),
            dir +
                "/model.safetensors: give the model directory (holding config.json and the safetensors files), not "
                "a file inside it");
  std::string msg = error_of([&] { Model::load(dir + "/absent.bin"); });
  EXPECT_EQ(msg.rfind(dir + "/absent.bin: cannot open", 0), 0u) << msg;
}

}  // namespace
}  // namespace verbatim

// generation_config.json sampling defaults: parsed into ModelConfig::generation, applied only where a request leaves
// a parameter unset.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/sampling_defaults.h"
#include "model/config.h"
#include "util/error.h"

namespace verbatim {
namespace {

ModelConfig tiny() {
  ModelConfig c;
  c.dim = 32;
  c.hidden_dim = 64;
  c.n_layers = 1;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 100;
  c.max_seq_len = 64;
  return c;
}

TEST(GenerationDefaults, ParsedFromGenerationConfig) {
  ModelConfig c = tiny();
  apply_hf_generation_config(
      c,
      nlohmann::json::parse(
          R"({"do_sample": true, "temperature": 0.6, "top_k": 20, "top_p": 0.95, "eos_token_id": [7, 8]})"),
      "generation_config.json");
  ASSERT_TRUE(c.generation.temperature.has_value());
  EXPECT_FLOAT_EQ(*c.generation.temperature, 0.6f);
  EXPECT_EQ(*c.generation.top_k, 20);
  EXPECT_FLOAT_EQ(*c.generation.top_p, 0.95f);
  EXPECT_FALSE(c.generation.min_p.has_value());
  EXPECT_EQ(c.eos_ids, (std::vector<int>{7, 8}));
}

TEST(GenerationDefaults, BadValuesNameTheFileAndField) {
  for (const char* text :
       {R"({"temperature": -1})", R"({"top_p": 0})", R"({"top_p": "high"})", R"({"top_k": -3})", R"({"min_p": 2})"}) {
    ModelConfig c = tiny();
    try {
      apply_hf_generation_config(c, nlohmann::json::parse(text), "generation_config.json");
      ADD_FAILURE() << "accepted " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("generation_config.json"), std::string::npos) << e.what();
    }
  }
}

TEST(GenerationDefaults, FillOnlyWhatTheRequestLeftUnset) {
  GenerationDefaults d;
  d.temperature = 0.6f;
  d.top_k = 20;
  SamplingParams p;
  p.temperature = 0.0f;  // the request asked for greedy
  cli::apply_generation_defaults(p, {.temperature = true}, d);
  EXPECT_EQ(p.temperature, 0.0f);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_EQ(p.top_p, 1.0f);
  SamplingParams q;
  cli::apply_generation_defaults(q, {}, d);
  EXPECT_FLOAT_EQ(q.temperature, 0.6f);
}

}  // namespace
}  // namespace verbatim

// HF parity: our fp32 reference forward pass against Hugging Face transformers' own logits, on small random
// checkpoints written by save_pretrained (tools/make_hf_fixtures.py; committed under tests/fixtures/hf).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "formats/safetensors.h"
#include "model/llama.h"
#include "model/model.h"
#include "support/test_support.h"

namespace verbatim {
namespace {

class HfParity : public ::testing::TestWithParam<std::string> {};

TEST_P(HfParity, LogitsMatchTransformersWithin1e4) {
  const std::string dir = testing::fixtures_dir() + "/hf/" + GetParam();
  auto model = Model::load(dir);
  safetensors::File expected(dir + "/expected.safetensors");
  const auto* tokens_info = expected.find("tokens");
  const auto* logits_info = expected.find("logits");
  ASSERT_NE(tokens_info, nullptr);
  ASSERT_NE(logits_info, nullptr);
  ASSERT_EQ(tokens_info->dtype, "I32");
  ASSERT_EQ(logits_info->dtype, "F32");
  const int64_t n = tokens_info->shape.at(0);
  const int64_t vocab = logits_info->shape.at(1);
  ASSERT_EQ(vocab, model->config.vocab_size);
  std::vector<int32_t> tokens(n);
  std::memcpy(tokens.data(), expected.data(*tokens_info).data(), n * sizeof(int32_t));
  std::vector<float> ref(n * vocab);
  std::memcpy(ref.data(), expected.data(*logits_info).data(), ref.size() * sizeof(float));

  LlamaReference forward(*model, static_cast<int>(n));
  double worst = 0;
  for (int64_t pos = 0; pos < n; ++pos) {
    auto logits = forward.forward(tokens[pos], static_cast<int>(pos));
    ASSERT_EQ(static_cast<int64_t>(logits.size()), vocab);
    // Relative error of a row: the largest absolute difference over the largest reference magnitude.
    double max_diff = 0, max_ref = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      const float r = ref[pos * vocab + v];
      ASSERT_TRUE(std::isfinite(logits[v])) << "position " << pos << " token " << v;
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(logits[v]) - r));
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(r)));
    }
    const double rel = max_diff / max_ref;
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-4) << GetParam() << ": position " << pos << " max |diff| " << max_diff;
  }
  std::printf("[ %s ] worst row relative error vs transformers: %.3g\n", GetParam().c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HfParity,
                         ::testing::Values("llama3_gqa", "llama_tied_bf16_sharded", "qwen2_tied_f16", "qwen3_untied",
                                           "qwen3_tied_bf16"));

}  // namespace
}  // namespace verbatim

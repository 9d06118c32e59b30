// The fp32 reference forward pass (LlamaReference) on tiny random in-memory models of each flavour: Llama with GQA
// (and Llama 3 RoPE scaling), Qwen2 with q/k/v bias and an untied lm_head, Qwen3 with q/k norm and head_dim != dim /
// n_heads. Checked against an independent double-precision forward (tolerance: 5e-6 times the largest |logit|; the
// measured error is below 1e-6), for bitwise determinism (two instances, reset, what ran before), for f16/bf16 ==
// pre-converted f32, and for its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "forward_tiny_model.h"
#include "model/llama.h"
#include "util/error.h"

namespace verbatim {
namespace {

using testing::make_tiny_model;
using testing::naive_forward;
using testing::TinySpec;

std::vector<TinySpec> flavours() {
  std::vector<TinySpec> v;
  TinySpec llama;  // GQA 4:2, tied embeddings
  llama.label = "llama_gqa";
  v.push_back(llama);

  TinySpec llama3 = llama;  // Llama 3 RoPE scaling with all three frequency regimes at head_dim 8
  llama3.label = "llama3_scaled";
  llama3.rope_scaling.type = RopeScaling::Type::Llama3;
  llama3.rope_scaling.factor = 8.0f;
  llama3.rope_scaling.original_max_position_embeddings = 1024;
  llama3.seed = 2;
  v.push_back(llama3);

  TinySpec qwen2;  // bias, multi-query (1 KV head), untied lm_head, theta 1e6
  qwen2.label = "qwen2_bias";
  qwen2.arch = Arch::Qwen2;
  qwen2.qkv_bias = true;
  qwen2.n_kv_heads = 1;
  qwen2.tied = false;
  qwen2.rope_theta = 1000000.0f;
  qwen2.seed = 3;
  v.push_back(qwen2);

  TinySpec qwen3;  // q/k norm, head_dim 16 with dim 32 and 4 heads (q_dim 64 != dim)
  qwen3.label = "qwen3_qk_norm";
  qwen3.arch = Arch::Qwen3;
  qwen3.qk_norm = true;
  qwen3.head_dim = 16;
  qwen3.n_layers = 3;
  qwen3.seed = 4;
  v.push_back(qwen3);
  return v;
}

std::vector<int32_t> random_tokens(uint64_t seed, int n, int vocab) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return t;
}

// Logits of every position, decoded one token at a time from a fresh cache.
std::vector<std::vector<float>> run(LlamaReference& ref, const std::vector<int32_t>& tokens) {
  std::vector<std::vector<float>> out;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    std::span<const float> l = ref.forward(tokens[pos], static_cast<int>(pos));
    out.emplace_back(l.begin(), l.end());
  }
  return out;
}

bool bitwise_equal(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
      return false;
  return true;
}

class ForwardFlavour : public ::testing::TestWithParam<TinySpec> {};

TEST_P(ForwardFlavour, MatchesNaiveDoubleForward) {
  const TinySpec spec = GetParam();
  auto model = make_tiny_model(spec);
  const std::vector<int32_t> tokens = random_tokens(spec.seed * 7 + 1, 24, spec.vocab_size);
  LlamaReference ref(*model);
  const auto got = run(ref, tokens);
  const auto want = naive_forward(*model, tokens);
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    double scale = 0.0;
    for (double v : want[pos]) scale = std::max(scale, std::abs(v));
    ASSERT_GT(scale, 0.1);  // the logits are not degenerate
    for (int i = 0; i < spec.vocab_size; ++i)
      ASSERT_NEAR(got[pos][i], want[pos][i], 5e-6 * scale) << spec.label << " pos " << pos << " token " << i;
  }
}

TEST_P(ForwardFlavour, DecodingIsBitwiseDeterministic) {
  const TinySpec spec = GetParam();
  auto model = make_tiny_model(spec);
  const std::vector<int32_t> tokens = random_tokens(spec.seed * 7 + 2, 30, spec.vocab_size);
  LlamaReference a(*model), b(*model, 40);
  const auto first = run(a, tokens);
  EXPECT_TRUE(bitwise_equal(first, run(b, tokens))) << "two instances (and cache sizes) differ";
  a.reset();
  EXPECT_EQ(a.positions(), 0);
  EXPECT_TRUE(bitwise_equal(first, run(a, tokens))) << "reset changed the logits";
}

TEST_P(ForwardFlavour, ResetForgetsWhatCameBefore) {
  const TinySpec spec = GetParam();
  auto model = make_tiny_model(spec);
  const std::vector<int32_t> a = random_tokens(spec.seed * 7 + 3, 25, spec.vocab_size);
  const std::vector<int32_t> b = random_tokens(spec.seed * 7 + 4, 12, spec.vocab_size);
  LlamaReference fresh(*model);
  const auto b_alone = run(fresh, b);
  LlamaReference used(*model);
  run(used, a);  // leaves 25 stale positions in the cache, longer than b
  used.reset();
  EXPECT_TRUE(bitwise_equal(b_alone, run(used, b)));
  // A sequence's logits at a position depend only on its own prefix: b's prefix of length 5 gives the same logits
  // as the first 5 positions of b.
  LlamaReference prefix(*model);
  const auto five = run(prefix, std::vector<int32_t>(b.begin(), b.begin() + 5));
  EXPECT_TRUE(bitwise_equal(five, std::vector<std::vector<float>>(b_alone.begin(), b_alone.begin() + 5)));
}

TEST_P(ForwardFlavour, HalfPrecisionWeightsEqualPreconvertedF32) {
  for (DType dtype : {DType::BF16, DType::F16}) {
    TinySpec spec = GetParam();
    spec.dtype = dtype;
    auto half = make_tiny_model(spec);
    auto full = testing::to_f32_model(*half);
    const std::vector<int32_t> tokens = random_tokens(spec.seed * 7 + 5, 10, spec.vocab_size);
    LlamaReference a(*half), b(*full);
    EXPECT_TRUE(bitwise_equal(run(a, tokens), run(b, tokens))) << spec.label << " " << dtype_name(dtype);
  }
}

INSTANTIATE_TEST_SUITE_P(Flavours, ForwardFlavour, ::testing::ValuesIn(flavours()),
                         [](const ::testing::TestParamInfo<TinySpec>& info) { return info.param.label; });

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ForwardErrors, RejectsOutOfOrderAndOutOfRange) {
  TinySpec spec;
  spec.max_seq_len = 8;
  auto model = make_tiny_model(spec);
  LlamaReference ref(*model);
  auto first = ref.forward(5, 0);
  const std::vector<float> l0(first.begin(), first.end());
  EXPECT_NE(error_of([&] { ref.forward(5, 0); }).find("pos 0"), std::string::npos);  // repeating a position
  EXPECT_NE(error_of([&] { ref.forward(5, 2); }).find("pos 2"), std::string::npos);  // skipping one
  EXPECT_NE(error_of([&] { ref.forward(-1, 1); }).find("token -1"), std::string::npos);
  EXPECT_NE(error_of([&] { ref.forward(64, 1); }).find("token 64"), std::string::npos);
  EXPECT_EQ(ref.positions(), 1);  // errors left the cache as it was
  for (int pos = 1; pos < 8; ++pos) ref.forward(3, pos);
  EXPECT_NE(error_of([&] { ref.forward(3, 8); }).find("full"), std::string::npos);
  ref.reset();
  auto again = ref.forward(5, 0);
  EXPECT_EQ(std::memcmp(again.data(), l0.data(), l0.size() * sizeof(float)), 0);
}

TEST(ForwardErrors, RejectsBadCacheSizesAndMismatchedModels) {
  TinySpec spec;
  auto model = make_tiny_model(spec);
  EXPECT_NE(error_of([&] { LlamaReference r(*model, -1); }).find("max_positions"), std::string::npos);
  EXPECT_NE(error_of([&] { LlamaReference r(*model, spec.max_seq_len + 1); }).find("max_positions"), std::string::npos);
  EXPECT_EQ(LlamaReference(*model, 1).max_positions(), 1);

  auto wrong_shape = make_tiny_model(spec);
  wrong_shape->weights.layers[1].wk.shape = {spec.dim, spec.dim};
  EXPECT_NE(error_of([&] { LlamaReference r(*wrong_shape); }).find("layer 1 wk"), std::string::npos);

  auto missing = make_tiny_model(spec);
  missing->weights.final_norm = Tensor{};
  EXPECT_NE(error_of([&] { LlamaReference r(*missing); }).find("missing tensor final_norm"), std::string::npos);

  auto no_bias = make_tiny_model(spec);
  no_bias->config.attn_qkv_bias = true;  // the flag says bias, the model has none
  EXPECT_NE(error_of([&] { LlamaReference r(*no_bias); }).find("bq"), std::string::npos);

  TinySpec qwen3 = spec;
  qwen3.qk_norm = true;
  auto stray_norm = make_tiny_model(qwen3);
  stray_norm->config.qk_norm = false;  // q_norm present but the flag is off
  EXPECT_NE(error_of([&] { LlamaReference r(*stray_norm); }).find("q_norm"), std::string::npos);

  auto layers = make_tiny_model(spec);
  layers->weights.layers.pop_back();
  EXPECT_NE(error_of([&] { LlamaReference r(*layers); }).find("layers"), std::string::npos);
}

}  // namespace
}  // namespace verbatim

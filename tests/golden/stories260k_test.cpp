// Golden test on a real trained model (llama2.c's stories260K: GQA 8:4, tied embeddings, fp32): greedy decoding with
// the fp32 reference forward pass reproduces, byte for byte, the text llama2.c prints for
//   run stories260K.bin -z tok512.bin -t 0 -n 200
// and the GGUF copy of the same weights gives BITWISE the same logits at every position (and the same text through
// its embedded tokenizer). Skips when the shared files are absent.
//
// llama2.c's generate loop, mirrored here: token = BOS; for pos in [0, steps): logits = forward(token, pos);
// next = argmax(logits); stop if next == BOS (1); print decode(token, next); token = next. With -n 200 that is 200
// forward passes and up to 200 printed tokens (the expected file holds exactly that output, without the final "\n").
// The first printed token follows BOS, so its leading space is stripped (Tokenizer::decode's BOS-space rule).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/sampler.h"
#include "model/llama.h"
#include "model/model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/mapped_file.h"

namespace verbatim {
namespace {

constexpr int kSteps = 200;  // llama2.c's -n 200
constexpr int32_t kBos = 1;

struct GreedyRun {
  std::vector<int32_t> tokens;             // BOS, then the generated tokens
  std::vector<std::vector<float>> logits;  // [forward passes][vocab]
};

// llama2.c's loop with greedy sampling. If `forced` is given, those tokens are fed instead of the argmax (to compare
// two models position by position on the same sequence).
GreedyRun greedy(const Model& model, const std::vector<int32_t>* forced = nullptr) {
  LlamaReference forward(model, kSteps);
  SamplingParams params;
  params.temperature = 0.0f;
  GreedyRun run;
  run.tokens.push_back(kBos);
  for (int pos = 0; pos < kSteps; ++pos) {
    std::span<const float> logits = forward.forward(run.tokens.back(), pos);
    run.logits.emplace_back(logits.begin(), logits.end());
    int32_t next = 0;
    if (forced) {
      if (static_cast<size_t>(pos + 1) >= forced->size()) break;
      next = (*forced)[pos + 1];
    } else {
      next = sample(logits, params, static_cast<uint64_t>(pos)).token;
    }
    if (next == kBos) break;
    run.tokens.push_back(next);
  }
  return run;
}

std::string read_expected(const std::string& path) {
  MappedFile file(path);
  return std::string(reinterpret_cast<const char*>(file.data()), file.size());
}

TEST(GoldenStories260K, GreedyTextMatchesLlama2c) {
  VERBATIM_REQUIRE_SHARED(bin_path, "models/stories260K/stories260K.bin");
  VERBATIM_REQUIRE_SHARED(tok_path, "models/stories260K/tok512.bin");
  VERBATIM_REQUIRE_SHARED(expected_path, "models/stories260K/expected-greedy-199.txt");
  auto model = Model::load(bin_path);
  ASSERT_EQ(model->config.vocab_size, 512);
  ASSERT_EQ(model->config.n_kv_heads, 4);
  auto tokenizer = load_tokenizer(tok_path);

  const GreedyRun run = greedy(*model);
  EXPECT_EQ(run.logits.size(), static_cast<size_t>(kSteps));  // BOS never came up: all 200 steps ran
  const std::string text = tokenizer->decode(run.tokens);
  const std::string expected = read_expected(expected_path);
  EXPECT_EQ(text, expected);

  // Determinism across instances: a second run gives the same bits.
  const GreedyRun again = greedy(*model);
  ASSERT_EQ(again.logits.size(), run.logits.size());
  for (size_t pos = 0; pos < run.logits.size(); ++pos)
    ASSERT_EQ(std::memcmp(again.logits[pos].data(), run.logits[pos].data(), run.logits[pos].size() * sizeof(float)), 0)
        << "pos " << pos;
}

TEST(GoldenStories260K, GgufGivesBitwiseTheSameLogitsAndText) {
  VERBATIM_REQUIRE_SHARED(bin_path, "models/stories260K/stories260K.bin");
  VERBATIM_REQUIRE_SHARED(gguf_path, "models/stories260K/stories260K-f32.gguf");
  VERBATIM_REQUIRE_SHARED(expected_path, "models/stories260K/expected-greedy-199.txt");
  auto bin = Model::load(bin_path);
  auto gguf = Model::load(gguf_path);
  ASSERT_EQ(gguf->config.vocab_size, bin->config.vocab_size);

  const GreedyRun from_bin = greedy(*bin);
  const GreedyRun from_gguf = greedy(*gguf, &from_bin.tokens);  // the same sequence, position by position
  ASSERT_EQ(from_gguf.logits.size(), from_bin.logits.size());
  for (size_t pos = 0; pos < from_bin.logits.size(); ++pos) {
    ASSERT_EQ(from_gguf.logits[pos].size(), from_bin.logits[pos].size());
    ASSERT_EQ(std::memcmp(from_gguf.logits[pos].data(), from_bin.logits[pos].data(),
                          from_bin.logits[pos].size() * sizeof(float)),
              0)
        << "GGUF and llama2.c logits differ at pos " << pos;
  }

  // GGUF's own greedy run, decoded with the tokenizer embedded in the GGUF file.
  const GreedyRun own = greedy(*gguf);
  EXPECT_EQ(own.tokens, from_bin.tokens);
  auto tokenizer = load_tokenizer(gguf->tokenizer_path.empty() ? gguf_path : gguf->tokenizer_path);
  EXPECT_EQ(tokenizer->decode(own.tokens), read_expected(expected_path));
}

}  // namespace
}  // namespace verbatim

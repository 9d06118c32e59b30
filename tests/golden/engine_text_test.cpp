// The engine's text on a real model: streamed events concatenate to the final text, stop strings cut the text
// before their first occurrence (also when one spans several tokens), and the text without stops is llama2.c's.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "engine/engine.h"
#include "model/model.h"
#include "support/feeding_backend.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace verbatim {
namespace {

struct TextRun {
  RequestOutput out;
  std::string streamed;
};

// async: the engine's async scheduling through the feeding test backend (a stop string found while the next step
// already runs drops that step's row).
TextRun generate(const Model& model, const Tokenizer& tok, std::vector<std::string> stop, bool async) {
  EngineOptions o;
  o.num_blocks = 64;
  if (async) o.wrap_backend = testing::feeding_wrapper();
  Engine engine(model, &tok, o);
  RequestParams p;
  p.max_tokens = 200;
  p.sampling.temperature = 0;
  p.stop = std::move(stop);
  TextRun run;
  const uint64_t id = engine.submit({tok.bos_id()}, p, [&](const TokenEvent& ev) { run.streamed += ev.text; });
  engine.run_until_idle();
  run.out = *engine.take_output(id);
  return run;
}

TEST(EngineText, StopStringsAndStreamingOnStories260K) {
  VERBATIM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  VERBATIM_REQUIRE_SHARED(tokp, "models/stories260K/tok512.bin");
  VERBATIM_REQUIRE_SHARED(expected_path, "models/stories260K/expected-greedy-199.txt");
  std::ifstream in(expected_path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string expected = ss.str();
  auto model = Model::load(bin);
  auto tok = load_tokenizer(tokp);

  for (const bool async : {false, true}) {
    const TextRun plain = generate(*model, *tok, {}, async);
    EXPECT_EQ(plain.out.text, expected) << "async " << async;
    EXPECT_EQ(plain.streamed, expected) << "async " << async;
    EXPECT_EQ(plain.out.finish_reason, FinishReason::Length);

    for (const std::string stop : {"Lily", "park. One", "mom said", "\n", "zzz-not-there"}) {
      const TextRun r = generate(*model, *tok, {stop, "another-absent-stop"}, async);
      const size_t at = expected.find(stop);
      const std::string want = at == std::string::npos ? expected : expected.substr(0, at);
      EXPECT_EQ(r.out.text, want) << "stop " << stop << ", async " << async;
      EXPECT_EQ(r.streamed, want) << "stop " << stop << ", async " << async;
      EXPECT_EQ(r.out.finish_reason, at == std::string::npos ? FinishReason::Length : FinishReason::Stop);
      EXPECT_EQ(std::vector<int32_t>(plain.out.tokens.begin(), plain.out.tokens.begin() + r.out.tokens.size()),
                r.out.tokens);
    }
  }
}

}  // namespace
}  // namespace verbatim

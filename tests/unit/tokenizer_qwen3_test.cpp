// The Qwen3 tokenizer (HF tokenizer.json, byte-level BPE, 151k vocab): llama.cpp's golden cases, round trips,
// special tokens, and load time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer_test_util.h"
#include "util/error.h"

namespace verbatim {
namespace {

using testing::qwen3_tokenizer;

#define REQUIRE_QWEN3(tok)                                 \
  VERBATIM_REQUIRE_SHARED(qwen3_dir_, "tokenizers/qwen3"); \
  const Tokenizer* tok = qwen3_tokenizer();                \
  ASSERT_NE(tok, nullptr)

TEST(TokenizerQwen3, GoldenCasesMatchExactly) {
  VERBATIM_REQUIRE_SHARED(inp, "tokenizers/qwen3/cases.inp");
  VERBATIM_REQUIRE_SHARED(out, "tokenizers/qwen3/cases.out");
  REQUIRE_QWEN3(tok);
  const auto cases = testing::read_golden_cases(inp, out);
  ASSERT_EQ(cases.size(), 46u);
  EXPECT_EQ(cases[0].text, "ied 4 \xC2\xBD months");
  EXPECT_EQ(cases[2].text, "");
  EXPECT_EQ(cases[3].text, " ");
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> got = tok->encode(cases[i].text);
    EXPECT_EQ(got, cases[i].ids) << "case #" << i << ": '" << cases[i].text << "'";
    failures += got != cases[i].ids;
    EXPECT_EQ(tok->decode(got), cases[i].text) << "round trip of case #" << i;
  }
  EXPECT_EQ(failures, 0);
}

TEST(TokenizerQwen3, KnownIds) {
  REQUIRE_QWEN3(tok);
  EXPECT_EQ(tok->encode("Hello world"), (std::vector<int32_t>{9707, 1879}));
  EXPECT_EQ(tok->encode(" Hello world"), (std::vector<int32_t>{21927, 1879}));
  EXPECT_EQ(tok->vocab_size(), 151669);
  EXPECT_EQ(tok->find_piece("<|im_start|>"), 151644);
  EXPECT_EQ(tok->find_piece("Hello"), 9707);
  EXPECT_EQ(tok->find_piece("no such piece"), std::nullopt);
  EXPECT_EQ(tok->piece(9707), "Hello");
  EXPECT_EQ(tok->piece(21927), "\xC4\xA0Hello");  // "ĠHello"
  EXPECT_EQ(tok->token_bytes(21927), " Hello");
}

TEST(TokenizerQwen3, SpecialsFromConfig) {
  REQUIRE_QWEN3(tok);
  EXPECT_EQ(tok->bos_id(), -1);  // bos_token is null in tokenizer_config.json
  EXPECT_FALSE(tok->add_bos());
  ASSERT_FALSE(tok->eos_ids().empty());
  EXPECT_EQ(tok->eos_ids()[0], 151645);  // <|im_end|>
  EXPECT_TRUE(tok->is_control(151645));
  EXPECT_TRUE(tok->is_control(151643));
  EXPECT_FALSE(tok->is_control(9707));
  EXPECT_EQ(tok->token_bytes(151645), "");
  EXPECT_THROW(tok->token_bytes(tok->vocab_size()), Error);
  EXPECT_THROW(tok->token_bytes(-1), Error);
}

TEST(TokenizerQwen3, ParseSpecial) {
  REQUIRE_QWEN3(tok);
  const std::string text = "<|im_start|>user\nhi<|im_end|>";
  const std::vector<int32_t> with = tok->encode(text, true);
  ASSERT_GE(with.size(), 3u);
  EXPECT_EQ(with.front(), 151644);
  EXPECT_EQ(with.back(), 151645);
  const std::vector<int32_t> without = tok->encode(text, false);
  for (int32_t id : without) EXPECT_LT(id, 151643) << "special token matched without parse_special";
  EXPECT_EQ(tok->decode(without), text);
  // Non-special added tokens (<think>, <tool_call>) are matched even without parse_special, as in HF.
  const std::optional<int32_t> think = tok->find_piece("<think>");
  ASSERT_TRUE(think.has_value());
  EXPECT_FALSE(tok->is_control(*think));
  EXPECT_EQ(tok->encode("a<think>b", false), (std::vector<int32_t>{tok->encode("a")[0], *think, tok->encode("b")[0]}));
  EXPECT_EQ(tok->decode(tok->encode("a<think>b")), "a<think>b");
}

TEST(TokenizerQwen3, NfcNormalization) {
  REQUIRE_QWEN3(tok);
  // "e" + COMBINING ACUTE is normalized to the precomposed "é" before the model sees it.
  EXPECT_EQ(tok->encode("caf\x65\xCC\x81"), tok->encode("caf\xC3\xA9"));
}

TEST(TokenizerQwen3, InvalidUtf8NeverCrashesAndRoundTripsAsBytes) {
  REQUIRE_QWEN3(tok);
  const std::vector<std::string> texts = {"\xFF",
                                          "a\xC3",
                                          "\xE4\xB8",
                                          "ok \xF0\x9F\x98 end",
                                          "\x80\x80\x80 x",
                                          "\xED\xA0\x80 surrogate",
                                          std::string("nul\0byte", 8),
                                          "\xC0\xAF"};
  for (const std::string& t : texts) {
    const std::vector<int32_t> ids = tok->encode(t, true);
    std::string bytes;
    for (int32_t id : ids) bytes += tok->token_bytes(id);
    EXPECT_EQ(bytes, t);  // byte-level BPE keeps every byte
  }
}

TEST(TokenizerQwen3, LongInputsAreLinear) {
  REQUIRE_QWEN3(tok);
  std::string spaces(1000000, ' ');  // one regex attempt backtracks over the whole run: needs a scaled step limit
  spaces += 'x';
  std::string letters(200000, 'a');
  std::string mixed;
  for (int i = 0; i < 20000; ++i) mixed += "Hello, world! 12345 \xE4\xBD\xA0\xE5\xA5\xBD ";
  const auto t0 = std::chrono::steady_clock::now();
  const auto a = tok->encode(spaces);
  const auto b = tok->encode(letters);
  const auto c = tok->encode(mixed);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(tok->decode(a), spaces);
  EXPECT_EQ(tok->decode(b), letters);
  EXPECT_EQ(tok->decode(c), mixed);
#ifdef NDEBUG  // optimized builds only (sanitizer builds are ~20x slower)
  EXPECT_LT(s, 5.0) << "encoding ~2 MB took " << s << " s";
#else
  (void)s;
#endif
}

TEST(TokenizerQwen3, ConcurrentEncodeIsIdentical) {
  VERBATIM_REQUIRE_SHARED(inp, "tokenizers/qwen3/cases.inp");
  VERBATIM_REQUIRE_SHARED(out, "tokenizers/qwen3/cases.out");
  REQUIRE_QWEN3(tok);
  const auto cases = testing::read_golden_cases(inp, out);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = (t + round) % cases.size(), n = 0; n < cases.size(); ++n, i = (i + 1) % cases.size()) {
          if (tok->encode(cases[i].text) != cases[i].ids) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(TokenizerQwen3, LoadsQuickly) {
  VERBATIM_REQUIRE_SHARED(dir, "tokenizers/qwen3");
  const auto t0 = std::chrono::steady_clock::now();
  auto tok = load_tokenizer(dir);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(tok->vocab_size(), 151669);
#ifdef NDEBUG
  EXPECT_LT(s, 1.0) << "loading the 151k vocabulary took " << s << " s";
#else
  (void)s;
#endif
}

TEST(TokenizerQwen3, LoadsFromFileAndDirectoryAlike) {
  VERBATIM_REQUIRE_SHARED(file, "tokenizers/qwen3/tokenizer.json");
  REQUIRE_QWEN3(tok);
  auto from_file = load_tokenizer(file);
  const std::string text = "The quick brown fox, 1234 times! \xE4\xBD\xA0\xE5\xA5\xBD";
  EXPECT_EQ(from_file->encode(text), tok->encode(text));
  EXPECT_EQ(from_file->eos_ids(), tok->eos_ids());
}

}  // namespace
}  // namespace verbatim

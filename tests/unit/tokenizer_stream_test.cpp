// Tokenizer::decode and StreamDecoder: U+FFFD for invalid bytes, no partial UTF-8 characters ever emitted, and the
// concatenation of the stream equal to decode().
#include <gtest/gtest.h>

#include <random>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
#include "unit/tokenizer_test_util.h"

namespace verbatim {
namespace {

using Ids = std::vector<int32_t>;

TEST(Utf8, LossyUsesMaximalSubparts) {
  // As Rust's String::from_utf8_lossy (and so HF's decode): one U+FFFD per maximal invalid subpart.
  const std::string R = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8::to_valid_lossy("abc"), "abc");
  EXPECT_EQ(utf8::to_valid_lossy("\xFF"), R);
  EXPECT_EQ(utf8::to_valid_lossy("\xE4\xB8"), R);  // truncated 3-byte character: one replacement
  EXPECT_EQ(utf8::to_valid_lossy("\xE4\xB8x"), R + "x");
  EXPECT_EQ(utf8::to_valid_lossy("\x80\x80"), R + R);          // stray continuation bytes: one each
  EXPECT_EQ(utf8::to_valid_lossy("\xED\xA0\x80"), R + R + R);  // a surrogate: ED then two strays
  EXPECT_EQ(utf8::to_valid_lossy("\xF0\x9F\x98"), R);
  EXPECT_EQ(utf8::to_valid_lossy("\xC0\xAF"), R + R);                  // overlong
  EXPECT_EQ(utf8::to_valid_lossy("\xF4\x90\x80\x80"), R + R + R + R);  // beyond U+10FFFF
  EXPECT_EQ(utf8::decided_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(utf8::decided_prefix("ab\xF0\x9F\x98\x80"), 6u);
  EXPECT_EQ(utf8::decided_prefix("ab\xFF"), 3u);
}

// The single-byte tokens of the Qwen3 vocabulary (byte-level pieces), to split characters across tokens.
Ids byte_tokens(const Tokenizer& tok, const std::string& bytes) {
  Ids ids;
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    const uint32_t cp = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE) ? b : 0;
    std::string piece;
    if (cp != 0) {
      utf8::append(piece, cp);
    } else {  // bytes outside the printable ranges map to U+0100 + their rank
      uint32_t n = 0;
      for (uint32_t x = 0; x < b; ++x) {
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE)) ++n;
      }
      utf8::append(piece, 0x100 + n);
    }
    const auto id = tok.find_piece(piece);
    EXPECT_TRUE(id.has_value()) << "no single-byte token for " << int(b);
    if (id) ids.push_back(*id);
  }
  return ids;
}

TEST(StreamDecoder, HoldsBackPartialCharacters) {
  VERBATIM_REQUIRE_SHARED(dir, "tokenizers/qwen3");
  const Tokenizer* tok = testing::qwen3_tokenizer();
  ASSERT_NE(tok, nullptr);
  const std::string text =
      "a\xF0\x9F\x98\x80\xE6\xBC\xA2\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB!";  // a😀漢👩‍💻!
  const Ids ids = byte_tokens(*tok, text);
  ASSERT_EQ(ids.size(), text.size());
  StreamDecoder sd(*tok);
  std::vector<std::string> outs;
  for (int32_t id : ids) outs.push_back(sd.push(id));
  outs.push_back(sd.flush());
  EXPECT_EQ(outs[0], "a");
  EXPECT_EQ(outs[1], "");
  EXPECT_EQ(outs[2], "");
  EXPECT_EQ(outs[3], "");
  EXPECT_EQ(outs[4], "\xF0\x9F\x98\x80");
  EXPECT_EQ(outs[7], "\xE6\xBC\xA2");
  std::string all;
  for (const std::string& o : outs) {
    EXPECT_TRUE(utf8::is_valid(o)) << "partial character emitted";
    all += o;
  }
  EXPECT_EQ(all, text);
  EXPECT_EQ(all, tok->decode(ids));
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementAsSoonAsKnown) {
  VERBATIM_REQUIRE_SHARED(dir, "tokenizers/qwen3");
  const Tokenizer* tok = testing::qwen3_tokenizer();
  ASSERT_NE(tok, nullptr);
  const Ids ids = byte_tokens(*tok,
                              "\xFF"
                              "\xE4"
                              "a"
                              "\xE4\xB8");
  StreamDecoder sd(*tok);
  EXPECT_EQ(sd.push(ids[0]), "\xEF\xBF\xBD");  // 0xFF can never start a character
  EXPECT_EQ(sd.push(ids[1]), "");              // 0xE4 might
  EXPECT_EQ(sd.push(ids[2]),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(sd.push(ids[3]), "");
  EXPECT_EQ(sd.push(ids[4]), "");
  EXPECT_EQ(sd.flush(), "\xEF\xBF\xBD");  // a truncated character at the end: one replacement
  EXPECT_EQ(tok->decode(ids),
            "\xEF\xBF\xBD\xEF\xBF\xBD"
            "a\xEF\xBF\xBD");
}

TEST(StreamDecoder, RandomIdsConcatenateToDecode) {
  VERBATIM_REQUIRE_SHARED(dir, "tokenizers/qwen3");
  const Tokenizer* tok = testing::qwen3_tokenizer();
  ASSERT_NE(tok, nullptr);
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    Ids ids;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      // Mostly byte-level single bytes (to split characters), sometimes any token, control tokens included.
      if (rng() % 2) {
        ids.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(tok->vocab_size())));
      } else {
        const Ids b = byte_tokens(*tok, std::string(1, static_cast<char>(0x80 + rng() % 0x80)));
        ids.insert(ids.end(), b.begin(), b.end());
      }
    }
    StreamDecoder sd(*tok);
    std::string all;
    for (int32_t id : ids) {
      const std::string o = sd.push(id);
      EXPECT_TRUE(utf8::is_valid(o));
      all += o;
    }
    all += sd.flush();
    EXPECT_EQ(all, tok->decode(ids)) << "round " << round;
  }
}

TEST(StreamDecoder, BosSpaceRule) {
  VERBATIM_REQUIRE_SHARED(path, "models/stories260K/tok512.bin");
  auto tok = load_tokenizer(path);
  const Ids ids = tok->encode("Once upon a time");
  {
    StreamDecoder sd(*tok, /*prev=*/1);  // the prompt ended with BOS
    std::string all;
    for (int32_t id : ids) all += sd.push(id);
    all += sd.flush();
    EXPECT_EQ(all, "Once upon a time");
  }
  {
    StreamDecoder sd(*tok, /*prev=*/ids[0]);  // mid-text: the space stays
    std::string all;
    for (size_t i = 1; i < ids.size(); ++i) all += sd.push(ids[i]);
    EXPECT_EQ(all + sd.flush(), " upon a time");
  }
  {
    StreamDecoder sd(*tok);
    std::string all;
    for (int32_t id : Ids{1, 403, 2, 1, 407}) all += sd.push(id);  // BOS inside the stream too
    EXPECT_EQ(all + sd.flush(), "Onceupon");
    EXPECT_EQ(tok->decode(Ids{1, 403, 2, 1, 407}), "Onceupon");
  }
}

}  // namespace
}  // namespace verbatim

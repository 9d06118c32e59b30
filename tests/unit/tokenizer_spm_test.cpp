// SentencePiece-style BPE: the llama2.c tokenizer (tok512.bin) and the same vocabulary embedded in a GGUF file.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "formats/gguf.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace verbatim {
namespace {

using Ids = std::vector<int32_t>;

// Expected ids follow llama2.c's run.c `encode` on tok512.bin by hand: a dummy " " prefix, then the adjacent pair
// whose merged piece scores best is merged first (" t" -0, "he" -1, " a" -2, ...).
TEST(TokenizerSpm, Llama2cEncodeMatchesRunC) {
  VERBATIM_REQUIRE_SHARED(path, "models/stories260K/tok512.bin");
  auto tok = load_tokenizer(path);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_ids(), Ids{2});
  EXPECT_TRUE(tok->add_bos());
  EXPECT_TRUE(tok->strips_space_after_bos());
  EXPECT_EQ(tok->encode(""), Ids{});
  EXPECT_EQ(tok->encode("a"), Ids{261});  // " a"
  EXPECT_EQ(tok->encode("Once upon a time"), (Ids{403, 407, 261, 378}));
  EXPECT_EQ(tok->encode("Hello world"), (Ids{346, 306, 414, 263, 304, 341}));  // " He" "ll" "o" " w" "or" "ld"
  EXPECT_EQ(tok->encode("The little cat's toy, 12 balls!"),
            (Ids{291, 376, 280, 294, 439, 419, 267, 422, 432, 410, 475, 479, 268, 388, 419, 443}));
  EXPECT_EQ(tok->encode("  two  spaces"), (Ids{410, 410, 259, 424, 414, 410, 262, 427, 412, 331, 419}));
  // "é" is a piece; "漢" and "😀" are not: byte fallback to id = byte + 3.
  EXPECT_EQ(tok->encode("\xC3\xA9\xE6\xBC\xA2\xF0\x9F\x98\x80"),
            (Ids{410, 485, 0xE6 + 3, 0xBC + 3, 0xA2 + 3, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3}));
}

TEST(TokenizerSpm, Llama2cDecode) {
  VERBATIM_REQUIRE_SHARED(path, "models/stories260K/tok512.bin");
  auto tok = load_tokenizer(path);
  EXPECT_EQ(tok->token_bytes(403), " Once");
  EXPECT_EQ(tok->token_bytes(1), "");  // control tokens decode to nothing
  EXPECT_EQ(tok->token_bytes(2), "");
  EXPECT_EQ(tok->token_bytes(0xE6 + 3), "\xE6");
  EXPECT_TRUE(tok->is_control(1));
  EXPECT_FALSE(tok->is_control(403));
  const Ids ids{1, 403, 407, 261, 378};
  EXPECT_EQ(tok->decode(ids), "Once upon a time");  // the space after BOS is stripped
  EXPECT_EQ(tok->decode(Ids{403, 407}), " Once upon");
  for (const std::string text : {"Hello world", "The little cat's toy, 12 balls!", "\xC3\xA9\xE6\xBC\xA2 x"}) {
    Ids with_bos{1};
    for (int32_t id : tok->encode(text)) with_bos.push_back(id);
    EXPECT_EQ(tok->decode(with_bos), text);
  }
}

TEST(TokenizerSpm, GgufEmbeddedVocabAgreesWithLlama2c) {
  VERBATIM_REQUIRE_SHARED(bin, "models/stories260K/tok512.bin");
  VERBATIM_REQUIRE_SHARED(gguf_path, "models/stories260K/stories260K-f32.gguf");
  auto a = load_tokenizer(bin);
  auto b = load_tokenizer(gguf_path);
  ASSERT_EQ(b->vocab_size(), 512);
  EXPECT_EQ(b->bos_id(), 1);
  EXPECT_EQ(b->eos_ids(), Ids{2});
  EXPECT_TRUE(b->add_bos());
  EXPECT_EQ(b->piece(403), "\xE2\x96\x81Once");
  const std::vector<std::string> texts = {
      "Once upon a time, there was a little girl named Lily.",
      "She loved to play outside in the sunshine!",
      "  leading spaces and trailing  ",
      "Numbers 1234567890 and symbols #$%&*()[]{}",
      "Caf\xC3\xA9 na\xC3\xAFve \xE6\xBC\xA2\xE5\xAD\x97 \xF0\x9F\x98\x80 \xD0\x9F\xD1\x80\xD0\xB8",
      "line one\nline two\ttabbed",
      "",
      "a",
      " ",
  };
  for (const std::string& t : texts) {
    EXPECT_EQ(a->encode(t), b->encode(t)) << "'" << t << "'";
    Ids ids{1};
    for (int32_t id : b->encode(t)) ids.push_back(id);
    EXPECT_EQ(b->decode(ids), a->decode(ids)) << "'" << t << "'";
  }
  // <s> in the text is plain text unless parse_special.
  EXPECT_EQ(b->encode("<s>x", true).front(), 1);
  EXPECT_NE(b->encode("<s>x", false).front(), 1);
  EXPECT_EQ(b->encode("x</s>", true).back(), 2);
  for (int32_t id = 0; id < 512; ++id) EXPECT_EQ(a->token_bytes(id), b->token_bytes(id)) << "id " << id;
}

TEST(TokenizerSpm, GgufFileObjectWorksToo) {
  VERBATIM_REQUIRE_SHARED(gguf_path, "models/stories260K/stories260K-f32.gguf");
  gguf::File f(gguf_path);
  auto tok = tokenizer_from_gguf(f);
  EXPECT_EQ(tok->encode("Once upon a time"), (Ids{403, 407, 261, 378}));
}

TEST(TokenizerSpm, InvalidUtf8NeverCrashes) {
  VERBATIM_REQUIRE_SHARED(bin, "models/stories260K/tok512.bin");
  VERBATIM_REQUIRE_SHARED(gguf_path, "models/stories260K/stories260K-f32.gguf");
  for (const auto& tok : {load_tokenizer(bin), load_tokenizer(gguf_path)}) {
    for (const std::string t : {"\xFF\xFE", "ab\xC3", "\x80\x80\x80\x80\x80", "\xE4\xB8 x", "\xF0\x9F\x98"}) {
      const Ids ids = tok->encode(t, true);
      std::string bytes;
      for (int32_t id : ids) bytes += tok->token_bytes(id);
      EXPECT_EQ(bytes, " " + t);  // byte fallback keeps every byte (after the dummy prefix)
    }
  }
}

TEST(TokenizerSpm, TruncatedLlama2cFileIsAnError) {
  VERBATIM_REQUIRE_SHARED(bin, "models/stories260K/tok512.bin");
  const std::string dir = testing::temp_dir();
  std::string bytes;
  {
    std::ifstream in(bin, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  testing::write_file(dir + "/cut.bin", bytes.substr(0, bytes.size() - 3));
  try {
    load_tokenizer(dir + "/cut.bin");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.bin"), std::string::npos) << e.what();
  }
  testing::write_file(dir + "/small.bin", bytes.substr(0, 200));  // too few tokens for byte fallback
  EXPECT_THROW(load_tokenizer(dir + "/small.bin"), Error);
}

}  // namespace
}  // namespace verbatim

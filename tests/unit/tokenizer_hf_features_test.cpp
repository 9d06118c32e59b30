// HF pipeline features on small synthetic tokenizer.json files (normalizers, pre-tokenizers, split behaviours, BPE
// options, added-token flags, decoders, post-processor BOS). The expected ids and texts were produced by Hugging
// Face `tokenizers` itself: tools/gen_tokenizer_fixtures.py -> tests/fixtures/tokenizers/hf_features.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tokenizer/hf_components.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer_test_util.h"

namespace verbatim {
namespace {

using Ids = std::vector<int32_t>;

TEST(TokenizerHfFeatures, MatchHuggingFaceOnSyntheticTokenizers) {
  const std::string path = testing::fixtures_dir() + "/tokenizers/hf_features.json";
  const nlohmann::json fx = nlohmann::json::parse(testing::read_file(path));
  ASSERT_GE(fx["cases"].size(), 10u);
  size_t checked = 0;
  for (const auto& c : fx["cases"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    auto tok = tokenizer_from_hf_json(c["tokenizer"].dump(), "", name);
    for (const auto& e : c["encodings"]) {
      const std::string text = e["text"].get<std::string>();
      const bool parse_special = e["parse_special"].get<bool>();
      EXPECT_EQ(tok->encode(text, parse_special), e["ids"].get<Ids>())
          << "'" << text << "' parse_special=" << parse_special;
      ++checked;
      if (e.contains("decoded")) {
        const Ids ids = e["decode_ids"].get<Ids>();
        EXPECT_EQ(tok->decode(ids), e["decoded"].get<std::string>()) << "decode of '" << text << "'";
      }
    }
  }
  EXPECT_GE(checked, 200u);
}

TEST(TokenizerHfFeatures, PostProcessorBos) {
  const std::string path = testing::fixtures_dir() + "/tokenizers/hf_features.json";
  const nlohmann::json fx = nlohmann::json::parse(testing::read_file(path));
  for (const auto& c : fx["cases"]) {
    if (c["name"] != "llama2_style") continue;
    auto tok = tokenizer_from_hf_json(c["tokenizer"].dump(), "", "llama2_style");
    EXPECT_EQ(tok->bos_id(), 1);
    EXPECT_TRUE(tok->add_bos());
    EXPECT_TRUE(tok->strips_space_after_bos());
    EXPECT_TRUE(tok->is_control(1));
    EXPECT_EQ(tok->token_bytes(3 + 0xC3), "\xC3");  // <0xC3> decodes to its byte
    auto no_bos =
        tokenizer_from_hf_json(c["tokenizer"].dump(), R"({"add_bos_token": false, "eos_token": "</s>"})", "x");
    EXPECT_FALSE(no_bos->add_bos());
    EXPECT_EQ(no_bos->eos_ids(), Ids{2});
    return;
  }
  FAIL() << "llama2_style fixture missing";
}

hf::Pattern literal(const std::string& s, bool invert = false) {
  hf::Pattern p;
  p.literal = s;
  p.invert = invert;
  return p;
}

std::vector<std::string> split_strings(const std::string& text, const hf::Pattern& p, hf::Behavior b) {
  std::vector<std::pair<size_t, size_t>> parts;
  hf::split(text, p, b, parts);
  std::vector<std::string> out;
  for (auto [s, e] : parts) out.push_back(text.substr(s, e - s));
  return out;
}

TEST(TokenizerHfFeatures, SplitBehaviours) {
  using V = std::vector<std::string>;
  using B = hf::Behavior;
  // The examples of HF's SplitDelimiterBehavior documentation ("the-final--countdown", delimiter "-").
  const std::string t = "the-final--countdown";
  EXPECT_EQ(split_strings(t, literal("-"), B::Removed), (V{"the", "final", "countdown"}));
  EXPECT_EQ(split_strings(t, literal("-"), B::Isolated), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split_strings(t, literal("-"), B::MergedWithPrevious), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split_strings(t, literal("-"), B::MergedWithNext), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split_strings(t, literal("-"), B::Contiguous), (V{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(split_strings(t, literal("-", true), B::Removed), (V{"-", "-", "-"}));  // inverted: words removed
  // Regex splitting with empty matches and invalid UTF-8 between matches.
  hf::Pattern re;
  re.regex = std::make_shared<const Regex>(R"(\p{L}+)", "test");
  EXPECT_EQ(split_strings("ab\xFF"
                          "cd",
                          re, B::Isolated),
            (V{"ab", "\xFF", "cd"}));
  hf::Pattern empty;
  empty.regex = std::make_shared<const Regex>("x*", "test");
  EXPECT_EQ(split_strings("axxb", empty, B::Isolated), (V{"a", "xx", "b"}));
  // Empty matches between characters split "ab" into "a", "b"; invalid bytes are stepped over one at a time (a
  // start offset inside an invalid sequence is fine for PCRE2_MATCH_INVALID_UTF).
  EXPECT_EQ(split_strings("ab", empty, B::Isolated), (V{"a", "b"}));
  // HF tokenizers 0.23 (pre_tokenizers.Split(Regex("x*"), behavior).pre_tokenize_str):
  EXPECT_EQ(split_strings("xaxb", empty, B::Isolated), (V{"x", "a", "x", "b"}));
  EXPECT_EQ(split_strings("axxb", empty, B::Contiguous), (V{"a", "xx", "b"}));
  EXPECT_EQ(split_strings("axxb", empty, B::MergedWithPrevious), (V{"axx", "b"}));
  EXPECT_EQ(split_strings("xaxb", empty, B::MergedWithPrevious), (V{"x", "ax", "b"}));
  EXPECT_EQ(split_strings("axxb", empty, B::MergedWithNext), (V{"a", "xxb"}));
  EXPECT_EQ(split_strings("xaxb", empty, B::MergedWithNext), (V{"xa", "xb"}));
  EXPECT_EQ(split_strings("xaxb", empty, B::Removed), (V{"a", "b"}));
  EXPECT_EQ(split_strings("\xE4\xB8xa\xF0\x9F", empty, B::Isolated), (V{"\xE4", "\xB8", "x", "a", "\xF0", "\x9F"}));
}

TEST(TokenizerHfFeatures, Normalizers) {
  using K = hf::NormalizerStep::Kind;
  const auto run = [](K kind, const std::string& s) {
    hf::NormalizerStep st;
    st.kind = kind;
    return hf::normalize({st}, s);
  };
  EXPECT_EQ(run(K::NFC, "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(run(K::NFD, "\xC3\xA9"), "e\xCC\x81");
  EXPECT_EQ(run(K::NFKC, "\xEF\xBC\xA8\xE2\x84\x8E"), "Hh");  // fullwidth H, Planck constant h
  EXPECT_EQ(run(K::NFC,
                "a\xFF"
                "e\xCC\x81\xE4"),
            "a\xFF\xC3\xA9\xE4");  // invalid bytes kept, the rest normalized
  EXPECT_EQ(run(K::Lowercase, "\xC4\xB0STANBUL \xCE\xA3"), "i\xCC\x87stanbul \xCF\x83");
  EXPECT_EQ(run(K::StripAccents, "e\xCC\x81t\xC3\xA9"), "et\xC3\xA9");
}

}  // namespace
}  // namespace verbatim

// The synthetic byte-level BPE tokenizer: layout and real special ids, a valid merge table built from the seed,
// speed at Qwen's vocabulary size, and the written files loaded by the project's own tokenizer loader.
#include "model/synth_tokenizer.h"

#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace verbatim::synth {
namespace {

using nlohmann::json;

TEST(SynthTokenizer, ByteLevelMappingIsGpt2s) {
  EXPECT_EQ(byte_level_char(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(byte_level_char('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(byte_level_char(0), "\xC4\x80");     // Ā
  EXPECT_EQ(byte_level_char('a'), "a");
  EXPECT_EQ(byte_level_char(0xAD), "\xC5\x83");  // soft hyphen -> Ń (256 + 67)
  EXPECT_EQ(byte_level_char(0xFF), "\xC3\xBF");  // ÿ stands for itself
  std::set<std::string> all;
  for (int b = 0; b < 256; ++b) all.insert(byte_level_char(static_cast<uint8_t>(b)));
  EXPECT_EQ(all.size(), 256u);
}

TEST(SynthTokenizer, LayoutsUseTheRealSpecialIds) {
  const TokenizerLayout q = tokenizer_layout(TokenizerFamily::Qwen3, 151936, 151643);
  EXPECT_EQ(q.first_regular, 0);
  EXPECT_EQ(q.find_special("<|endoftext|>")->id, 151643);
  EXPECT_EQ(q.find_special("<|im_start|>")->id, 151644);
  EXPECT_EQ(q.find_special("<|im_end|>")->id, 151645);
  EXPECT_EQ(q.find_special("</think>")->id, 151668);
  EXPECT_FALSE(q.find_special("<think>")->special);
  EXPECT_EQ(q.eos_id, 151645);
  EXPECT_EQ(q.bos_id, -1);
  EXPECT_EQ(q.stop_ids, (std::vector<int32_t>{151645, 151643}));
  EXPECT_FALSE(q.add_bos);
  EXPECT_EQ(q.specials.back().id, 151935);

  const TokenizerLayout l3 = tokenizer_layout(TokenizerFamily::Llama3, 128256, 128000);
  EXPECT_EQ(l3.bos_id, 128000);
  EXPECT_EQ(l3.find_special("<|end_of_text|>")->id, 128001);
  EXPECT_EQ(l3.find_special("<|start_header_id|>")->id, 128006);
  EXPECT_EQ(l3.find_special("<|eot_id|>")->id, 128009);
  EXPECT_EQ(l3.find_special("<|reserved_special_token_247|>")->id, 128255);
  EXPECT_EQ(l3.stop_ids, (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_TRUE(l3.add_bos);

  const TokenizerLayout l2 = tokenizer_layout(TokenizerFamily::Llama2, 32000);
  EXPECT_EQ(l2.first_regular, 3);
  EXPECT_EQ(l2.n_regular, 31997);
  EXPECT_EQ(l2.bos_id, 1);
  EXPECT_EQ(l2.eos_id, 2);

  // Every id in [0, vocab) is either regular or exactly one special.
  for (const TokenizerLayout* l : {&q, &l3, &l2}) {
    std::set<int32_t> ids;
    for (const SpecialToken& s : l->specials) {
      EXPECT_TRUE(s.id < l->first_regular || s.id >= l->first_regular + l->n_regular) << s.content;
      ids.insert(s.id);
    }
    EXPECT_EQ(static_cast<int32_t>(ids.size()) + l->n_regular, l->vocab_size);
    EXPECT_EQ(*ids.rbegin() < l->vocab_size, true);
  }

  EXPECT_THROW(tokenizer_layout(TokenizerFamily::Qwen3, 200), Error);
  EXPECT_THROW(tokenizer_layout(TokenizerFamily::Qwen3, 4096, 4095), Error);  // no room for the specials
  EXPECT_THROW(tokenizer_layout(TokenizerFamily::Qwen3, 4096, 100), Error);
}

TEST(SynthTokenizer, MergesAreValidUniqueAndWordLike) {
  const BpeVocab v = synth_bpe_vocab(20000, 7);
  ASSERT_EQ(v.tokens.size(), 20000u);
  ASSERT_EQ(v.merges.size(), 20000u - 256u);
  std::set<std::string> seen(v.tokens.begin(), v.tokens.end());
  EXPECT_EQ(seen.size(), v.tokens.size()) << "duplicate tokens";
  for (int i = 0; i < 256; ++i) EXPECT_EQ(v.tokens[i].size(), 1u);
  size_t wordlike = 0, total_len = 0;
  for (size_t i = 256; i < v.tokens.size(); ++i) {
    const auto [a, b] = v.merges[i - 256];
    ASSERT_LT(a, static_cast<int32_t>(i));
    ASSERT_LT(b, static_cast<int32_t>(i));
    ASSERT_EQ(v.tokens[i], v.tokens[a] + v.tokens[b]);
    const std::string& t = v.tokens[i];
    total_len += t.size();
    bool letters = true;
    for (size_t k = (t[0] == ' ' ? 1 : 0); k < t.size(); ++k)
      letters &= std::isalpha(static_cast<unsigned char>(t[k])) != 0;
    wordlike += letters;
  }
  EXPECT_GT(wordlike, (v.tokens.size() - 256) * 9 / 10);
  const double mean_len = static_cast<double>(total_len) / static_cast<double>(v.tokens.size() - 256);
  EXPECT_GT(mean_len, 3.0);
  EXPECT_LT(mean_len, 9.0);

  const BpeVocab again = synth_bpe_vocab(20000, 7);
  EXPECT_EQ(again.tokens, v.tokens);
  EXPECT_EQ(again.merges, v.merges);
  EXPECT_NE(synth_bpe_vocab(20000, 8).tokens, v.tokens);
}

TEST(SynthTokenizer, QwenSizedVocabularyIsFast) {
  const TokenizerLayout l = tokenizer_layout(TokenizerFamily::Qwen3, 151936, 151643);
  // CPU time, not wall time: the bound must hold on a loaded machine.
  const std::clock_t start = std::clock();
  const SynthTokenizerFiles f = make_synth_tokenizer(l, 1, 40960);
  const double s = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  RecordProperty("seconds", std::to_string(s));
  EXPECT_LT(s, 3.0) << "151k tokens took " << s << " s";
  const json j = json::parse(f.tokenizer_json);
  EXPECT_EQ(j["model"]["vocab"].size(), 151643u);
  EXPECT_EQ(j["model"]["merges"].size(), 151643u - 256u);
  EXPECT_EQ(j["added_tokens"].size(), 151936u - 151643u);
}

struct Case {
  TokenizerFamily family;
  int32_t vocab;
  int32_t regular;
};

class SynthTokenizerLoads : public ::testing::TestWithParam<Case> {};

TEST_P(SynthTokenizerLoads, ByTheProjectsLoaderAndRoundTrips) {
  const Case c = GetParam();
  const TokenizerLayout l = tokenizer_layout(c.family, c.vocab, c.regular);
  const SynthTokenizerFiles f = make_synth_tokenizer(l, 3, 4096);
  auto tok = tokenizer_from_hf_json(f.tokenizer_json, f.tokenizer_config_json, "synth tokenizer.json");
  ASSERT_EQ(tok->vocab_size(), c.vocab);
  EXPECT_EQ(tok->bos_id(), l.bos_id);
  EXPECT_EQ(tok->add_bos(), l.add_bos);
  ASSERT_FALSE(tok->eos_ids().empty());
  EXPECT_EQ(tok->eos_ids()[0], l.eos_id);
  for (const SpecialToken& s : l.specials) {
    EXPECT_EQ(tok->find_piece(s.content), s.id) << s.content;
    EXPECT_EQ(tok->piece(s.id), s.content);
  }
  EXPECT_EQ(tok->piece(l.first_regular + 'a' - '!'), "a");  // byte tokens in GPT-2 order: '!' first

  const std::string texts[] = {
      "Hello world, this is a test of the synthetic tokenizer.",
      "  leading spaces\n\nnew lines\ttabs and digits 12345 -- punctuation?!",
      "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80 mixed UTF-8",
  };
  for (const std::string& text : texts) {
    const std::vector<int32_t> ids = tok->encode(text);
    EXPECT_EQ(tok->decode(ids), text);
    EXPECT_LT(ids.size(), text.size()) << "merges should compress ordinary text";
    for (int32_t id : ids) EXPECT_TRUE(id >= l.first_regular && id < l.first_regular + l.n_regular);
  }
  // Special tokens written literally become their ids only with parse_special.
  const SpecialToken& eos =
      *std::find_if(l.specials.begin(), l.specials.end(), [&](const SpecialToken& s) { return s.id == l.eos_id; });
  const std::vector<int32_t> with = tok->encode("hi" + eos.content, true);
  ASSERT_FALSE(with.empty());
  EXPECT_EQ(with.back(), l.eos_id);
  const std::vector<int32_t> without = tok->encode("hi" + eos.content, false);
  EXPECT_EQ(std::count(without.begin(), without.end(), l.eos_id), 0);
}

INSTANTIATE_TEST_SUITE_P(Families, SynthTokenizerLoads,
                         ::testing::Values(Case{TokenizerFamily::Qwen3, 4096, 0}, Case{TokenizerFamily::Qwen2, 4096, 0},
                                           Case{TokenizerFamily::Llama3, 4096, 0},
                                           Case{TokenizerFamily::Llama2, 32000, 0},
                                           Case{TokenizerFamily::Qwen3, 151936, 151643}));

}  // namespace
}  // namespace verbatim::synth

// GGUF `gpt2` vocabularies: the Qwen3 vocabulary written as GGUF metadata must tokenize exactly like its
// tokenizer.json (the same BPE core, the pre-tokenizer picked by tokenizer.ggml.pre).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer_gguf_writer.h"
#include "unit/tokenizer_test_util.h"
#include "util/error.h"

namespace verbatim {
namespace {

using Ids = std::vector<int32_t>;

struct QwenVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
};

const QwenVocab* qwen_vocab() {
  static const QwenVocab* v = []() -> const QwenVocab* {
    const std::string path = testing::shared_file("tokenizers/qwen3/tokenizer.json");
    if (path.empty()) return nullptr;
    const nlohmann::json j = nlohmann::json::parse(testing::read_file(path));
    auto* out = new QwenVocab;
    std::map<int64_t, std::pair<std::string, int32_t>> by_id;
    for (auto it = j["model"]["vocab"].begin(); it != j["model"]["vocab"].end(); ++it) {
      by_id[it->get<int64_t>()] = {it.key(), 1};
    }
    for (const auto& t : j["added_tokens"]) {
      by_id[t["id"].get<int64_t>()] = {t["content"].get<std::string>(), t["special"].get<bool>() ? 3 : 4};
    }
    for (const auto& [id, entry] : by_id) {
      EXPECT_EQ(id, static_cast<int64_t>(out->tokens.size()));
      out->tokens.push_back(entry.first);
      out->types.push_back(entry.second);
    }
    for (const auto& m : j["model"]["merges"]) {
      out->merges.push_back(m.is_string() ? m.get<std::string>()
                                          : m[0].get<std::string>() + " " + m[1].get<std::string>());
    }
    return out;
  }();
  return v;
}

std::string write_gguf(const QwenVocab& v, const std::string& pre) {
  testing::GgufWriter w;
  w.str("general.architecture", "qwen3");
  w.str("tokenizer.ggml.model", "gpt2");
  if (!pre.empty()) w.str("tokenizer.ggml.pre", pre);
  w.strings("tokenizer.ggml.tokens", v.tokens);
  w.int32s("tokenizer.ggml.token_type", v.types);
  w.strings("tokenizer.ggml.merges", v.merges);
  w.u32("tokenizer.ggml.eos_token_id", 151645);
  w.u32("tokenizer.ggml.padding_token_id", 151643);
  w.u32("tokenizer.ggml.bos_token_id", 151643);
  w.boolean("tokenizer.ggml.add_bos_token", false);
  const std::string path = testing::temp_dir() + "/vocab-" + (pre.empty() ? "none" : pre) + ".gguf";
  testing::write_file(path, w.bytes());
  return path;
}

TEST(TokenizerGguf, Qwen2PreMatchesTokenizerJsonOnGoldenCases) {
  VERBATIM_REQUIRE_SHARED(inp, "tokenizers/qwen3/cases.inp");
  VERBATIM_REQUIRE_SHARED(out, "tokenizers/qwen3/cases.out");
  const QwenVocab* v = qwen_vocab();
  ASSERT_NE(v, nullptr);
  auto tok = load_tokenizer(write_gguf(*v, "qwen2"));
  const Tokenizer* ref = testing::qwen3_tokenizer();
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(tok->vocab_size(), ref->vocab_size());
  EXPECT_EQ(tok->eos_ids(), Ids{151645});
  EXPECT_EQ(tok->bos_id(), 151643);
  EXPECT_FALSE(tok->add_bos());
  for (const auto& c : testing::read_golden_cases(inp, out)) {
    EXPECT_EQ(tok->encode(c.text), c.ids) << "'" << c.text << "'";
    EXPECT_EQ(tok->decode(c.ids), c.text);
  }
  const std::string chat = "<|im_start|>user\nHi <think>x</think><|im_end|>";
  EXPECT_EQ(tok->encode(chat, true), ref->encode(chat, true));
  EXPECT_EQ(tok->encode(chat, false), ref->encode(chat, false));
  EXPECT_EQ(tok->encode("e\xCC\x81"), ref->encode("e\xCC\x81"));  // NFC like the HF tokenizer
  for (int32_t id : {0, 9707, 21927, 151643, 151645, 151667}) {
    EXPECT_EQ(tok->token_bytes(id), ref->token_bytes(id)) << id;
    EXPECT_EQ(tok->is_control(id), ref->is_control(id)) << id;
  }
}

TEST(TokenizerGguf, OtherPreTokenizers) {
  const QwenVocab* v = qwen_vocab();
  if (v == nullptr) GTEST_SKIP() << "shared test data absent: tokenizers/qwen3";
  const Tokenizer* ref = testing::qwen3_tokenizer();
  for (const std::string pre : {"llama-bpe", "gpt-2", "smollm", "default", ""}) {
    auto tok = load_tokenizer(write_gguf(*v, pre));
    EXPECT_EQ(tok->encode("Hello world"), ref->encode("Hello world")) << pre;
    const std::string text = "It's 2024: price $1,234.56 -- naïve café, 東京 \t\n done";
    EXPECT_EQ(tok->decode(tok->encode(text)), text) << pre;
  }
  // The pre-tokenizer really follows tokenizer.ggml.pre: GPT-2's regex isolates each newline before a letter
  // (`\s+(?!\S)` then `\s+`), Qwen2's `\s*[\r\n]+` keeps "\n\n" whole.
  auto gpt2 = load_tokenizer(write_gguf(*v, "gpt-2"));
  const int32_t nl = *ref->find_piece("\xC4\x8A"), nlnl = *ref->find_piece("\xC4\x8A\xC4\x8A");  // "Ċ", "ĊĊ"
  EXPECT_EQ(gpt2->encode("a\n\nb"), (Ids{64, nl, nl, 65}));
  EXPECT_EQ(ref->encode("a\n\nb"), (Ids{64, nlnl, 65}));
  // SmolLM isolates every digit first, so " 12" cannot become " 1" + "2": the space stands alone.
  auto smollm = load_tokenizer(write_gguf(*v, "smollm"));
  const int32_t space = *ref->find_piece("\xC4\xA0"), one = *ref->find_piece("1"), two = *ref->find_piece("2");
  EXPECT_EQ(smollm->encode("x 12"), (Ids{87, space, one, two}));
  auto llama3 = load_tokenizer(write_gguf(*v, "llama-bpe"));
  EXPECT_FALSE(llama3->add_bos());  // add_bos_token=false in the file wins over llama-bpe's default
}

TEST(TokenizerGguf, UnknownPreTokenizerIsAnError) {
  const QwenVocab* v = qwen_vocab();
  if (v == nullptr) GTEST_SKIP() << "shared test data absent: tokenizers/qwen3";
  const std::string path = write_gguf(*v, "no-such-pre");
  try {
    load_tokenizer(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("no-such-pre"), std::string::npos) << msg;
  }
}

TEST(TokenizerGguf, MalformedVocabularies) {
  const std::string dir = testing::temp_dir();
  const auto expect_error = [&](const testing::GgufWriter& w, const std::string& needle) {
    const std::string path = dir + "/bad.gguf";
    testing::write_file(path, w.bytes());
    try {
      load_tokenizer(path);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  {
    testing::GgufWriter w;
    w.str("general.architecture", "llama");
    expect_error(w, "tokenizer.ggml.model");
  }
  {
    testing::GgufWriter w;
    w.str("tokenizer.ggml.model", "bert");
    w.strings("tokenizer.ggml.tokens", {"a"});
    expect_error(w, "bert");
  }
  {
    testing::GgufWriter w;
    w.str("tokenizer.ggml.model", "gpt2");
    w.strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
    expect_error(w, "tokenizer.ggml.merges");
  }
  {
    testing::GgufWriter w;
    w.str("tokenizer.ggml.model", "gpt2");
    w.strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
    w.strings("tokenizer.ggml.merges", {"a c"});
    expect_error(w, "'c'");
  }
  {
    testing::GgufWriter w;
    w.str("tokenizer.ggml.model", "llama");
    w.strings("tokenizer.ggml.tokens", {"a", "b"});
    w.floats("tokenizer.ggml.scores", {0.0f});
    expect_error(w, "scores");
  }
  {
    testing::GgufWriter w;
    w.str("tokenizer.ggml.model", "llama");
    w.strings("tokenizer.ggml.tokens", {"a", "b"});
    w.int32s("tokenizer.ggml.token_type", {1, 9});
    expect_error(w, "token_type");
  }
}

}  // namespace
}  // namespace verbatim

// Malformed tokenizer files give one clear Error naming the file and the problem; they never crash.
#include <gtest/gtest.h>

#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace verbatim {
namespace {

// A valid minimal tokenizer.json with `model` spliced in.
std::string with_model(const std::string& model, const std::string& extra = "") {
  return R"({"version":"1.0",)" + extra + R"("model":)" + model + "}";
}

const std::string kGoodModel = R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]})";

// Writes `json` as <tmp>/tokenizer.json, loads it, and checks the Error names the file and contains `needle`.
void expect_error(const std::string& json, const std::string& needle) {
  const std::string path = testing::temp_dir() + "/tokenizer.json";
  testing::write_file(path, json);
  try {
    load_tokenizer(path);
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "' for " << json.substr(0, 200);
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << "the message does not name the file: " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
  }
}

TEST(TokenizerErrors, GoodMinimalFileLoads) {
  const std::string path = testing::temp_dir() + "/tokenizer.json";
  testing::write_file(path, with_model(kGoodModel));
  auto tok = load_tokenizer(path);
  EXPECT_EQ(tok->encode("ab"), (std::vector<int32_t>{2}));
  EXPECT_EQ(tok->encode("aab"), (std::vector<int32_t>{0, 2}));
}

TEST(TokenizerErrors, InvalidJson) {
  expect_error("{\"model\": {", "invalid JSON");
  expect_error("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0,}}}", "invalid JSON");
  expect_error("{\"model\": \"\xFF\xFE\"}", "invalid JSON");  // JSON must be UTF-8
  expect_error("{ \"a\": 1 } trailing", "invalid JSON");
}

TEST(TokenizerErrors, StructuralProblems) {
  expect_error(R"({"version":"1.0"})", "model");
  expect_error("{   }", "model");
  expect_error(with_model(R"({"type":"Unigram","vocab":[["a",0.0]]})"), "Unigram");
  expect_error(with_model(R"({"type":"WordPiece","vocab":{"a":0}})"), "WordPiece");
  expect_error(with_model(R"({"type":"BPE","merges":[]})"), "model.vocab");
  expect_error(with_model(R"({"type":"BPE","vocab":[],"merges":[]})"), "model.vocab");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":"zero"},"merges":[]})"), "'a'");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":-1},"merges":[]})"), "out of range");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":99999999999},"merges":[]})"), "out of range");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0,"b":4000000},"merges":[]})"), "too sparse");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":1.5},"merges":[]})"), "not an integer");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0},"merges":{}})"), "model.merges");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0},"merges":[7]})"), "model.merges[0]");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0},"merges":["ab"]})"), "model.merges[0]");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0},"merges":[["a"]]})"), "model.merges[0]");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0},"merges":[["a","b","c"]]})"), "model.merges[0]");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0},"merges":[["a",["b"]]]})"), "model.merges[0]");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0,"b":1},"byte_fallback":"yes"})"), "byte_fallback");
}

TEST(TokenizerErrors, MergesWithUnknownTokens) {
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b","a c"]})"), "'c'");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]})"), "'ab'");
  expect_error(with_model(R"({"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["x","b"]]})"), "merge #0");
}

TEST(TokenizerErrors, BadPipelineComponents) {
  expect_error(with_model(kGoodModel,
                          R"("pre_tokenizer":{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"},)"),
               "regex");
  expect_error(
      with_model(kGoodModel, R"("pre_tokenizer":{"type":"Split","pattern":{"Regex":"a"},"behavior":"Sideways"},)"),
      "Sideways");
  expect_error(with_model(kGoodModel, R"("pre_tokenizer":{"type":"Split","pattern":{"Glob":"a"}},)"), "pattern");
  expect_error(with_model(kGoodModel, R"("pre_tokenizer":{"type":"Magic"},)"), "Magic");
  expect_error(with_model(kGoodModel, R"("normalizer":{"type":"Precompiled","precompiled_charsmap":"AA=="},)"),
               "Precompiled");
  expect_error(with_model(kGoodModel, R"("normalizer":{"type":"Replace","pattern":{"Regex":"[z-a]"},"content":""},)"),
               "regex");
  expect_error(with_model(kGoodModel, R"("decoder":{"type":"WordPiece"},)"), "WordPiece");
  expect_error(with_model(kGoodModel, R"("normalizer":[1,2],)"), "normalizer");
  std::string deep = R"({"type":"NFC"})";
  for (int i = 0; i < 40; ++i) deep = R"({"type":"Sequence","normalizers":[)" + deep + "]}";
  expect_error(with_model(kGoodModel, R"("normalizer":)" + deep + ","), "nested too deeply");
}

TEST(TokenizerErrors, BadAddedTokens) {
  expect_error(with_model(kGoodModel, R"("added_tokens":[{"content":"<x>","id":-4}],)"), "added_tokens[0]");
  expect_error(with_model(kGoodModel, R"("added_tokens":[{"content":"<x>"}],)"), "id");
  expect_error(with_model(kGoodModel, R"("added_tokens":[{"content":"<x>","id":3000000}],)"), "3000000");
  expect_error(with_model(kGoodModel, R"("added_tokens":{"content":"<x>"},)"), "added_tokens");
  expect_error(with_model(kGoodModel, R"("added_tokens":[{"content":"<x>","id":5,"special":"yes"}],)"), "special");
}

TEST(TokenizerErrors, BadTokenizerConfig) {
  const std::string dir = testing::temp_dir();
  testing::write_file(dir + "/tokenizer.json", with_model(kGoodModel));
  testing::write_file(dir + "/tokenizer_config.json", R"({"bos_token": "<s>"})");
  try {
    load_tokenizer(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tokenizer_config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("<s>"), std::string::npos) << msg;
  }
  testing::write_file(dir + "/tokenizer_config.json", "{ not json");
  EXPECT_THROW(load_tokenizer(dir), Error);
  testing::write_file(dir + "/tokenizer_config.json", R"({"bos_token": {"content": "a"}, "eos_token": "b",
                                                          "add_bos_token": true})");
  auto tok = load_tokenizer(dir);
  EXPECT_EQ(tok->bos_id(), 0);
  EXPECT_EQ(tok->eos_ids(), (std::vector<int32_t>{1}));
  EXPECT_TRUE(tok->add_bos());
}

TEST(TokenizerErrors, BadPaths) {
  const std::string dir = testing::temp_dir();
  try {
    load_tokenizer(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_tokenizer(dir + "/missing.json"), Error);
  testing::write_file(dir + "/empty.bin", "");
  EXPECT_THROW(load_tokenizer(dir + "/empty.bin"), Error);
  testing::write_file(dir + "/trunc.gguf", "GGUF\x03\x00");
  EXPECT_THROW(load_tokenizer(dir + "/trunc.gguf"), Error);
  testing::write_file(dir + "/garbage.bin", std::string("\x05\x00\x00\x00\x00\x00\x80\x3f\xff\xff\xff\x7f", 12));
  EXPECT_THROW(load_tokenizer(dir + "/garbage.bin"), Error);
}

TEST(TokenizerErrors, FromJsonTextNamesTheGivenSource) {
  try {
    tokenizer_from_hf_json("[]", "", "my-source.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("my-source.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace verbatim

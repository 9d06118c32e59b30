// Helpers shared by the tokenizer tests: the Qwen3 golden cases and a cache of loaded tokenizers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace verbatim::testing {

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
};

// Parses llama.cpp-style vocab tests: inputs separated by lines "__ggml_vocab_test__" (each input is the text
// between separator lines, without the newline before the separator), one line of ids per input.
std::vector<GoldenCase> read_golden_cases(const std::string& inp_path, const std::string& out_path);

// The Qwen3 tokenizer from the shared folder, loaded once per test binary (nullptr when the data is absent).
const Tokenizer* qwen3_tokenizer();

std::string read_file(const std::string& path);

}  // namespace verbatim::testing

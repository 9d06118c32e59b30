// Reads a tokenizer.json: a DOM for everything but model.vocab and model.merges, which are streamed (SAX) straight
// into vectors. Building a DOM of a 151k-entry vocabulary and merge list would cost most of the load time.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace verbatim::hf {

struct TokenizerJson {
  nlohmann::json root;  // model.vocab / model.merges are left empty here when they were streamed
  bool vocab_streamed = false;
  std::vector<std::pair<std::string, int64_t>> vocab;  // in file order
  bool merges_streamed = false;
  std::vector<std::pair<std::string, std::string>> merges;
};

// Throws Error("<where>: ...") on invalid JSON or a malformed vocab/merges entry.
TokenizerJson read_tokenizer_json(std::string_view text, const std::string& where);

}  // namespace verbatim::hf

// Added tokens (special and user-defined) split out of the text before the model sees it, with the semantics of
// HF tokenizers' AddedVocabulary: leftmost-longest matching, special tokens skipped (treated as text) unless
// parse_special, and the single_word / lstrip / rstrip flags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace verbatim {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;  // matched against the normalized text (HF), else against the raw text
};

class AddedTokenMatcher {
 public:
  // Tokens with empty content are ignored.
  void build(const std::vector<AddedToken>& tokens);
  bool empty() const { return tokens_.empty(); }

  struct Segment {
    size_t begin, end;
    int32_t id;  // -1: plain text
  };
  // Splits `text` into plain-text and added-token segments covering it in order (plain segments may be empty only
  // when the whole text is). Text may hold invalid UTF-8.
  void split(std::string_view text, bool parse_special, std::vector<Segment>& out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t token = -1;                             // index into tokens_ when a token ends here
  };
  int32_t child(int32_t node, uint8_t b) const;
  // Longest token starting at `pos`: its index and length, or -1.
  int32_t longest_at(std::string_view text, size_t pos, size_t* len) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
};

}  // namespace verbatim

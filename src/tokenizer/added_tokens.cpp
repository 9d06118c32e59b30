#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/unicode_props.h"
#include "tokenizer/utf8.h"

namespace verbatim {

void AddedTokenMatcher::build(const std::vector<AddedToken>& tokens) {
  tokens_.clear();
  nodes_.assign(1, Node{});
  std::fill(std::begin(first_byte_), std::end(first_byte_), false);
  for (const AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    int32_t node = 0;
    for (char c : t.content) {
      const auto b = static_cast<uint8_t>(c);
      int32_t next = child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        auto& edges = nodes_[node].next;
        edges.insert(std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{-1})), {b, next});
        nodes_.emplace_back();
      }
      node = next;
    }
    if (nodes_[node].token >= 0) continue;  // same content twice: the first one wins
    nodes_[node].token = static_cast<int32_t>(tokens_.size());
    first_byte_[static_cast<uint8_t>(t.content[0])] = true;
    tokens_.push_back(t);
  }
}

int32_t AddedTokenMatcher::child(int32_t node, uint8_t b) const {
  const auto& edges = nodes_[node].next;
  auto it = std::lower_bound(edges.begin(), edges.end(), std::make_pair(b, int32_t{-1}));
  return it != edges.end() && it->first == b ? it->second : -1;
}

int32_t AddedTokenMatcher::longest_at(std::string_view text, size_t pos, size_t* len) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      *len = i + 1 - pos;
    }
  }
  return best;
}

namespace {

// HF: `\w$` / `^\w` (Rust regex Unicode word characters) and `\s` (Unicode White_Space).
bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = s.size() - 1;
  while (i > 0 && s.size() - i < 4 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
  const size_t n = utf8::valid_len(s, i);
  return n != 0 && i + n == s.size() && unicode::is_word(utf8::decode(s, i, n));
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  const size_t n = utf8::valid_len(s, 0);
  return n != 0 && unicode::is_word(utf8::decode(s, 0, n));
}

// Start of the run of whitespace that ends `s` (s.size() when none).
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t i = end - 1;
    while (i > 0 && end - i < 4 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
    const size_t n = utf8::valid_len(s, i);
    if (n == 0 || i + n != end || !unicode::is_whitespace(utf8::decode(s, i, n))) break;
    end = i;
  }
  return end;
}

// Length of the run of whitespace that starts `s`.
size_t leading_space_len(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = utf8::valid_len(s, i);
    if (n == 0 || !unicode::is_whitespace(utf8::decode(s, i, n))) break;
    i += n;
  }
  return i;
}

}  // namespace

void AddedTokenMatcher::split(std::string_view text, bool parse_special, std::vector<Segment>& out) const {
  const size_t first_out = out.size();
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < text.size() && !tokens_.empty()) {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t len = 0;
    const int32_t t = longest_at(text, pos, &len);
    if (t < 0) {
      ++pos;
      continue;
    }
    const AddedToken& tok = tokens_[t];
    size_t start = pos, stop = pos + len;
    pos = stop;  // matching resumes after the match even when it is skipped (Aho-Corasick find_iter)
    if (tok.special && !parse_special) continue;
    if (start < start_offset) continue;  // overlaps what a previous rstrip took (HF would panic here)
    if (tok.single_word) {
      const bool start_space = start == 0 || !ends_with_word(text.substr(0, start));
      const bool stop_space = stop == text.size() || !starts_with_word(text.substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
    if (tok.rstrip) stop += leading_space_len(text.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset < text.size() || out.size() == first_out) out.push_back({start_offset, text.size(), -1});
}

}  // namespace verbatim

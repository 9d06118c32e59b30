#include "tokenizer/hf_pattern.h"

#include <algorithm>

#include "tokenizer/unicode_props.h"
#include "tokenizer/utf8.h"

namespace verbatim::hf {

namespace {

bool in_class(CharClass cls, uint32_t cp) {
  return cls == CharClass::Numeric ? unicode::is_numeric(cp) : unicode::is_whitespace(cp);
}

}  // namespace

void Pattern::find_matches(std::string_view text, std::vector<Piece>& out) const {
  const size_t first = out.size();
  if (text.empty()) {
    out.push_back({0, 0, false});
  } else if (cls != CharClass::None) {
    size_t last = 0;
    for (size_t i = 0; i < text.size();) {
      const size_t n = utf8::valid_len(text, i);
      const size_t len = n == 0 ? 1 : n;
      if (n != 0 && in_class(cls, utf8::decode(text, i, n))) {
        if (last < i) out.push_back({last, i, false});
        out.push_back({i, i + len, true});
        last = i + len;
      }
      i += len;
    }
    if (last < text.size()) out.push_back({last, text.size(), false});
  } else {
    std::vector<std::pair<size_t, size_t>> matches;
    if (regex) {
      regex->find_all(text, matches);
    } else if (!literal.empty()) {
      for (size_t at = text.find(literal); at != std::string_view::npos; at = text.find(literal, at + literal.size())) {
        matches.emplace_back(at, at + literal.size());
      }
    }
    size_t prev = 0;
    for (auto [s, e] : matches) {
      if (prev != s) out.push_back({prev, s, false});
      out.push_back({s, e, true});
      prev = e;
    }
    if (prev != text.size()) out.push_back({prev, text.size(), false});
  }
  if (invert) {
    for (size_t i = first; i < out.size(); ++i) out[i].is_match = !out[i].is_match;
  }
}

void split(std::string_view text, const Pattern& pattern, Behavior behavior,
           std::vector<std::pair<size_t, size_t>>& out) {
  std::vector<Piece> m;
  pattern.find_matches(text, m);
  struct Part {
    size_t begin, end;
    bool remove;
  };
  std::vector<Part> parts;
  parts.reserve(m.size());
  bool previous_match = false;
  switch (behavior) {
    case Behavior::Isolated:
      for (const Piece& p : m) parts.push_back({p.begin, p.end, false});
      break;
    case Behavior::Removed:
      for (const Piece& p : m) parts.push_back({p.begin, p.end, p.is_match});
      break;
    case Behavior::Contiguous:
      for (const Piece& p : m) {
        if (p.is_match == previous_match && !parts.empty()) {
          parts.back().end = p.end;
        } else {
          parts.push_back({p.begin, p.end, false});
        }
        previous_match = p.is_match;
      }
      break;
    case Behavior::MergedWithPrevious:
      for (const Piece& p : m) {
        if (p.is_match && !previous_match && !parts.empty()) {
          parts.back().end = p.end;
        } else {
          parts.push_back({p.begin, p.end, false});
        }
        previous_match = p.is_match;
      }
      break;
    case Behavior::MergedWithNext:
      for (size_t k = m.size(); k-- > 0;) {
        const Piece& p = m[k];
        if (p.is_match && !previous_match && !parts.empty()) {
          parts.back().begin = p.begin;
        } else {
          parts.push_back({p.begin, p.end, false});
        }
        previous_match = p.is_match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
  }
  for (const Part& p : parts) {
    if (!p.remove && p.end > p.begin) out.emplace_back(p.begin, p.end);
  }
}

std::string replace(std::string_view text, const Pattern& pattern, std::string_view content) {
  std::vector<Piece> m;
  pattern.find_matches(text, m);
  std::string out;
  out.reserve(text.size());
  for (const Piece& p : m) {
    if (p.is_match) {
      out.append(content);
    } else {
      out.append(text.substr(p.begin, p.end - p.begin));
    }
  }
  return out;
}

}  // namespace verbatim::hf

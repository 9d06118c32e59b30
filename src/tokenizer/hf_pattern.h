// Patterns of HF tokenizers' normalizers, pre-tokenizers and decoders (a literal string, a regex, or a character
// predicate) and NormalizedString::split's delimiter behaviours, on byte strings that may hold invalid UTF-8.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace verbatim::hf {

struct Piece {
  size_t begin, end;
  bool is_match;
};

enum class CharClass : uint8_t { None, Numeric, Whitespace };

struct Pattern {
  std::string literal;                 // used when regex is null and cls is None
  std::shared_ptr<const Regex> regex;  // a Regex pattern
  CharClass cls = CharClass::None;     // every character of the class is a separate match
  bool invert = false;

  // Pieces covering `text` in order, each flagged as a match or not (HF Pattern::find_matches, then Invert).
  void find_matches(std::string_view text, std::vector<Piece>& out) const;
};

enum class Behavior : uint8_t { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Splits `text` with `pattern` and `behavior`; appends the [begin, end) ranges of the non-empty parts kept.
void split(std::string_view text, const Pattern& pattern, Behavior behavior,
           std::vector<std::pair<size_t, size_t>>& out);

// Replaces every match of `pattern` in `text` by `content`.
std::string replace(std::string_view text, const Pattern& pattern, std::string_view content);

}  // namespace verbatim::hf

// UTF-8 helpers for the tokenizers: strict validation (no overlongs, surrogates or code points past U+10FFFF),
// lossy conversion with U+FFFD per "maximal subpart" (the policy of Rust's String::from_utf8_lossy, which HF
// tokenizers uses), and the split between complete and still-incomplete bytes that streaming decoding needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace verbatim::utf8 {

enum class Status : uint8_t { Valid, Invalid, Incomplete };

struct Sequence {
  Status status;
  size_t len;  // Valid: the character's length. Invalid: the maximal subpart to replace (>= 1). Incomplete: bytes left.
};

// Classifies the bytes at s[i] (i < s.size()).
Sequence classify(std::string_view s, size_t i);

// Length of the valid character at s[i], or 0 when the bytes there are not a complete valid character.
inline size_t valid_len(std::string_view s, size_t i) {
  const Sequence q = classify(s, i);
  return q.status == Status::Valid ? q.len : 0;
}

// The code point of the valid character of length `len` at s[i].
uint32_t decode(std::string_view s, size_t i, size_t len);

// Appends the UTF-8 encoding of `cp` (cp <= 0x10FFFF).
void append(std::string& out, uint32_t cp);

// Length in bytes of a "character" for splitting text that may be invalid: a valid character's length, else 1.
inline size_t char_len(std::string_view s, size_t i) {
  const size_t n = valid_len(s, i);
  return n == 0 ? 1 : n;
}

bool is_valid(std::string_view s);

// Replaces every maximal invalid subpart (and a truncated character at the end) by U+FFFD.
std::string to_valid_lossy(std::string_view s);

// Length of the longest prefix of `s` whose lossy conversion is already decided: everything except a trailing
// incomplete (but so far valid) character.
size_t decided_prefix(std::string_view s);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

}  // namespace verbatim::utf8

// Unicode character properties and normalization forms (through ICU) in the exact flavours HF tokenizers uses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace verbatim::unicode {

bool is_whitespace(uint32_t cp);  // White_Space (Rust char::is_whitespace, regex \s)
bool is_word(uint32_t cp);        // Rust regex \w: Alphabetic, marks, decimal digits, connector punctuation, joiners
bool is_numeric(uint32_t cp);     // Rust char::is_numeric: general categories Nd, Nl, No
bool is_mark(uint32_t cp);        // general categories Mn, Mc, Me (combining marks)

enum class Form { NFC, NFD, NFKC, NFKD };
// Normalizes `s`; maximal runs of invalid UTF-8 are kept as they are (normalization stops at them).
std::string normalize(std::string_view s, Form form);

// Rust char::to_lowercase applied to each character (full lowercase mapping, no context), invalid bytes kept.
std::string lowercase(std::string_view s);

}  // namespace verbatim::unicode

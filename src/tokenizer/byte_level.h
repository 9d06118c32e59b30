// GPT-2's byte-level alphabet: every byte maps to one printable code point (printable Latin-1 bytes to themselves,
// the others to U+0100..U+0143), so that any byte string becomes a string of "characters" a BPE vocabulary covers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace verbatim::byte_level {

// The code point byte `b` stands for.
uint32_t byte_to_cp(uint8_t b);
// The byte code point `cp` stands for, or -1 when `cp` is not in the alphabet.
int cp_to_byte(uint32_t cp);

// Appends the byte-level characters (UTF-8) of `bytes` to `out`.
void encode(std::string_view bytes, std::string& out);
// The bytes a byte-level piece stands for. When a character of `piece` is outside the alphabet, the piece's own
// UTF-8 bytes are returned unchanged (what HF's ByteLevel decoder does).
std::string decode(std::string_view piece);

}  // namespace verbatim::byte_level

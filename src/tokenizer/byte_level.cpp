#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace verbatim::byte_level {
namespace {

struct Tables {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 324> to_byte{};  // every code point of the alphabet is below 0x144
  std::array<std::string, 256> utf8;
  Tables() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
      utf8::append(utf8[b], to_cp[b]);
    }
  }
};

const Tables& tables() {
  static const Tables t;  // immutable after construction (thread-safe static init)
  return t;
}

}  // namespace

uint32_t byte_to_cp(uint8_t b) {
  return tables().to_cp[b];
}

int cp_to_byte(uint32_t cp) {
  return cp < 324 ? tables().to_byte[cp] : -1;
}

void encode(std::string_view bytes, std::string& out) {
  const Tables& t = tables();
  for (char c : bytes) out += t.utf8[static_cast<uint8_t>(c)];
}

std::string decode(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    const size_t n = utf8::valid_len(piece, i);
    const int b = n == 0 ? -1 : cp_to_byte(utf8::decode(piece, i, n));
    if (b < 0) return std::string(piece);
    out.push_back(static_cast<char>(b));
    i += n;
  }
  return out;
}

}  // namespace verbatim::byte_level

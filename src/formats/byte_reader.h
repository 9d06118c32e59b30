// Bounds-checked little-endian reading of untrusted bytes, and overflow-checked size arithmetic. Every failure throws
// verbatim::Error naming the file; nothing here reads past the end of the span.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "util/error.h"

namespace verbatim::formats {

static_assert(std::endian::native == std::endian::little, "the file parsers assume a little-endian host");

// a * b and a + b, or nullopt-style false on overflow.
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}
inline bool add_ok(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return bytes_.size(); }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  const std::string& name() const { return name_; }

  // Throws "truncated" when fewer than n bytes are left.
  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail(name_, "truncated: " + what + " needs " + std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                      ", but the file has " + std::to_string(bytes_.size()) + " bytes");
  }

  template <class T>
  T read(const std::string& what) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(uint64_t n, const std::string& what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }

  void skip(uint64_t n, const std::string& what) {
    need(n, what);
    pos_ += n;
  }

 private:
  std::span<const uint8_t> bytes_;
  std::string name_;
  uint64_t pos_ = 0;
};

}  // namespace verbatim::formats

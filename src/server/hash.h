// A small non-cryptographic 64-bit hash of bytes, written for the system fingerprint: fast enough to hash gigabytes
// of weights at start-up (four independent multiply-rotate lanes per 32-byte stripe, so the CPU overlaps them), and
// deterministic: the same bytes give the same value on every machine and build (little-endian loads, fixed order).
//
// hash_bytes_parallel() splits large inputs into fixed-size chunks hashed on several threads and then hashes the
// sequence of chunk hashes in order: the value depends on the bytes and the chunk size only, never on the thread
// count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace verbatim::server {

uint64_t hash64(std::span<const uint8_t> bytes, uint64_t seed = 0);
inline uint64_t hash64(std::string_view s, uint64_t seed = 0) {
  return hash64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()), seed);
}

constexpr size_t kHashChunkBytes = size_t{4} << 20;

// The hash of `bytes` in chunks of kHashChunkBytes on up to `threads` threads (0: the hardware's count).
uint64_t hash_bytes_parallel(std::span<const uint8_t> bytes, int threads = 0);

std::string hex64(uint64_t v);  // 16 lowercase hex digits

}  // namespace verbatim::server

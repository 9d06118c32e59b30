#include "server/hash.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <thread>
#include <vector>

namespace verbatim::server {
namespace {

constexpr uint64_t kP1 = 0x9e3779b185ebca87ULL;  // odd constants with well-mixed bits
constexpr uint64_t kP2 = 0xc2b2ae3d27d4eb4fULL;
constexpr uint64_t kP3 = 0x165667b19e3779f9ULL;
constexpr uint64_t kP4 = 0x85ebca77c2b2ae63ULL;

inline uint64_t rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

inline uint64_t load64(const uint8_t* p) {  // little-endian whatever the host
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

inline uint64_t lane(uint64_t acc, uint64_t word) {
  acc ^= word * kP2;
  acc = rotl(acc, 29);
  return acc * kP1;
}

// Final avalanche: every input bit affects every output bit.
inline uint64_t finalize(uint64_t h) {
  h ^= h >> 31;
  h *= kP3;
  h ^= h >> 29;
  h *= kP4;
  h ^= h >> 32;
  return h;
}

}  // namespace

uint64_t hash64(std::span<const uint8_t> bytes, uint64_t seed) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  uint64_t a = seed + kP1, b = seed ^ kP2, c = seed + kP3, d = seed ^ kP4;
  while (n >= 32) {
    a = lane(a, load64(p));
    b = lane(b, load64(p + 8));
    c = lane(c, load64(p + 16));
    d = lane(d, load64(p + 24));
    p += 32;
    n -= 32;
  }
  uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
  h = lane(h, a) ^ lane(h, b) ^ lane(h, c) ^ lane(h, d);
  h += static_cast<uint64_t>(bytes.size()) * kP3;
  while (n >= 8) {
    h = lane(h, load64(p));
    p += 8;
    n -= 8;
  }
  uint8_t tail[8] = {0};
  std::memcpy(tail, p, n);
  h = lane(h, load64(tail) ^ (static_cast<uint64_t>(n) << 56));
  return finalize(h);
}

uint64_t hash_bytes_parallel(std::span<const uint8_t> bytes, int threads) {
  const size_t chunks = (bytes.size() + kHashChunkBytes - 1) / kHashChunkBytes;
  if (chunks <= 1) return hash64(bytes, 1);
  std::vector<uint64_t> digest(chunks);
  const int hw = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t workers = std::min<size_t>(static_cast<size_t>(hw), chunks);
  auto work = [&](size_t w) {
    for (size_t i = w; i < chunks; i += workers) {  // chunk i's hash lands in digest[i] whichever thread ran it
      const size_t begin = i * kHashChunkBytes;
      digest[i] = hash64(bytes.subspan(begin, std::min(kHashChunkBytes, bytes.size() - begin)), 1);
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (std::thread& t : pool) t.join();
  std::vector<uint8_t> joined(chunks * 8 + 8);
  for (size_t i = 0; i <= chunks; ++i) {
    const uint64_t v = i < chunks ? digest[i] : static_cast<uint64_t>(bytes.size());
    for (int k = 0; k < 8; ++k) joined[i * 8 + k] = static_cast<uint8_t>(v >> (8 * k));
  }
  return hash64(joined, 2);
}

std::string hex64(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
  return s;
}

}  // namespace verbatim::server

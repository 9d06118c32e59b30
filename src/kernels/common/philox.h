// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"): a counter-based generator. The
// engine keys it by (seed, the request's own token index), so a seeded request draws the same numbers whatever else
// shares its batch. Header-only and usable from host and device code.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define VERBATIM_HD __host__ __device__
#else
#define VERBATIM_HD
#endif

namespace verbatim {

struct Philox4 {
  uint32_t v[4];
};

VERBATIM_HD inline Philox4 philox4x32_10(uint64_t key, uint64_t counter_hi, uint64_t counter_lo) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n1 = static_cast<uint32_t>(p1);
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    uint32_t n3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// A uniform double in [0, 1) with 53 random bits, from (seed, index, stream).
VERBATIM_HD inline double philox_uniform(uint64_t seed, uint64_t index, uint64_t stream = 0) {
  Philox4 r = philox4x32_10(seed, stream, index);
  uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace verbatim

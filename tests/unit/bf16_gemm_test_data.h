// Test data shared by the tests of the two GEMMs on bf16 operands (kernels/cpu/gemm_bf16dot.h, gemm_amx.h): 64-byte
// aligned buffers, and a random bf16 weight (signed zeros sprinkled in) packed by gemm_bf16dot_pack, the layout both
// kernels read.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "kernels/cpu/gemm_bf16dot.h"
#include "util/half.h"

namespace verbatim::kernels::cpu::test_data {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Mem = std::unique_ptr<void, FreeDeleter>;

inline Mem aligned(size_t bytes) {
  return Mem(std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64));
}

struct TestWeight {
  int64_t n, k;
  std::vector<uint16_t> w;  // [n, k] bf16
  Mem packed;
  TestWeight(int64_t n_, int64_t k_, std::mt19937_64& rng) : n(n_), k(k_), w(static_cast<size_t>(n_ * k_)) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (uint16_t& v : w) v = f32_to_bf16(d(rng));
    for (size_t i = 0; i < w.size(); i += 11) w[i] = (i % 2) ? 0x8000 : 0;  // signed zeros
    packed = aligned(gemm_bf16dot_packed_bytes(n, k));
    gemm_bf16dot_pack(w.data(), DType::BF16, packed.get(), {.n = n, .k = k, .threads = 2});
  }
};

}  // namespace verbatim::kernels::cpu::test_data

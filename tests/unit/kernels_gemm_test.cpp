// The invariant GEMM (kernels/cpu/gemm.h) against the reference matmul (kernels/cpu/matmul.h). Tolerance: none. The
// kernel accumulates every output in the reference's order (acc = fma(x, w, acc), t increasing), so its results are
// asserted BITWISE equal to the reference: for every dtype, shapes with ragged panels (n % 32 != 0) and any k, any m
// (a row alone or inside 2 .. 64 rows), 1/2/3 threads, and every path this CPU runs (AVX-512, AVX2, scalar; a path
// the CPU lacks is reported and skipped).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/matmul.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

uint16_t f32_to_f16_truncate(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int exp = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | ((bits >> 13) & 0x3ffu));
}

// A weight [n, k] stored as `dtype`, with its packed form.
struct TestWeight {
  DType dtype;
  int64_t n, k;
  std::vector<uint16_t> half;  // F16/BF16 storage
  std::vector<float> full;     // F32 storage, or the exact f32 value of each half
  std::unique_ptr<void, FreeDeleter> packed;

  TestWeight(DType d, int64_t n_, int64_t k_, uint64_t seed) : dtype(d), n(n_), k(k_) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    full.resize(static_cast<size_t>(n * k));
    for (float& v : full) v = dist(rng);
    if (d != DType::F32) {
      half.resize(full.size());
      for (size_t i = 0; i < full.size(); ++i) {
        half[i] = d == DType::BF16 ? f32_to_bf16(full[i]) : f32_to_f16_truncate(full[i]);
        full[i] = d == DType::BF16 ? bf16_to_f32(half[i]) : f16_to_f32(half[i]);
      }
    }
    packed.reset(std::aligned_alloc(64, (gemm_packed_bytes(d, n, k) + 63) / 64 * 64));
    gemm_pack(data(), d, packed.get(), {.n = n, .k = k, .threads = 2});
  }
  const void* data() const { return dtype == DType::F32 ? static_cast<const void*>(full.data()) : half.data(); }
};

std::vector<float> random_x(int64_t m, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = dist(rng);
  // Some exact zeros and negative zeros, whose products must sum as the reference sums them.
  for (size_t i = 0; i < x.size(); i += 7) x[i] = (i % 2) ? -0.0f : 0.0f;
  return x;
}

std::vector<float> run_gemm(const std::vector<float>& x, const TestWeight& w, int64_t m, int threads,
                            GemmIsa isa = GemmIsa::Auto) {
  std::vector<float> y(static_cast<size_t>(m * w.n), -1.0f);
  gemm(x.data(), w.packed.get(), w.dtype, y.data(), {.m = m, .n = w.n, .k = w.k, .threads = threads, .isa = isa});
  return y;
}

const char* isa_name(GemmIsa isa) {
  return isa == GemmIsa::Avx512 ? "avx512" : isa == GemmIsa::Avx2 ? "avx2" : isa == GemmIsa::Scalar ? "scalar" : "auto";
}

// The paths this CPU runs, every one of them.
std::vector<GemmIsa> available_isas() {
  std::vector<GemmIsa> out;
  for (GemmIsa isa : {GemmIsa::Avx512, GemmIsa::Avx2, GemmIsa::Scalar}) {
    if (gemm_isa_available(isa)) {
      out.push_back(isa);
    } else {
      std::printf("gemm path %s: not on this CPU, not tested here\n", isa_name(isa));
    }
  }
  return out;
}

std::vector<float> run_reference(const std::vector<float>& x, const TestWeight& w, int64_t m) {
  std::vector<float> y(static_cast<size_t>(m * w.n));
  matmul(x.data(), w.data(), w.dtype, y.data(), {.m = m, .n = w.n, .k = w.k});
  return y;
}

bool same_bits(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

const DType kDtypes[] = {DType::F32, DType::BF16, DType::F16};
const int64_t kShapes[][2] = {{1, 1},   {16, 8},   {17, 33},  {31, 100}, {100, 7},
                              {48, 64}, {130, 67}, {64, 129}, {200, 40}, {33, 5}};
const int64_t kRows[] = {1, 2, 3, 7, 16, 33, 64};

TEST(KernelsGemm, ReportsItsPath) {
  for (DType d : kDtypes) std::printf("gemm path for %s: %s\n", dtype_name(d), gemm_path(d));
}

TEST(KernelsGemm, BitwiseEqualToReferenceForEveryShapeRowCountAndPath) {
  uint64_t seed = 100;
  for (DType d : kDtypes) {
    for (const auto& s : kShapes) {
      const TestWeight w(d, s[0], s[1], ++seed);
      for (int64_t m : kRows) {
        const std::vector<float> x = random_x(m, w.k, ++seed);
        const std::vector<float> want = run_reference(x, w, m);
        for (GemmIsa isa : available_isas()) {
          const std::vector<float> got = run_gemm(x, w, m, 1, isa);
          ASSERT_TRUE(same_bits(got.data(), want.data(), want.size()))
              << dtype_name(d) << " n " << w.n << " k " << w.k << " m " << m << " " << isa_name(isa);
        }
      }
    }
  }
}

TEST(KernelsGemm, RowAloneEqualsRowInsideAnyBatch) {
  uint64_t seed = 200;
  for (DType d : kDtypes) {
    const TestWeight w(d, 77, 45, ++seed);  // ragged panels, k not a multiple of 8
    const int64_t max_m = 64;
    const std::vector<float> x = random_x(max_m, w.k, ++seed);
    // Every row on its own (m = 1).
    std::vector<std::vector<float>> alone(max_m);
    for (int64_t r = 0; r < max_m; ++r) {
      const std::vector<float> xr(x.begin() + r * w.k, x.begin() + (r + 1) * w.k);
      alone[r] = run_gemm(xr, w, 1, 1);
    }
    for (int64_t m : kRows) {
      for (int threads : {1, 2, 3}) {
        for (GemmIsa isa : available_isas()) {
          const std::vector<float> y = run_gemm(x, w, m, threads, isa);  // the first m rows of x
          for (int64_t r = 0; r < m; ++r)
            ASSERT_TRUE(same_bits(y.data() + r * w.n, alone[r].data(), w.n))
                << dtype_name(d) << " row " << r << " of m " << m << " threads " << threads << " " << isa_name(isa);
        }
      }
    }
  }
}

TEST(KernelsGemm, ThreadCountNeverChangesBits) {
  uint64_t seed = 300;
  for (DType d : kDtypes) {
    for (int64_t m : {1, 5, 50, 97}) {
      const TestWeight w(d, 300, 96, ++seed);  // several column blocks
      const std::vector<float> x = random_x(m, w.k, ++seed);
      const std::vector<float> one = run_gemm(x, w, m, 1);
      for (int threads : {2, 3, 4})
        ASSERT_TRUE(same_bits(run_gemm(x, w, m, threads).data(), one.data(), one.size()))
            << dtype_name(d) << " m " << m << " threads " << threads;
    }
  }
}

TEST(KernelsGemm, HalfWeightsEqualPreconvertedF32) {
  uint64_t seed = 400;
  for (DType d : {DType::BF16, DType::F16}) {
    const TestWeight half(d, 40, 50, ++seed);
    // The same values stored as f32.
    TestWeight full(DType::F32, 1, 1, 0);
    full.n = half.n;
    full.k = half.k;
    full.full = half.full;
    full.packed.reset(std::aligned_alloc(64, (gemm_packed_bytes(DType::F32, full.n, full.k) + 63) / 64 * 64));
    gemm_pack(full.full.data(), DType::F32, full.packed.get(), {.n = full.n, .k = full.k});
    const std::vector<float> x = random_x(9, half.k, ++seed);
    const std::vector<float> a = run_gemm(x, half, 9, 2), b = run_gemm(x, full, 9, 2);
    EXPECT_TRUE(same_bits(a.data(), b.data(), a.size())) << dtype_name(d);
  }
}

TEST(KernelsGemm, PackedBytesAndEmptyBatch) {
  EXPECT_EQ(gemm_packed_bytes(DType::F32, 32, 3), 32u * 3 * 4);
  EXPECT_EQ(gemm_packed_bytes(DType::BF16, 33, 3), 64u * 3 * 2);  // two panels, the second padded
  const TestWeight w(DType::F32, 5, 5, 1);
  const std::vector<float> x(5, 1.0f);
  std::vector<float> y(5, 42.0f);
  gemm(x.data(), w.packed.get(), DType::F32, y.data(), {.m = 0, .n = 5, .k = 5});
  EXPECT_EQ(y[0], 42.0f);  // m = 0 writes nothing
}

// The contract is a FUSED multiply-add per step: with acc = -round(a * a), fma(a, a, acc) is a * a's rounding error
// (2^-24 for a = 1 + 2^-12), where a rounded multiply then add would give 0. Every path and the reference agree.
TEST(KernelsGemm, EachStepIsOneFusedMultiplyAdd) {
  const float a = 1.0f + std::ldexp(1.0f, -12);
  const float r = a * a;              // rounded: 1 + 2^-11
  TestWeight w(DType::F32, 3, 2, 1);  // every column's weights: (1, a); x: (-r, a)
  for (int64_t j = 0; j < w.n; ++j) {
    w.full[j * 2] = 1.0f;
    w.full[j * 2 + 1] = a;
  }
  gemm_pack(w.full.data(), DType::F32, w.packed.get(), {.n = w.n, .k = w.k});
  const std::vector<float> x = {-r, a};
  const float want = std::ldexp(1.0f, -24);
  ASSERT_NE(want, 0.0f);
  for (float v : run_reference(x, w, 1)) EXPECT_EQ(v, want) << "reference";
  for (GemmIsa isa : available_isas()) {
    for (float v : run_gemm(x, w, 1, 1, isa)) EXPECT_EQ(v, want) << isa_name(isa);
  }
}

// Model-sized weights, where the work split has many items per thread, the AVX-512 path walks panel groups with
// several row tiles each and prefetches its weight stream ahead (only matrices of more than 16 KiB of packed weights
// past a panel do): llama2-110m's k = 768 with a ragged n, and a tall k. Bitwise the reference for the step sizes of
// batched decode (1, 4, 16, 20 = tiles 7 + 7 + 6, 64 = a 48-row and a 16-row item), 1 and 2 threads, every path.
TEST(KernelsGemm, ModelSizedWeightsEqualReferenceForDecodeBatches) {
  uint64_t seed = 500;
  for (DType d : {DType::BF16, DType::F32}) {
    for (const auto& s : {std::array<int64_t, 2>{1000, 768}, std::array<int64_t, 2>{160, 2048}}) {
      const TestWeight w(d, s[0], s[1], ++seed);
      const std::vector<float> x = random_x(64, w.k, ++seed);
      const std::vector<float> want = run_reference(x, w, 64);
      for (int64_t m : {1, 4, 16, 20, 64}) {
        for (int threads : {1, 2}) {
          for (GemmIsa isa : available_isas()) {
            const std::vector<float> got = run_gemm(x, w, m, threads, isa);  // the first m rows of x
            ASSERT_TRUE(same_bits(got.data(), want.data(), got.size()))
                << dtype_name(d) << " n " << w.n << " k " << w.k << " m " << m << " threads " << threads << " "
                << isa_name(isa);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace verbatim::kernels::cpu

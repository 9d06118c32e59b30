// The bf16-dot GEMM (kernels/cpu/gemm_bf16dot.h). Tolerance: none. Its scalar definition (bf16dot_step, the
// reference gemm_bf16dot_reference) is first checked against the CPU's own vdpbf16ps instruction, bit for bit, on
// random operands of every magnitude (denormals, overflow and cancellation included); then the kernel is asserted
// BITWISE equal to the reference for ragged shapes (n % 32 != 0, odd k), every row count 1 .. 70 and 1/2/3 threads,
// and a row's bits are asserted the same alone and inside any batch. Inputs are fresh random numbers each run; the
// seed is printed (VERBATIM_TEST_SEED reproduces a run). On a CPU without AVX512_BF16 the kernel tests skip, saying
// so, and only the reference and the packing are tested.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "bf16_gemm_test_data.h"
#include "kernels/cpu/gemm_bf16dot.h"
#include "support/test_support.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

using verbatim::testing::test_seed;

#define REQUIRE_BF16DOT()                                                                              \
  do {                                                                                                 \
    if (!gemm_bf16dot_available())                                                                     \
      GTEST_SKIP() << "this CPU has no AVX512_BF16: the bf16-dot kernel cannot run here (not tested)"; \
  } while (0)

using test_data::aligned;
using test_data::Mem;
using test_data::TestWeight;

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// A random bf16 with an exponent within `spread` of 1.0 (spread 254: any finite value, denormals included).
uint16_t random_bf16(std::mt19937_64& rng, int spread) {
  const uint32_t sign = rng() & 1u;
  const int e = 127 + static_cast<int>(rng() % static_cast<uint64_t>(spread + 1)) - spread / 2;
  const uint32_t exp = static_cast<uint32_t>(std::clamp(e, 0, 254));
  return static_cast<uint16_t>((sign << 15) | (exp << 7) | (rng() & 0x7fu));
}

std::vector<float> random_x(int64_t m, int64_t k, std::mt19937_64& rng) {
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = d(rng);
  // Values that round to the even neighbour, or up, and some exact zeros.
  for (size_t i = 3; i < x.size(); i += 13) x[i] = bf16_to_f32(0x3f81) + std::ldexp(1.0f, -8 - 16);  // a tie
  for (size_t i = 5; i < x.size(); i += 17) x[i] = (i % 2) ? -0.0f : 0.0f;
  return x;
}

std::vector<float> run(const std::vector<float>& x, const TestWeight& w, int64_t m, int threads) {
  std::vector<float> y(static_cast<size_t>(m * w.n), -1.0f);
  Mem scratch = aligned(gemm_bf16dot_scratch_bytes(m, w.k));
  gemm_bf16dot(x.data(), w.packed.get(), y.data(), scratch.get(), {.m = m, .n = w.n, .k = w.k, .threads = threads});
  return y;
}

std::vector<float> reference(const std::vector<float>& x, const TestWeight& w, int64_t m) {
  std::vector<float> y(static_cast<size_t>(m * w.n));
  gemm_bf16dot_reference(x.data(), w.w.data(), DType::BF16, y.data(), m, w.n, w.k);
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

__attribute__((target("avx512f,avx512bf16"))) void instruction(const float* acc, const uint32_t* a, const uint32_t* b,
                                                               float* out) {
  const __m512 r = _mm512_dpbf16_ps(_mm512_loadu_ps(acc), reinterpret_cast<__m512bh>(_mm512_loadu_si512(a)),
                                    reinterpret_cast<__m512bh>(_mm512_loadu_si512(b)));
  _mm512_storeu_ps(out, r);
}

// The scalar definition is the instruction, bit for bit (measured on the AMD EPYC Zen 5 VM: 0 differences in millions
// of operands; the opposite order, even element first, differs in ~6% of them, so the test can tell).
TEST(KernelsGemmBf16Dot, StepIsTheInstructionBitForBit) {
  REQUIRE_BF16DOT();
  std::mt19937_64 rng(test_seed());
  int64_t checked = 0, differ = 0, differ_even_first = 0;
  for (int it = 0; it < 20000; ++it) {
    float acc[16], out[16];
    uint32_t a[16], b[16];
    for (int j = 0; j < 16; ++j) {
      const int spread = (it % 4 == 0) ? 8 : (it % 4 == 1) ? 40 : (it % 4 == 2) ? 254 : 16;
      a[j] = random_bf16(rng, spread) | (uint32_t{random_bf16(rng, spread)} << 16);
      b[j] = random_bf16(rng, spread) | (uint32_t{random_bf16(rng, spread)} << 16);
      const uint32_t accbits = it % 5 == 0 ? 0u : (uint32_t{random_bf16(rng, spread)} << 16) | (rng() & 0xffffu);
      std::memcpy(&acc[j], &accbits, 4);
    }
    instruction(acc, a, b, out);
    for (int j = 0; j < 16; ++j) {
      ++checked;
      const float want = bf16dot_step(acc[j], a[j], b[j]);
      if (bits_of(want) != bits_of(out[j])) {
        if (++differ <= 5)
          ADD_FAILURE() << "acc " << acc[j] << " a " << std::hex << a[j] << " b " << b[j] << ": instruction " << out[j]
                        << ", emulation " << want;
      }
      // The opposite order, for contrast: it must differ somewhere, or the test could not tell the orders apart.
      const float even_first =
          bf16dot_step(bf16dot_step(acc[j], a[j] & 0xffffu, b[j] & 0xffffu), a[j] & 0xffff0000u, b[j] & 0xffff0000u);
      differ_even_first += bits_of(even_first) != bits_of(out[j]);
    }
  }
  std::printf("[ bf16dot ] %lld lanes: emulation differs in %lld, even-element-first order in %lld\n",
              static_cast<long long>(checked), static_cast<long long>(differ),
              static_cast<long long>(differ_even_first));
  EXPECT_EQ(differ, 0);
  EXPECT_GT(differ_even_first, 0);
}

TEST(KernelsGemmBf16Dot, StepRulesDazFtzAndOneRoundingPerProduct) {
  // 1 + 2^-8 * 2^-8 ... : acc = 1, a_hi * b_hi = 2^-24 (exactly half an ulp of 1: ties to even -> 1), then a_lo *
  // b_lo = 2^-24 again -> 1. Summed first, the products would give 1 + 2^-23.
  const uint32_t half_ulp = f32_to_bf16(std::ldexp(1.0f, -12));
  const uint32_t pair = half_ulp | (half_ulp << 16);
  EXPECT_EQ(bf16dot_step(1.0f, pair, pair), 1.0f);
  // Denormal inputs read as zero: a bf16 denormal times 2^100 adds nothing.
  const uint32_t denormal = 0x0001, big = f32_to_bf16(std::ldexp(1.0f, 100));
  EXPECT_EQ(bits_of(bf16dot_step(0.0f, denormal, big)), 0u);
  // A denormal result is flushed: 2^-70 * 2^-70 = 2^-140 (an fp32 denormal) -> +0.
  const uint32_t tiny = f32_to_bf16(std::ldexp(1.0f, -70));
  EXPECT_EQ(bits_of(bf16dot_step(0.0f, tiny, tiny)), 0u);
  // The high (odd) element first: acc = 2^24, + 1 * 1 (lost: 2^24 + 1 ties to 2^24), then + 1 * 1 again (lost);
  // with the sum of the products first it would be 2^24 + 2.
  const uint32_t ones = f32_to_bf16(1.0f) | (uint32_t{f32_to_bf16(1.0f)} << 16);
  EXPECT_EQ(bf16dot_step(16777216.0f, ones, ones), 16777216.0f);
}

// Ragged shapes, odd k, every row count up to 70, 1-3 threads: bitwise the reference.
TEST(KernelsGemmBf16Dot, BitwiseEqualToReference) {
  REQUIRE_BF16DOT();
  std::mt19937_64 rng(test_seed() + 1);
  const int64_t shapes[][2] = {{1, 1},    {17, 33},  {31, 100}, {100, 7}, {64, 129},
                               {130, 67}, {200, 40}, {33, 5},   {96, 2},  {257, 255}};
  for (const auto& s : shapes) {
    const TestWeight w(s[0], s[1], rng);
    for (int64_t m : {1, 2, 3, 5, 8, 9, 16, 17, 47, 48, 49, 70}) {
      const std::vector<float> x = random_x(m, w.k, rng);
      const std::vector<float> want = reference(x, w, m);
      for (int threads : {1, 2, 3})
        EXPECT_TRUE(same_bits(run(x, w, m, threads), want))
            << "n " << w.n << " k " << w.k << " m " << m << " threads " << threads;
    }
  }
}

// A row's output bits are the same alone, at any position of any batch, and on any thread count.
TEST(KernelsGemmBf16Dot, RowAloneEqualsRowInsideAnyBatchAndThreadCount) {
  REQUIRE_BF16DOT();
  std::mt19937_64 rng(test_seed() + 2);
  const TestWeight w(300, 257, rng);
  const int64_t m = 64;
  const std::vector<float> x = random_x(m, w.k, rng);
  const std::vector<float> batch1 = run(x, w, m, 1), batch2 = run(x, w, m, 2);
  EXPECT_TRUE(same_bits(batch1, batch2));
  for (int64_t i = 0; i < m; i += 7) {
    const std::vector<float> xi(x.begin() + i * w.k, x.begin() + (i + 1) * w.k);
    for (int threads : {1, 2}) {
      const std::vector<float> alone = run(xi, w, 1, threads);
      EXPECT_EQ(std::memcmp(alone.data(), batch1.data() + i * w.n, w.n * sizeof(float)), 0)
          << "row " << i << " threads " << threads;
    }
  }
  // And inside a smaller batch starting at another row: rows [i, i + r).
  for (int64_t r : {3, 16, 33}) {
    const int64_t i = 5;
    const std::vector<float> xs(x.begin() + i * w.k, x.begin() + (i + r) * w.k);
    const std::vector<float> y = run(xs, w, r, 2);
    EXPECT_EQ(std::memcmp(y.data(), batch1.data() + i * w.n, r * w.n * sizeof(float)), 0) << "batch of " << r;
  }
}

// Model-sized shapes (llama2-110m's FFN and a 16-row decode step): bitwise the reference.
TEST(KernelsGemmBf16Dot, ModelSizedShapesEqualReference) {
  REQUIRE_BF16DOT();
  std::mt19937_64 rng(test_seed() + 3);
  const TestWeight w(2048, 768, rng);
  for (int64_t m : {1, 16}) {
    const std::vector<float> x = random_x(m, w.k, rng);
    EXPECT_TRUE(same_bits(run(x, w, m, 2), reference(x, w, m))) << "m " << m;
  }
}

// f32 and f16 weights are rounded to bf16 at packing: the packed bytes equal those of the rounded bf16 weights.
TEST(KernelsGemmBf16Dot, F32AndF16WeightsPackAsTheirBf16Rounding) {
  std::mt19937_64 rng(test_seed() + 4);
  const int64_t n = 45, k = 37;
  std::vector<float> f(static_cast<size_t>(n * k));
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (float& v : f) v = d(rng);
  std::vector<uint16_t> rounded(f.size()), f16(f.size());
  for (size_t i = 0; i < f.size(); ++i) rounded[i] = f32_to_bf16(f[i]);
  const size_t bytes = gemm_bf16dot_packed_bytes(n, k);
  EXPECT_EQ(bytes, static_cast<size_t>(2 * ((k + 1) / 2) * 128));  // 2 panels x 19 pairs x 128 bytes
  Mem a = aligned(bytes), b = aligned(bytes);
  gemm_bf16dot_pack(f.data(), DType::F32, a.get(), {.n = n, .k = k, .threads = 1});
  gemm_bf16dot_pack(rounded.data(), DType::BF16, b.get(), {.n = n, .k = k, .threads = 3});
  EXPECT_EQ(std::memcmp(a.get(), b.get(), bytes), 0);
  // Layout: word c of pair s of panel p = W[32p + c, 2s] (low) | W[32p + c, 2s + 1] (high); zeros outside W.
  const uint32_t* words = static_cast<const uint32_t*>(b.get());
  const int64_t kh = (k + 1) / 2;
  for (int64_t j : {0, 31, 32, 44}) {
    for (int64_t s : {int64_t{0}, kh - 1}) {
      const uint32_t wd = words[(j / 32) * kh * 32 + s * 32 + j % 32];
      EXPECT_EQ(wd & 0xffffu, rounded[j * k + 2 * s]);
      EXPECT_EQ(wd >> 16, 2 * s + 1 < k ? rounded[j * k + 2 * s + 1] : 0u);
    }
  }
  EXPECT_EQ(words[1 * kh * 32 + 3 * 32 + 20], 0u);  // column 52 >= n
}

// The reference on small integers is the exact dot product (every partial sum representable).
TEST(KernelsGemmBf16Dot, ReferenceIsTheDotProductOnExactValues) {
  const int64_t m = 2, n = 3, k = 5;
  std::vector<float> x = {1, 2, 3, 4, 5, -1, 0.5f, 0.25f, 8, -2};
  std::vector<uint16_t> w(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n * k; ++i) w[i] = f32_to_bf16(static_cast<float>(i % 7) - 3.0f);
  std::vector<float> y(static_cast<size_t>(m * n));
  gemm_bf16dot_reference(x.data(), w.data(), DType::BF16, y.data(), m, n, k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double want = 0;
      for (int64_t t = 0; t < k; ++t) want += x[i * k + t] * bf16_to_f32(w[j * k + t]);
      EXPECT_EQ(y[i * n + j], static_cast<float>(want)) << i << "," << j;
    }
  }
}

}  // namespace
}  // namespace verbatim::kernels::cpu

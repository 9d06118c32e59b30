// The AMX GEMM (kernels/cpu/gemm_amx.h). The tile unit's rounding has no documented bit-exact definition, so:
//   - tolerance: every output within a stated bound of the exact dot product of the same bf16 operands (computed in
//     double), bound = (2 * blocks + 32) * 2^-24 * sum_t |a_t * b_t|: the worst case of one fp32 rounding per k block
//     plus the tile's internal alignment (measured worst ratio printed; it is far below 1 on random data), and the
//     same bound holds the bf16-dot reference (whose operands these are) so it is not loose enough to hide a wrong
//     row or column;
//   - bitwise: a row's output bits are the same alone (1-row tiles), at any position of any batch (tiles of 1 .. 16
//     rows, one or two row tiles), with the other rows of its tile changed, and on 1, 2 or 3 threads; for ragged n,
//     odd k and k not a whole number of 32-k blocks.
// Inputs are fresh random numbers each run (seed printed; VERBATIM_TEST_SEED reproduces a run). Where the CPU or OS
// has no AMX-BF16 the tests skip, saying so.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "bf16_gemm_test_data.h"
#include "kernels/cpu/gemm_amx.h"
#include "support/test_support.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

using verbatim::testing::test_seed;

#define REQUIRE_AMX()                                                                                            \
  do {                                                                                                           \
    if (!gemm_amx_available())                                                                                   \
      GTEST_SKIP() << "this CPU (or OS) has no AMX-BF16 tile unit: the AMX kernel cannot run here (not tested)"; \
  } while (0)

using test_data::aligned;
using test_data::Mem;
using test_data::TestWeight;

std::vector<float> random_x(int64_t m, int64_t k, std::mt19937_64& rng) {
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = d(rng);
  for (size_t i = 5; i < x.size(); i += 17) x[i] = (i % 2) ? -0.0f : 0.0f;
  return x;
}

std::vector<float> run(const std::vector<float>& x, const TestWeight& w, int64_t m, int threads) {
  std::vector<float> y(static_cast<size_t>(m * w.n), -1.0f);
  Mem scratch = aligned(gemm_amx_scratch_bytes(m, w.k));
  gemm_amx(x.data(), w.packed.get(), y.data(), scratch.get(), {.m = m, .n = w.n, .k = w.k, .threads = threads});
  return y;
}

bool same_bits(const float* a, const float* b, size_t count) {
  return std::memcmp(a, b, count * sizeof(float)) == 0;
}

// Worst |y - exact| / bound over the outputs; exact and bound from the bf16 operands in double.
double worst_error_ratio(const std::vector<float>& x, const TestWeight& w, int64_t m, const std::vector<float>& y) {
  const int64_t blocks = (w.k + 31) / 32;
  const double unit = (2.0 * static_cast<double>(blocks) + 32.0) * std::ldexp(1.0, -24);
  double worst = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < w.n; ++j) {
      double exact = 0, mag = 0;
      for (int64_t t = 0; t < w.k; ++t) {
        const double p = static_cast<double>(bf16_to_f32(f32_to_bf16(x[i * w.k + t]))) * bf16_to_f32(w.w[j * w.k + t]);
        exact += p;
        mag += std::fabs(p);
      }
      const double err = std::fabs(static_cast<double>(y[i * w.n + j]) - exact);
      worst = std::max(worst, mag > 0 ? err / (unit * mag) : (err > 0 ? 1e30 : 0.0));
    }
  }
  return worst;
}

// Ragged shapes (n % 32 != 0, odd k, k % 32 != 0), row counts across one and two row tiles, 1-3 threads: within the
// bound of the exact dot product, and every thread count bitwise the same.
TEST(KernelsGemmAmx, WithinBoundOfExactDotAndThreadInvariant) {
  REQUIRE_AMX();
  std::mt19937_64 rng(test_seed() + 11);
  const int64_t shapes[][2] = {{1, 1},    {17, 33}, {31, 100}, {100, 7},   {64, 129},
                               {130, 67}, {33, 64}, {96, 2},   {257, 255}, {48, 512}};
  double worst = 0;
  for (const auto& s : shapes) {
    const TestWeight w(s[0], s[1], rng);
    for (int64_t m : {1, 2, 5, 15, 16, 17, 31, 32, 33, 47, 70}) {
      const std::vector<float> x = random_x(m, w.k, rng);
      const std::vector<float> y1 = run(x, w, m, 1);
      const double r = worst_error_ratio(x, w, m, y1);
      worst = std::max(worst, r);
      EXPECT_LE(r, 1.0) << "n " << w.n << " k " << w.k << " m " << m;
      for (int threads : {2, 3})
        EXPECT_TRUE(same_bits(run(x, w, m, threads).data(), y1.data(), y1.size()))
            << "n " << w.n << " k " << w.k << " m " << m << " threads " << threads;
    }
  }
  std::printf("[ amx ] worst |error| / bound: %.3g\n", worst);
}

// A row's bits alone (a 1-row tile) equal its bits at every position of batches of 2 .. 40 rows (tiles of every row
// count, one or two row tiles per item), whatever the other rows hold.
TEST(KernelsGemmAmx, RowAloneEqualsRowInsideAnyBatch) {
  REQUIRE_AMX();
  std::mt19937_64 rng(test_seed() + 12);
  const TestWeight w(200, 300, rng);  // 300 k: 10 blocks, the last one 12 of 32 k
  const std::vector<float> target = random_x(1, w.k, rng);
  const std::vector<float> alone = run(target, w, 1, 1);
  for (int64_t m = 2; m <= 40; ++m) {
    for (int trial = 0; trial < 2; ++trial) {
      std::vector<float> x = random_x(m, w.k, rng);  // other rows fresh each trial
      const int64_t at = static_cast<int64_t>(rng() % static_cast<uint64_t>(m));
      std::copy(target.begin(), target.end(), x.begin() + at * w.k);
      const std::vector<float> y = run(x, w, m, 1 + trial);
      EXPECT_TRUE(same_bits(y.data() + at * w.n, alone.data(), w.n)) << "m " << m << " row " << at;
    }
  }
}

// Model-sized shapes of llama2-110m (FFN up and down, a 16-row decode step): within the bound; and 1 row vs 16.
TEST(KernelsGemmAmx, ModelSizedShapes) {
  REQUIRE_AMX();
  std::mt19937_64 rng(test_seed() + 13);
  for (const auto& s : {std::pair<int64_t, int64_t>{2048, 768}, {768, 2048}}) {
    const TestWeight w(s.first, s.second, rng);
    const std::vector<float> x = random_x(16, w.k, rng);
    const std::vector<float> y = run(x, w, 16, 2);
    EXPECT_LE(worst_error_ratio(x, w, 16, y), 1.0) << "n " << w.n << " k " << w.k;
    const std::vector<float> x3(x.begin() + 3 * w.k, x.begin() + 4 * w.k);
    EXPECT_TRUE(same_bits(run(x3, w, 1, 1).data(), y.data() + 3 * w.n, w.n)) << "n " << w.n << " k " << w.k;
  }
}

// The bound is tight enough to catch a wrong operand: the bf16-dot reference (other rounding, same operands) is
// within it, while a result with one k block dropped is not.
TEST(KernelsGemmAmx, BoundSeparatesRoundingFromWrongOperands) {
  std::mt19937_64 rng(test_seed() + 14);
  const TestWeight w(40, 96, rng);
  const int64_t m = 3;
  const std::vector<float> x = random_x(m, w.k, rng);
  std::vector<float> ref(static_cast<size_t>(m * w.n));
  gemm_bf16dot_reference(x.data(), w.w.data(), DType::BF16, ref.data(), m, w.n, w.k);
  EXPECT_LE(worst_error_ratio(x, w, m, ref), 1.0);
  std::vector<float> x_dropped = x;
  for (int64_t i = 0; i < m; ++i) std::fill(x_dropped.begin() + i * w.k + 32, x_dropped.begin() + i * w.k + 64, 0.0f);
  gemm_bf16dot_reference(x_dropped.data(), w.w.data(), DType::BF16, ref.data(), m, w.n, w.k);
  EXPECT_GT(worst_error_ratio(x, w, m, ref), 1.0);
}

}  // namespace
}  // namespace verbatim::kernels::cpu

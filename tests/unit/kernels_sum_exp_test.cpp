// kernels/cpu/sum_exp.h: exp_nonpos against libm's exp (within 2 ulp on [-708, 0], 0 below, the exact values at 0
// and for -inf), and sum_exp_shifted's AVX-512 path against its portable definition, bit for bit, for every length
// 1 .. 70 and a vocabulary-sized row, on fresh random inputs (seed printed; VERBATIM_TEST_SEED reproduces a run).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/sum_exp.h"
#include "support/test_support.h"

namespace verbatim::kernels::cpu {
namespace {

using verbatim::testing::test_seed;

int64_t ulps(double a, double b) {  // both finite, >= 0
  int64_t ia, ib;
  std::memcpy(&ia, &a, 8);
  std::memcpy(&ib, &b, 8);
  return ia > ib ? ia - ib : ib - ia;
}

TEST(KernelsSumExp, ExpWithinTwoUlpOfLibm) {
  std::mt19937_64 rng(test_seed());
  std::uniform_real_distribution<double> wide(-708.0, 0.0), near(-1.0, 0.0);
  int64_t worst = 0, off = 0, n = 0;
  for (int i = 0; i < 400000; ++i) {
    const double d = i % 2 ? wide(rng) : near(rng) * std::ldexp(1.0, -static_cast<int>(rng() % 40));
    const int64_t u = ulps(exp_nonpos(d), std::exp(d));
    worst = std::max(worst, u);
    off += u != 0;
    ++n;
  }
  std::printf("[ sum_exp ] exp_nonpos vs libm exp: %lld of %lld differ, worst %lld ulp\n", static_cast<long long>(off),
              static_cast<long long>(n), static_cast<long long>(worst));
  EXPECT_LE(worst, 2);
  EXPECT_EQ(exp_nonpos(0.0), 1.0);
  EXPECT_EQ(exp_nonpos(-0.0), 1.0);
  EXPECT_EQ(exp_nonpos(-std::numeric_limits<double>::infinity()), 0.0);
  EXPECT_EQ(exp_nonpos(-708.5), 0.0);  // would be below 2^-1022
  EXPECT_GT(exp_nonpos(-708.0), 0.0);
  EXPECT_LE(ulps(exp_nonpos(-708.0), std::exp(-708.0)), 2);
}

// The vector path is the portable definition bit for bit, whatever n (tails of 1..7 lanes included), with -inf
// entries and values far below the max.
TEST(KernelsSumExp, VectorPathEqualsDefinitionBitwise) {
  std::mt19937_64 rng(test_seed() + 1);
  std::normal_distribution<float> logit(0.0f, 4.0f);
  for (int64_t n : {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 70, 32000, 151936}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = logit(rng);
    for (size_t i = 3; i < x.size(); i += 29) x[i] = -std::numeric_limits<float>::infinity();
    for (size_t i = 5; i < x.size(); i += 31) x[i] = -800.0f;
    float mx = x[0];
    for (float v : x) mx = std::max(mx, v);
    if (!(mx > -1e30f)) x[0] = mx = 0.0f;
    const double m = static_cast<double>(mx);
    const double a = sum_exp_shifted(x.data(), n, m), b = sum_exp_shifted_scalar(x.data(), n, m);
    EXPECT_EQ(std::memcmp(&a, &b, 8), 0) << "n " << n << ": " << a << " vs " << b;
    double ref = 0.0;
    for (float v : x) ref += std::exp(static_cast<double>(v) - m);
    EXPECT_NEAR(a, ref, 1e-13 * ref) << "n " << n;
  }
}

}  // namespace
}  // namespace verbatim::kernels::cpu

// The elementwise and reduction kernels of the CPU reference (embedding, rmsnorm, matmul, bias/residual add, swiglu,
// softmax, log_softmax, argmax) against naive double-precision computations written here, on fresh random inputs.
// Tolerances: fp32 kernels must agree with the double result to a relative error of 1e-5 (for sums: 1e-5 times the
// sum of the absolute values of the terms, which bounds cancellation); dtype paths must be bitwise equal to the f32
// path on the same (pre-converted) weights.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/add.h"
#include "kernels/cpu/argmax.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/log_softmax.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/swiglu.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> random_floats(std::mt19937_64& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// The same values in 16-bit storage, and the exact f32 values that storage stands for.
struct Rounded {
  std::vector<uint16_t> bits;
  std::vector<float> as_f32;
};

uint16_t f32_to_f16_truncate(float f);  // defined below

Rounded round_to(const std::vector<float>& v, DType dtype) {
  Rounded r;
  for (float x : v) {
    const uint16_t b = dtype == DType::BF16 ? f32_to_bf16(x) : f32_to_f16_truncate(x);
    r.bits.push_back(b);
    r.as_f32.push_back(dtype == DType::BF16 ? bf16_to_f32(b) : f16_to_f32(b));
  }
  return r;
}

// Truncates to f16 (normal f16 range only). Any f16 value will do for these tests, as long as the f32 twin is its
// exact value.
uint16_t f32_to_f16_truncate(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int exp = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  if (f == 0.0f || exp <= 0) return static_cast<uint16_t>(sign);  // tiny -> signed zero (not used by the tests)
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | ((bits >> 13) & 0x3ffu));
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(KernelsEmbedding, CopiesRowsExactlyForEveryDType) {
  std::mt19937_64 rng(101);
  const int64_t vocab = 50, dim = 24;
  const std::vector<float> table = random_floats(rng, vocab * dim, -3.0f, 3.0f);
  const std::vector<int32_t> tokens = {7, 0, 49, 7};
  std::vector<float> out(tokens.size() * dim);
  embedding(table.data(), DType::F32, tokens.data(), 4, out.data(), {.vocab = vocab, .dim = dim});
  for (size_t t = 0; t < tokens.size(); ++t)
    for (int64_t i = 0; i < dim; ++i) ASSERT_EQ(out[t * dim + i], table[tokens[t] * dim + i]);

  for (DType dtype : {DType::BF16, DType::F16}) {
    const Rounded r = round_to(table, dtype);
    std::vector<float> out16(out.size()), out32(out.size());
    embedding(r.bits.data(), dtype, tokens.data(), 4, out16.data(), {.vocab = vocab, .dim = dim});
    embedding(r.as_f32.data(), DType::F32, tokens.data(), 4, out32.data(), {.vocab = vocab, .dim = dim});
    EXPECT_TRUE(bitwise_equal(out16, out32)) << dtype_name(dtype);
  }
  // Known encodings: f16 0x3C00 = 1, 0xC000 = -2, 0x0001 = 2^-24 (subnormal); bf16 0x3F80 = 1, 0xC0A0 = -5.
  const uint16_t f16_table[3] = {0x3C00, 0xC000, 0x0001};
  const uint16_t bf16_table[3] = {0x3F80, 0xC0A0, 0x0000};
  const int32_t ids[3] = {0, 1, 2};
  float got[3];
  embedding(f16_table, DType::F16, ids, 3, got, {.vocab = 3, .dim = 1});
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -2.0f);
  EXPECT_EQ(got[2], std::ldexp(1.0f, -24));
  embedding(bf16_table, DType::BF16, ids, 3, got, {.vocab = 3, .dim = 1});
  EXPECT_EQ(got[0], 1.0f);
  EXPECT_EQ(got[1], -5.0f);
  EXPECT_EQ(got[2], 0.0f);
}

TEST(KernelsRmsNorm, MatchesDoubleAndHandlesRowsAndAliasing) {
  std::mt19937_64 rng(202);
  const int64_t rows = 3, n = 96;
  const float eps = 1e-6f;
  const std::vector<float> x = random_floats(rng, rows * n, -2.0f, 2.0f);
  const std::vector<float> w = random_floats(rng, n, 0.5f, 1.5f);
  std::vector<float> y(rows * n);
  rmsnorm(x.data(), w.data(), DType::F32, y.data(), rows, {.n = n, .eps = eps});
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[r * n + i]) * x[r * n + i];
    const double inv = 1.0 / std::sqrt(ss / n + eps);
    for (int64_t i = 0; i < n; ++i) {
      const double ref = static_cast<double>(w[i]) * x[r * n + i] * inv;
      EXPECT_NEAR(y[r * n + i], ref, 1e-5 * std::abs(ref)) << "row " << r << " i " << i;
    }
  }
  std::vector<float> in_place = x;  // y may alias x
  rmsnorm(in_place.data(), w.data(), DType::F32, in_place.data(), rows, {.n = n, .eps = eps});
  EXPECT_TRUE(bitwise_equal(in_place, y));

  // A zero row gives zeros (eps keeps it finite); eps is added inside the square root.
  std::vector<float> zeros(n, 0.0f), out(n);
  rmsnorm(zeros.data(), w.data(), DType::F32, out.data(), 1, {.n = n, .eps = eps});
  for (float v : out) EXPECT_EQ(v, 0.0f);
  std::vector<float> ones(4, 1.0f), w1(4, 1.0f), out4(4);
  rmsnorm(ones.data(), w1.data(), DType::F32, out4.data(), 1, {.n = 4, .eps = 0.25f});
  EXPECT_FLOAT_EQ(out4[0], static_cast<float>(1.0 / std::sqrt(1.25)));
}

TEST(KernelsRmsNorm, HalfWeightsEqualPreconvertedF32) {
  std::mt19937_64 rng(203);
  const int64_t n = 64;
  const std::vector<float> x = random_floats(rng, 2 * n, -2.0f, 2.0f);
  const std::vector<float> w = random_floats(rng, n, 0.5f, 1.5f);
  for (DType dtype : {DType::BF16, DType::F16}) {
    const Rounded r = round_to(w, dtype);
    std::vector<float> y16(2 * n), y32(2 * n);
    rmsnorm(x.data(), r.bits.data(), dtype, y16.data(), 2, {.n = n, .eps = 1e-5f});
    rmsnorm(x.data(), r.as_f32.data(), DType::F32, y32.data(), 2, {.n = n, .eps = 1e-5f});
    EXPECT_TRUE(bitwise_equal(y16, y32)) << dtype_name(dtype);
  }
}

TEST(KernelsMatmul, MatchesDoubleWithinConditionedTolerance) {
  std::mt19937_64 rng(303);
  const int64_t m = 3, n = 37, k = 256;
  const std::vector<float> x = random_floats(rng, m * k, -1.0f, 1.0f);
  const std::vector<float> w = random_floats(rng, n * k, -1.0f, 1.0f);
  std::vector<float> y(m * n);
  matmul(x.data(), w.data(), DType::F32, y.data(), {.m = m, .n = n, .k = k});
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double ref = 0.0, abs_sum = 0.0;
      for (int64_t t = 0; t < k; ++t) {
        const double term = static_cast<double>(x[i * k + t]) * w[j * k + t];
        ref += term;
        abs_sum += std::abs(term);
      }
      EXPECT_NEAR(y[i * n + j], ref, 1e-5 * abs_sum) << i << "," << j;
    }
  }
}

TEST(KernelsMatmul, HalfWeightsEqualPreconvertedF32) {
  std::mt19937_64 rng(304);
  const int64_t m = 2, n = 19, k = 130;
  const std::vector<float> x = random_floats(rng, m * k, -1.0f, 1.0f);
  const std::vector<float> w = random_floats(rng, n * k, -0.5f, 0.5f);
  for (DType dtype : {DType::BF16, DType::F16}) {
    const Rounded r = round_to(w, dtype);
    std::vector<float> y16(m * n), y32(m * n);
    matmul(x.data(), r.bits.data(), dtype, y16.data(), {.m = m, .n = n, .k = k});
    matmul(x.data(), r.as_f32.data(), DType::F32, y32.data(), {.m = m, .n = n, .k = k});
    EXPECT_TRUE(bitwise_equal(y16, y32)) << dtype_name(dtype);
  }
}

TEST(KernelsMatmul, AccumulatesSequentiallyInK) {
  // ((1e8 + 1) - 1e8) + 1 = 1 in fp32 sequential order (1e8 + 1 rounds to 1e8); a pairwise sum would give 0 and
  // double precision 2. The reference's order is part of its contract.
  const float x[4] = {1e8f, 1.0f, -1e8f, 1.0f};
  const float w[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  float y = -1.0f;
  matmul(x, w, DType::F32, &y, {.m = 1, .n = 1, .k = 4});
  EXPECT_EQ(y, 1.0f);
}

TEST(KernelsAdd, BiasAndResidual) {
  std::mt19937_64 rng(404);
  const int64_t rows = 3, n = 10;
  const std::vector<float> y0 = random_floats(rng, rows * n, -1.0f, 1.0f);
  const std::vector<float> b = random_floats(rng, n, -1.0f, 1.0f);
  std::vector<float> y = y0;
  add_bias(y.data(), b.data(), DType::F32, rows, n);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) EXPECT_EQ(y[i * n + j], y0[i * n + j] + b[j]);
  const Rounded r = round_to(b, DType::BF16);
  std::vector<float> y16 = y0, y32 = y0;
  add_bias(y16.data(), r.bits.data(), DType::BF16, rows, n);
  add_bias(y32.data(), r.as_f32.data(), DType::F32, rows, n);
  EXPECT_TRUE(bitwise_equal(y16, y32));

  std::vector<float> x = y0;
  add_inplace(x.data(), y.data(), rows * n);
  for (int64_t i = 0; i < rows * n; ++i) EXPECT_EQ(x[i], y0[i] + y[i]);
}

TEST(KernelsSwiglu, MatchesDouble) {
  std::mt19937_64 rng(505);
  const int64_t n = 500;
  std::vector<float> g = random_floats(rng, n, -12.0f, 12.0f);
  const std::vector<float> u = random_floats(rng, n, -3.0f, 3.0f);
  g[0] = -100.0f;  // expf(100) overflows to inf: silu -> -0, not NaN
  std::vector<float> out(n);
  swiglu(g.data(), u.data(), out.data(), n);
  for (int64_t i = 0; i < n; ++i) {
    const double ref = static_cast<double>(g[i]) / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
    EXPECT_NEAR(out[i], ref, 1e-5 * std::abs(ref) + 1e-30) << i;
  }
  EXPECT_FALSE(std::isnan(out[0]));
}

// swiglu's exp against libm's expf over the whole float range that matters, and the vector path against the
// portable definition, bit for bit (lengths with tails, special values).
TEST(KernelsSwiglu, ExpIsLibmExpfWithinOneUlpAndPathsAgreeBitwise) {
  std::mt19937_64 rng(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const uint64_t seed = rng();
  std::printf("[ swiglu ] seed %llu\n", static_cast<unsigned long long>(seed));
  rng.seed(seed);
  std::uniform_real_distribution<float> wide(-110.0f, 95.0f), narrow(-20.0f, 20.0f);
  int64_t differ = 0, worst = 0;
  const int64_t n_args = 2000000;
  for (int64_t i = 0; i < n_args; ++i) {
    const float v = i % 2 ? wide(rng) : narrow(rng);
    const float a = swiglu_exp(v), b = std::exp(v);
    int32_t ia, ib;
    std::memcpy(&ia, &a, 4);
    std::memcpy(&ib, &b, 4);
    const int64_t d = std::abs(static_cast<int64_t>(ia) - ib);
    differ += d != 0;
    worst = std::max(worst, d);
  }
  std::printf("[ swiglu ] swiglu_exp vs expf: %lld of %lld arguments differ, worst %lld ulp\n",
              static_cast<long long>(differ), static_cast<long long>(n_args), static_cast<long long>(worst));
  EXPECT_LE(worst, 1);
  EXPECT_EQ(swiglu_exp(0.0f), 1.0f);
  EXPECT_EQ(swiglu_exp(100.0f), kInf);
  EXPECT_EQ(swiglu_exp(-200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(swiglu_exp(std::numeric_limits<float>::quiet_NaN())));
  for (int64_t n : {1, 15, 16, 17, 33, 2048, 5461}) {
    std::vector<float> g = random_floats(rng, n, -30.0f, 30.0f), u = random_floats(rng, n, -3.0f, 3.0f);
    for (int64_t i = 0; i < n; i += 13) g[i] = (i % 3 == 0) ? -100.0f : (i % 3 == 1) ? 120.0f : -0.0f;
    std::vector<float> a(n), b(n);
    swiglu(g.data(), u.data(), a.data(), n);
    swiglu_scalar(g.data(), u.data(), b.data(), n);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(float)), 0) << "n " << n;
  }
}

TEST(KernelsSoftmax, MatchesDoubleAndIgnoresNegInf) {
  std::mt19937_64 rng(606);
  const int64_t n = 300;
  std::vector<float> x = random_floats(rng, n, -20.0f, 20.0f);
  x[5] = -kInf;
  std::vector<double> ref(n);
  double max = -1e300, sum = 0.0;
  for (float v : x) max = std::max(max, static_cast<double>(v));
  for (int64_t i = 0; i < n; ++i) sum += ref[i] = std::exp(static_cast<double>(x[i]) - max);
  softmax(x.data(), n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(x[i], ref[i] / sum, 1e-5 * ref[i] / sum) << i;
    total += x[i];
  }
  EXPECT_EQ(x[5], 0.0f);
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(KernelsLogSoftmax, MatchesDoubleAndIsTheSharedDefinition) {
  std::mt19937_64 rng(707);
  const int64_t n = 1000;
  std::vector<float> x = random_floats(rng, n, -30.0f, 30.0f);
  x[17] = -kInf;
  double max = -1e300, sum = 0.0;
  for (float v : x) max = std::max(max, static_cast<double>(v));
  for (float v : x) sum += std::exp(static_cast<double>(v) - max);
  const double lse = max + std::log(sum);
  std::vector<float> out(n);
  log_softmax(x.data(), n, out.data());
  const double got_lse = logsumexp(x.data(), n);
  EXPECT_NEAR(got_lse, lse, 1e-12 * std::abs(lse));
  for (int64_t i = 0; i < n; ++i) {
    if (i == 17) continue;
    const double ref = static_cast<double>(x[i]) - lse;
    EXPECT_NEAR(out[i], ref, 1e-6 * std::max(1.0, std::abs(ref))) << i;
    EXPECT_EQ(out[i], logprob_from_lse(x[i], got_lse)) << i;  // one definition, bit for bit
  }
  EXPECT_EQ(out[17], -kInf);

  // Large logits do not overflow (max subtraction), and aliasing is allowed.
  std::vector<float> big = {1000.0f, 1000.0f, 999.0f};
  log_softmax(big.data(), 3, big.data());
  const double l = std::log(2.0 + std::exp(-1.0));
  EXPECT_NEAR(big[0], -l, 1e-6);
  EXPECT_EQ(big[0], big[1]);
  EXPECT_NEAR(big[2], -1.0 - l, 1e-6);
}

TEST(KernelsArgmax, LowestIndexOnTiesAndNanNeverWins) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> ties = {1.0f, 3.0f, 2.0f, 3.0f, 3.0f};
  EXPECT_EQ(argmax(ties.data(), 5), 1);
  const std::vector<float> with_nan = {nan, 0.5f, nan, 0.75f, nan};
  EXPECT_EQ(argmax(with_nan.data(), 5), 3);
  const std::vector<float> with_inf = {0.0f, kInf, kInf};
  EXPECT_EQ(argmax(with_inf.data(), 3), 1);
  const std::vector<float> all_neg_inf = {-kInf, -kInf};
  EXPECT_EQ(argmax(all_neg_inf.data(), 2), 0);

  std::mt19937_64 rng(808);
  const std::vector<float> x = random_floats(rng, 4096, -5.0f, 5.0f);
  int64_t ref = 0;
  for (int64_t i = 1; i < 4096; ++i)
    if (x[i] > x[ref]) ref = i;
  EXPECT_EQ(argmax(x.data(), 4096), ref);

  // The vector path is the definition: random rows with ties, signed zeros, NaN and infinities, every tail length.
  const uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::printf("[ argmax ] seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 r2(seed);
  for (int trial = 0; trial < 2000; ++trial) {
    const int64_t n = 1 + static_cast<int64_t>(r2() % (trial < 1000 ? 70 : 33000));
    std::vector<float> v(static_cast<size_t>(n));
    const int kind = trial % 5;
    for (float& e : v) {
      const uint64_t u = r2() % 100;
      e = kind == 0   ? static_cast<float>(r2() % 4)  // many ties
          : kind == 1 ? (u < 50   ? 0.0f
                         : u < 90 ? -0.0f
                                  : -kInf)  // zeros of both signs
          : kind == 2 ? (u < 30   ? nan
                         : u < 60 ? -kInf
                                  : -1.0f)                                // NaN and -inf
          : kind == 3 ? (u < 3 ? kInf : static_cast<float>(r2() % 1000))  // +inf
                      : (u < 98 ? nan : -kInf);                           // nearly all NaN
    }
    EXPECT_EQ(argmax(v.data(), n), argmax_scalar(v.data(), n)) << "trial " << trial << " n " << n;
  }
}

}  // namespace
}  // namespace verbatim::kernels::cpu

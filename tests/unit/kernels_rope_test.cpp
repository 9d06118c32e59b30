// RoPE: inverse frequencies (plain, linear, Llama 3 scaling) against double-precision formulas written here from HF's
// definitions, and the rotation (halves convention) against a double computation. Tolerances: inv_freq within 4e-7
// relative (a few fp32 ulps of the powf/division chain); rotated vectors within 1e-5 of the vector's scale.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "kernels/cpu/rope.h"

namespace verbatim::kernels::cpu {
namespace {

std::vector<double> plain_inv_freq_double(int head_dim, double theta) {
  std::vector<double> f(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) f[i] = 1.0 / std::pow(theta, 2.0 * i / head_dim);
  return f;
}

// HF _compute_llama3_parameters in double, from the formula (not from the kernel's fp32 expressions).
std::vector<double> llama3_inv_freq_double(int head_dim, double theta, double factor, double low, double high,
                                           double old_ctx) {
  std::vector<double> f = plain_inv_freq_double(head_dim, theta);
  const double low_freq_wavelen = old_ctx / low, high_freq_wavelen = old_ctx / high;
  for (double& v : f) {
    const double wavelen = 2.0 * std::numbers::pi / v;
    if (wavelen < high_freq_wavelen) continue;  // high frequency: unchanged
    if (wavelen > low_freq_wavelen) {           // low frequency: divided by factor
      v = v / factor;
      continue;
    }
    const double smooth = (old_ctx / wavelen - low) / (high - low);  // medium: interpolated
    v = (1.0 - smooth) * v / factor + smooth * v;
  }
  return f;
}

void expect_rel_near(const std::vector<float>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * want[i]) << "i = " << i;
}

TEST(KernelsRope, PlainInvFreqMatchesDouble) {
  for (int head_dim : {64, 128}) {
    for (float theta : {10000.0f, 500000.0f, 1000000.0f}) {
      const std::vector<float> f = rope_inv_freq(head_dim, theta);
      expect_rel_near(f, plain_inv_freq_double(head_dim, theta), 4e-7);
      EXPECT_EQ(f[0], 1.0f);  // theta^0
    }
  }
}

TEST(KernelsRope, LinearScalingDividesByFactor) {
  RopeFreqScaling s;
  s.type = RopeFreqScaling::Type::Linear;
  s.factor = 4.0f;
  const std::vector<float> plain = rope_inv_freq(64, 10000.0f);
  const std::vector<float> scaled = rope_inv_freq(64, 10000.0f, s);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(scaled[i], plain[i] / 4.0f);
}

TEST(KernelsRope, Llama3ScalingMatchesDoubleInEveryRegime) {
  // Llama 3.1 8B: head_dim 128, theta 500000, factor 8, low 1, high 4, original context 8192.
  RopeFreqScaling s;
  s.type = RopeFreqScaling::Type::Llama3;
  s.factor = 8.0f;
  s.low_freq_factor = 1.0f;
  s.high_freq_factor = 4.0f;
  s.original_max_position_embeddings = 8192;
  const std::vector<float> got = rope_inv_freq(128, 500000.0f, s);
  const std::vector<double> want = llama3_inv_freq_double(128, 500000.0, 8.0, 1.0, 4.0, 8192.0);
  expect_rel_near(got, want, 4e-6);  // the smoothed branch chains several fp32 operations

  // All three regimes occur, and the unsmoothed ones are exact functions of the plain frequencies.
  const std::vector<float> plain = rope_inv_freq(128, 500000.0f);
  int high = 0, low = 0, medium = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    const double wavelen = 2.0 * std::numbers::pi / plain[i];
    if (wavelen < 8192.0 / 4.0) {
      ++high;
      EXPECT_EQ(got[i], plain[i]) << i;
    } else if (wavelen > 8192.0) {
      ++low;
      EXPECT_EQ(got[i], plain[i] / 8.0f) << i;
    } else {
      ++medium;
      EXPECT_LT(got[i], plain[i]) << i;
      EXPECT_GT(got[i], plain[i] / 8.0f) << i;
    }
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(medium, 0);

  // Llama 3.2 style: factor 32, original context 8192, head_dim 64.
  s.factor = 32.0f;
  expect_rel_near(rope_inv_freq(64, 500000.0f, s), llama3_inv_freq_double(64, 500000.0, 32.0, 1.0, 4.0, 8192.0), 4e-6);
}

TEST(KernelsRope, RotatesHalvesNotInterleavedPairs) {
  // head_dim 4: element 0 pairs with element 2 (frequency 1), element 1 with element 3 (frequency theta^-1/2).
  const std::vector<float> inv_freq = rope_inv_freq(4, 10000.0f);
  std::vector<float> x = {1.0f, 0.0f, 0.0f, 0.0f};
  const int32_t pos = 1;
  rope(x.data(), &pos, 1, inv_freq.data(), {.n_heads = 1, .head_dim = 4});
  EXPECT_FLOAT_EQ(x[0], std::cos(1.0f));
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_FLOAT_EQ(x[2], std::sin(1.0f));
  EXPECT_EQ(x[3], 0.0f);

  std::vector<float> y = {0.0f, 1.0f, 0.0f, 0.0f};
  rope(y.data(), &pos, 1, inv_freq.data(), {.n_heads = 1, .head_dim = 4});
  EXPECT_FLOAT_EQ(y[1], std::cos(0.01f));
  EXPECT_FLOAT_EQ(y[3], std::sin(0.01f));
}

TEST(KernelsRope, MatchesDoubleRotationForManyTokensAndHeads) {
  std::mt19937_64 rng(909);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  const int n_heads = 3, head_dim = 32;
  const std::vector<int32_t> positions = {0, 1, 17, 511, 4000};
  const int64_t n_tokens = static_cast<int64_t>(positions.size());
  std::vector<float> x(n_tokens * n_heads * head_dim);
  for (float& v : x) v = dist(rng);
  const std::vector<float> inv_freq = rope_inv_freq(head_dim, 10000.0f);
  std::vector<float> got = x;
  rope(got.data(), positions.data(), n_tokens, inv_freq.data(), {.n_heads = n_heads, .head_dim = head_dim});
  const int half = head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int h = 0; h < n_heads; ++h) {
      const int64_t base = (t * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        // HF forms the angle in fp32 (position * inv_freq); the rotation itself is computed here in double.
        const double angle = static_cast<float>(positions[t]) * inv_freq[i];
        const double a = x[base + i], b = x[base + i + half];
        const double first = a * std::cos(angle) - b * std::sin(angle);
        const double second = b * std::cos(angle) + a * std::sin(angle);
        EXPECT_NEAR(got[base + i], first, 1e-5 * 2.0) << t << " " << h << " " << i;
        EXPECT_NEAR(got[base + i + half], second, 1e-5 * 2.0) << t << " " << h << " " << i;
      }
    }
  }
  // Position 0 is the identity, bit for bit (cos 0 = 1, sin 0 = 0).
  for (int64_t i = 0; i < n_heads * head_dim; ++i) EXPECT_EQ(got[i], x[i]);
}

}  // namespace
}  // namespace verbatim::kernels::cpu

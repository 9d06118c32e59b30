// The sampler: validation, greedy, determinism, the filters (top-k, top-p, min-p), the empirical distribution
// (chi-square; deterministic because Philox is keyed by (seed, index), so the test cannot flake), raw logprobs, NaN and
// inf handling, and equality with a naive full-sort implementation of the documented algorithm on a 151k vocabulary.
#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/philox.h"
#include "kernels/cpu/log_softmax.h"
#include "util/error.h"

namespace verbatim {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

std::string error_of(const std::vector<float>& logits, const SamplingParams& params) {
  try {
    sample(logits, params, 0);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string token_logprob_error(const std::vector<float>& logits, int32_t token) {
  try {
    token_logprob(logits, token);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::vector<float> log_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}

// Counts of sampled tokens over indices [0, n).
std::vector<int> histogram(const std::vector<float>& logits, const SamplingParams& params, int n) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[sample(logits, params, static_cast<uint64_t>(i)).token];
  return counts;
}

double chi_square(const std::vector<int>& counts, const std::vector<double>& expected_p, int n) {
  double chi2 = 0.0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (expected_p[i] == 0.0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    const double e = expected_p[i] * n;
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi2;
}

TEST(SamplerValidate, ErrorsNameTheField) {
  const std::vector<float> logits = {0.0f, 1.0f};
  auto with = [](auto set) {
    SamplingParams p;
    set(p);
    return p;
  };
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.temperature = -0.1f; })), "temperature:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.temperature = kNan; })), "temperature:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.temperature = kInf; })), "temperature:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.top_k = -1; })), "top_k:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.top_p = 0.0f; })), "top_p:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.top_p = 1.5f; })), "top_p:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.top_p = kNan; })), "top_p:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.min_p = -0.01f; })), "min_p:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.min_p = 1.01f; })), "min_p:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.min_p = kNan; })), "min_p:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.top_logprobs = -1; })), "top_logprobs:"));
  EXPECT_TRUE(starts_with(error_of(logits, with([](auto& p) { p.top_logprobs = 21; })), "top_logprobs:"));
  // Boundary values are valid.
  EXPECT_EQ(error_of(logits, with([](auto& p) {
                       p.temperature = 0.0f;
                       p.top_p = 1.0f;
                       p.min_p = 1.0f;
                       p.top_logprobs = 20;
                     })),
            "");
  EXPECT_NO_THROW(SamplingParams{}.validate());
}

TEST(SamplerGreedy, ArgmaxWithLowestIdOnTies) {
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  const std::vector<float> logits = {1.0f, 4.0f, -2.0f, 4.0f, 3.0f};
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(sample(logits, greedy, i).token, 1);
  // Top-k/p/min-p do not matter at temperature 0.
  greedy.top_k = 5;
  greedy.top_p = 0.1f;
  greedy.min_p = 0.9f;
  EXPECT_EQ(sample(logits, greedy, 3).token, 1);
}

TEST(SamplerSeeded, ReproducibleAndIndexDependent) {
  std::mt19937_64 rng(4242);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> logits(1000);
  for (float& x : logits) x = dist(rng);
  SamplingParams p;
  p.temperature = 1.3f;
  p.seed = 12345;
  std::map<int32_t, int> seen;
  for (uint64_t i = 0; i < 200; ++i) {
    const SampledToken a = sample(logits, p, i);
    const SampledToken b = sample(logits, p, i);
    ASSERT_EQ(a.token, b.token);
    ASSERT_EQ(a.logprob, b.logprob);
    ASSERT_GE(a.token, 0);
    ASSERT_LT(a.token, 1000);
    ++seen[a.token];
  }
  EXPECT_GT(seen.size(), 50u);  // different indices draw different tokens from a flat-ish distribution

  // Another seed gives another sequence.
  SamplingParams q = p;
  q.seed = 54321;
  int same = 0;
  for (uint64_t i = 0; i < 200; ++i) same += sample(logits, p, i).token == sample(logits, q, i).token;
  EXPECT_LT(same, 20);
}

TEST(SamplerFilters, TopK1AndTinyTopPAreGreedy) {
  std::mt19937_64 rng(99);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> logits(300);
  for (float& x : logits) x = dist(rng);
  const int32_t best = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  SamplingParams k1;
  k1.top_k = 1;
  k1.temperature = 5.0f;
  SamplingParams tiny_p;
  tiny_p.top_p = 1e-6f;
  tiny_p.temperature = 5.0f;
  for (uint64_t i = 0; i < 100; ++i) {
    EXPECT_EQ(sample(logits, k1, i).token, best);
    EXPECT_EQ(sample(logits, tiny_p, i).token, best);
  }
  // Ties: top_k = 1 keeps the lower id.
  const std::vector<float> tied = {0.0f, 2.0f, 2.0f, 1.0f};
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(sample(tied, k1, i).token, 1);
}

TEST(SamplerFilters, TopKTopPMinPKeepTheRightTokens) {
  const std::vector<double> p = {0.05, 0.5, 0.15, 0.3};  // sorted order: 1, 3, 2, 0
  const std::vector<float> logits = log_probs(p);
  const int n = 4000;
  SamplingParams top_k;
  top_k.top_k = 2;
  EXPECT_LT(chi_square(histogram(logits, top_k, n), {0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8}, n), 16.3);  // 1 dof, p=1e-4
  SamplingParams top_p;
  top_p.top_p = 0.7f;  // 0.5 < 0.7 <= 0.8: tokens 1 and 3
  EXPECT_LT(chi_square(histogram(logits, top_p, n), {0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8}, n), 16.3);
  SamplingParams top_p_all;
  top_p_all.top_p = 0.97f;  // needs all four
  const std::vector<int> all = histogram(logits, top_p_all, n);
  for (int c : all) EXPECT_GT(c, 0);
  SamplingParams min_p;
  min_p.min_p = 0.2f;  // threshold 0.1: drops token 0
  EXPECT_LT(chi_square(histogram(logits, min_p, n), {0.0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95}, n), 18.5);  // 2 dof
  SamplingParams min_p_one;
  min_p_one.min_p = 1.0f;  // only the most likely token
  EXPECT_EQ(histogram(logits, min_p_one, 100)[1], 100);
  SamplingParams combined;  // top_k 3 -> {1, 3, 2}; renormalized 0.5/0.95 .. ; min_p 0.4 -> p >= 0.2 keeps {1, 3}
  combined.top_k = 3;
  combined.min_p = 0.4f;
  EXPECT_LT(chi_square(histogram(logits, combined, n), {0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8}, n), 16.3);
}

TEST(SamplerDistribution, ChiSquareOfEmpiricalFrequencies) {
  const std::vector<double> p = {0.02, 0.08, 0.1, 0.15, 0.25, 0.4};
  const std::vector<float> logits = log_probs(p);
  const int n = 20000;
  SamplingParams t1;
  t1.seed = 7;
  // 5 degrees of freedom: the 99.9th percentile of chi-square is 20.5. Deterministic: the same draws every run.
  EXPECT_LT(chi_square(histogram(logits, t1, n), p, n), 20.5);

  // Temperature 0.5 squares the probabilities (then renormalizes).
  SamplingParams t05;
  t05.temperature = 0.5f;
  t05.seed = 8;
  std::vector<double> sq;
  double total = 0.0;
  for (double x : p) total += x * x;
  for (double x : p) sq.push_back(x * x / total);
  EXPECT_LT(chi_square(histogram(logits, t05, n), sq, n), 20.5);

  // The draws behind the sampler are uniform: a wrong CDF walk (e.g. an off-by-one) would fail the tests above, while
  // a constant draw would give a single token.
  EXPECT_NE(philox_uniform(7, 0), philox_uniform(7, 1));
}

TEST(SamplerLogprobs, RawLogSoftmaxWhateverTheFilters) {
  std::mt19937_64 rng(31337);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> logits(500);
  for (float& x : logits) x = dist(rng);
  std::vector<float> ref(500);
  kernels::cpu::log_softmax(logits.data(), 500, ref.data());
  SamplingParams p;
  p.temperature = 0.3f;
  p.top_k = 7;
  p.top_p = 0.9f;
  p.min_p = 0.05f;
  p.top_logprobs = 5;
  for (uint64_t i = 0; i < 50; ++i) {
    const SampledToken s = sample(logits, p, i);
    EXPECT_EQ(s.logprob, ref[s.token]);
    EXPECT_EQ(token_logprob(logits, s.token), s.logprob);  // scoring reports the same bits
    ASSERT_EQ(s.top.size(), 5u);
  }
  for (int32_t t : {0, 17, 499}) EXPECT_EQ(token_logprob(logits, t), ref[t]);
  EXPECT_TRUE(starts_with(token_logprob_error(logits, 500), "token:"));
  EXPECT_TRUE(starts_with(token_logprob_error(logits, -1), "token:"));
  EXPECT_TRUE(starts_with(token_logprob_error({kNan, -kInf}, 0), "logits:"));
  // `top`: the highest raw logprobs, highest first.
  const SampledToken s = sample(logits, p, 0);
  std::vector<int32_t> ids(500);
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(),
            [&](int32_t a, int32_t b) { return ref[a] > ref[b] || (ref[a] == ref[b] && a < b); });
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(s.top[i].first, ids[i]);
    EXPECT_EQ(s.top[i].second, ref[ids[i]]);
  }
  // Ties list the lower id first; fewer tokens than asked gives the whole vocabulary.
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  greedy.top_logprobs = 20;
  const SampledToken t = sample(std::vector<float>{1.0f, 3.0f, 1.0f, 3.0f}, greedy, 0);
  EXPECT_EQ(t.token, 1);
  ASSERT_EQ(t.top.size(), 4u);
  EXPECT_EQ(t.top[0].first, 1);
  EXPECT_EQ(t.top[1].first, 3);
  EXPECT_EQ(t.top[2].first, 0);
  EXPECT_EQ(t.top[3].first, 2);
  EXPECT_NEAR(t.logprob, 3.0 - std::log(2 * std::exp(1.0) + 2 * std::exp(3.0)), 1e-6);
}

TEST(SamplerRobustness, NanAndInfLogits) {
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  SamplingParams hot;
  hot.temperature = 2.0f;
  const std::vector<float> with_nan = {kNan, 0.0f, kNan, 1.0f, -kInf};
  for (uint64_t i = 0; i < 200; ++i) {
    const int32_t t = sample(with_nan, hot, i).token;
    EXPECT_TRUE(t == 1 || t == 3) << t;  // NaN counts as -inf: never drawn, like -inf itself
  }
  EXPECT_EQ(sample(with_nan, greedy, 0).token, 3);
  EXPECT_EQ(sample(std::vector<float>{kNan, 5.0f}, greedy, 0).token, 1);

  // +inf dominates: the +inf tokens share all the mass.
  const std::vector<float> with_inf = {0.0f, kInf, 100.0f, kInf};
  const std::vector<int> counts = histogram(with_inf, hot, 400);
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_GT(counts[1], 100);
  EXPECT_GT(counts[3], 100);
  EXPECT_EQ(sample(with_inf, greedy, 0).token, 1);
  EXPECT_FALSE(std::isnan(sample(with_inf, hot, 0).logprob));

  // Nothing to sample from: an error, not an out-of-range token.
  for (const SamplingParams& p : {greedy, hot}) {
    EXPECT_TRUE(starts_with(error_of({kNan, kNan}, p), "logits:"));
    EXPECT_TRUE(starts_with(error_of({-kInf, -kInf, kNan}, p), "logits:"));
    EXPECT_TRUE(starts_with(error_of({}, p), "logits:"));
  }

  // Extreme scales stay in range: tiny temperature, huge logits.
  SamplingParams cold;
  cold.temperature = 1e-30f;
  const std::vector<float> huge = {3e38f, -3e38f, 3e38f, 1.0f};
  for (uint64_t i = 0; i < 50; ++i) {
    const int32_t t = sample(huge, cold, i).token;
    EXPECT_TRUE(t == 0 || t == 2) << t;
  }
}

// The documented algorithm with full sorts, for comparison with the sampler's partial sorts.
int32_t naive_sample(const std::vector<float>& logits, const SamplingParams& params, uint64_t index) {
  struct C {
    double v;
    int32_t id;
  };
  auto before = [](const C& a, const C& b) { return a.v > b.v || (a.v == b.v && a.id < b.id); };
  std::vector<C> c;
  for (size_t i = 0; i < logits.size(); ++i)
    if (logits[i] > -kInf) c.push_back({static_cast<double>(logits[i]) / params.temperature, static_cast<int32_t>(i)});
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < c.size()) {
    std::sort(c.begin(), c.end(), before);
    c.resize(params.top_k);
    std::sort(c.begin(), c.end(), [](const C& a, const C& b) { return a.id < b.id; });
  }
  double m = -1e308, sum = 0.0, max_p = 0.0;
  for (const C& x : c) m = std::max(m, x.v);
  for (C& x : c) sum += x.v = std::exp(x.v - m);
  for (C& x : c) max_p = std::max(max_p, x.v = x.v / sum);
  std::vector<C> by_id;
  for (const C& x : c)
    if (x.v != 0.0 && x.v >= static_cast<double>(params.min_p) * max_p) by_id.push_back(x);
  std::vector<C> sorted = by_id;
  std::sort(sorted.begin(), sorted.end(), before);
  size_t keep = sorted.size();
  if (params.top_p < 1.0f) {
    double cum = 0.0;
    for (size_t i = 0; i < sorted.size(); ++i)
      if ((cum += sorted[i].v) >= params.top_p) {
        keep = i + 1;
        break;
      }
  }
  std::vector<bool> member(logits.size(), false);
  for (size_t i = 0; i < keep; ++i) member[sorted[i].id] = true;
  double mass = 0.0;
  for (const C& x : by_id)
    if (member[x.id]) mass += x.v;
  const double target = philox_uniform(params.seed, index) * mass;
  double cum = 0.0;
  for (size_t i = 0; i < keep; ++i)
    if (target < (cum += sorted[i].v)) return sorted[i].id;
  return sorted[keep - 1].id;
}

TEST(SamplerLargeVocab, PartialSortsEqualFullSortOn151kVocab) {
  std::mt19937_64 rng(151936);
  std::normal_distribution<float> dist(0.0f, 2.5f);
  std::vector<float> logits(151936);
  for (float& x : logits) x = dist(rng);
  for (int i = 0; i < 50; ++i) logits[rng() % logits.size()] = 9.0f;  // exact ties among the top tokens
  struct Case {
    float temperature, top_p, min_p;
    int top_k;
  };
  const Case cases[] = {{1.0f, 1.0f, 0.0f, 0},  {0.7f, 0.9f, 0.0f, 0},  {1.5f, 0.95f, 0.0f, 40},
                        {1.0f, 1.0f, 0.05f, 0}, {2.0f, 0.5f, 0.01f, 0}, {1.0f, 1.0f, 0.0f, 100000},
                        {4.0f, 1.0f, 0.0f, 0}};
  for (const Case& k : cases) {
    SamplingParams p;
    p.temperature = k.temperature;
    p.top_p = k.top_p;
    p.min_p = k.min_p;
    p.top_k = k.top_k;
    p.seed = 2024;
    for (uint64_t i = 0; i < 4; ++i) {
      const SampledToken s = sample(logits, p, i);
      EXPECT_EQ(s.token, naive_sample(logits, p, i))
          << "T " << k.temperature << " top_p " << k.top_p << " min_p " << k.min_p << " top_k " << k.top_k;
    }
  }
}

}  // namespace
}  // namespace verbatim

#include "app/divergence.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "util/error.h"

namespace verbatim::app {

namespace {

// The completion's logprobs as their bit patterns, so that -0.0 / 0.0 and NaNs compare as bits.
std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  if (!v.empty()) std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}

int first_difference(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return static_cast<int>(i);
  return a.size() == b.size() ? -1 : static_cast<int>(n);
}

}  // namespace

DivergenceStats divergence_stats(const std::vector<std::vector<int32_t>>& tokens,
                                 const std::vector<std::vector<float>>& logprobs) {
  if (tokens.size() != logprobs.size())
    fail("divergence", std::to_string(tokens.size()) + " token sequences but " + std::to_string(logprobs.size()) +
                           " logprob sequences");
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].size() != logprobs[i].size())
      fail("divergence", "run " + std::to_string(i) + " has " + std::to_string(tokens[i].size()) + " tokens but " +
                             std::to_string(logprobs[i].size()) + " logprobs");
  DivergenceStats s;
  s.runs = static_cast<int>(tokens.size());
  if (s.runs == 0) return s;

  // Count completions; the reference is the most common, the earliest seen among equals.
  std::map<std::vector<int32_t>, std::pair<int, int>> counts;  // tokens -> (count, first run)
  std::map<std::pair<std::vector<int32_t>, std::vector<uint32_t>>, int> bitwise;
  for (int i = 0; i < s.runs; ++i) {
    auto [it, inserted] = counts.try_emplace(tokens[i], 0, i);
    ++it->second.first;
    ++bitwise[{tokens[i], bits_of(logprobs[i])}];
  }
  s.unique = static_cast<int>(counts.size());
  s.unique_bitwise = static_cast<int>(bitwise.size());
  for (const auto& [seq, cf] : counts) {
    if (cf.first > s.most_common_count || (cf.first == s.most_common_count && cf.second < s.reference_run)) {
      s.most_common_count = cf.first;
      s.reference_run = cf.second;
    }
  }

  const std::vector<int32_t>& ref = tokens[s.reference_run];
  const std::vector<float>& ref_lp = logprobs[s.reference_run];
  s.max_abs_dlogprob.assign(ref.size(), 0.0);
  s.divergence_positions.assign(s.runs, -1);
  for (int i = 0; i < s.runs; ++i) {
    const int d = first_difference(tokens[i], ref);
    s.divergence_positions[i] = d;
    if (d >= 0) {
      ++s.diverged_runs;
      if (s.first_divergence < 0 || d < s.first_divergence) s.first_divergence = d;
    }
    // Positions whose tokens agree with the reference through t: [0, d) (or all when equal).
    const size_t agree = d < 0 ? ref.size() : static_cast<size_t>(d);
    for (size_t t = 0; t < agree; ++t) {
      const double delta = std::fabs(static_cast<double>(logprobs[i][t]) - static_cast<double>(ref_lp[t]));
      if (delta > s.max_abs_dlogprob[t] || std::isnan(delta)) s.max_abs_dlogprob[t] = delta;
    }
  }
  for (double v : s.max_abs_dlogprob) s.max_abs_dlogprob_overall = std::max(s.max_abs_dlogprob_overall, v);
  return s;
}

}  // namespace verbatim::app

#include "app/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

namespace verbatim::app {

std::vector<int> bench_output_lengths(int n, int lo, int hi, uint64_t seed) {
  if (n < 0) fail("bench", "the request count must be >= 0");
  if (lo < 1 || hi < lo)
    fail("bench", "output lengths need 1 <= min <= max, got [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  std::vector<int> out(static_cast<size_t>(n));
  uint64_t state = seed;
  for (int& v : out) {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    v = lo + static_cast<int>(z % static_cast<uint64_t>(hi - lo + 1));
  }
  return out;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double rank = (static_cast<double>(v.size()) - 1.0) * std::clamp(p, 0.0, 100.0) / 100.0;
  const size_t i = static_cast<size_t>(std::floor(rank));
  if (i + 1 >= v.size()) return v.back();
  const double frac = rank - static_cast<double>(i);
  return v[i] + (v[i + 1] - v[i]) * frac;
}

LatencySummary summarize_latencies(const std::vector<double>& values) {
  LatencySummary s;
  s.count = values.size();
  if (values.empty()) {
    s.mean = s.p50 = s.p90 = s.p99 = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  s.p50 = percentile(values, 50);
  s.p90 = percentile(values, 90);
  s.p99 = percentile(values, 99);
  return s;
}

BenchSummary summarize_bench(const std::string& label, const std::vector<BenchRecord>& records, double total_seconds) {
  BenchSummary s;
  s.label = label;
  s.requests = static_cast<int>(records.size());
  s.total_seconds = total_seconds;
  std::vector<double> ttft, itl;
  for (const BenchRecord& r : records) {
    if (!r.ok) {
      ++s.failed;
      if (s.first_error.empty()) s.first_error = r.error;
      continue;
    }
    const int n = static_cast<int>(r.token_times.size());
    const int produced = r.tokens_reported >= 0 ? r.tokens_reported : n;
    s.output_tokens += produced;
    if (produced != r.max_tokens) ++s.length_mismatches;
    if (n > 0) ttft.push_back(r.token_times[0] - r.submitted);
    for (int i = 1; i < n; ++i)
      itl.push_back(r.token_times[static_cast<size_t>(i)] - r.token_times[static_cast<size_t>(i - 1)]);
  }
  s.output_tokens_per_second = total_seconds > 0.0 ? static_cast<double>(s.output_tokens) / total_seconds : 0.0;
  s.ttft = summarize_latencies(ttft);
  s.itl = summarize_latencies(itl);
  return s;
}

}  // namespace verbatim::app

// The statistics of `verbatim bench`, shared by its in-process and HTTP runs: per-request timings in, throughput
// and latency percentiles out. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace verbatim::app {

// Output lengths uniform in [lo, hi], one per request, from a seeded generator fixed on every platform.
std::vector<int> bench_output_lengths(int n, int lo, int hi, uint64_t seed);

// The p-th percentile (p in [0, 100]) with linear interpolation between closest ranks (numpy's default): sorted
// values v[0..n-1], rank (n - 1) * p / 100. NaN for no values.
double percentile(std::vector<double> values, double p);

struct LatencySummary {
  size_t count = 0;
  double mean = 0.0, p50 = 0.0, p90 = 0.0, p99 = 0.0;  // seconds
};
LatencySummary summarize_latencies(const std::vector<double>& values);

// One request as the client saw it (a failed one counts in `failed` only). Times in seconds from the run's start.
struct BenchRecord {
  int max_tokens = 0;               // the drawn output length
  double submitted = 0.0;           // sent (HTTP) / submitted to the engine (in-process)
  std::vector<double> token_times;  // when each output token (HTTP: each streamed chunk with text) arrived
  int tokens_reported = -1;         // the server's count (usage.completion_tokens); -1: count token_times
  bool ok = false;
  std::string error;  // why it failed, when !ok
};

struct BenchSummary {
  std::string label;  // "invariant", "fast", "http"
  int requests = 0, failed = 0;
  int length_mismatches = 0;  // requests that produced a token count other than their drawn length
  int64_t output_tokens = 0;
  double total_seconds = 0.0;
  double output_tokens_per_second = 0.0;
  LatencySummary ttft;  // first token time - submitted, per request
  LatencySummary itl;   // gaps between consecutive tokens of a request, pooled over requests
  std::string first_error;
};
// total_seconds: the wall time of the whole run (first submission to last token).
BenchSummary summarize_bench(const std::string& label, const std::vector<BenchRecord>& records, double total_seconds);

}  // namespace verbatim::app

// verbatim bench's library part: seeded output lengths, percentiles and the summary on hand-made timings, and a
// tiny in-process run in which every request produces exactly its drawn length.
#include <gtest/gtest.h>

#include <cmath>

#include "app/bench_run.h"
#include "app/bench_stats.h"
#include "app/chat_prompt.h"
#include "app/model_bundle.h"
#include "util/error.h"

namespace verbatim::app {
namespace {

TEST(BenchStats, OutputLengthsAreSeededAndUniformInRange) {
  const auto a = bench_output_lengths(2000, 90, 110, 1);
  EXPECT_EQ(a, bench_output_lengths(2000, 90, 110, 1));
  EXPECT_NE(a, bench_output_lengths(2000, 90, 110, 2));
  std::vector<int> hist(21, 0);
  for (int v : a) {
    ASSERT_GE(v, 90);
    ASSERT_LE(v, 110);
    ++hist[static_cast<size_t>(v - 90)];
  }
  for (int c : hist) EXPECT_GT(c, 40);  // ~95 each: every value drawn
  EXPECT_EQ(bench_output_lengths(3, 7, 7, 9), (std::vector<int>{7, 7, 7}));
  EXPECT_THROW(bench_output_lengths(3, 0, 5, 1), Error);
  EXPECT_THROW(bench_output_lengths(3, 6, 5, 1), Error);
}

TEST(BenchStats, PercentilesInterpolateBetweenClosestRanks) {
  // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) = 2.5, 3.7, 3.97
  const std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_NEAR(percentile(v, 90), 3.7, 1e-12);
  EXPECT_NEAR(percentile(v, 99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 4.0);
  EXPECT_DOUBLE_EQ(percentile({5.0}, 99), 5.0);
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
  std::vector<double> hundred;
  for (int i = 1; i <= 101; ++i) hundred.push_back(i);
  EXPECT_DOUBLE_EQ(percentile(hundred, 90), 91.0);
  EXPECT_DOUBLE_EQ(percentile(hundred, 99), 100.0);
  const LatencySummary s = summarize_latencies(v);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.p50, 2.5);
}

TEST(BenchStats, SummaryOfHandMadeRecords) {
  std::vector<BenchRecord> r(3);
  r[0] = {.max_tokens = 3,
          .submitted = 0.0,
          .token_times = {0.5, 0.6, 0.8},
          .tokens_reported = -1,
          .ok = true,
          .error = ""};
  r[1] = {.max_tokens = 2, .submitted = 1.0, .token_times = {1.25, 1.5}, .tokens_reported = 3, .ok = true, .error = ""};
  r[2] = {.max_tokens = 5,
          .submitted = 0.0,
          .token_times = {},
          .tokens_reported = -1,
          .ok = false,
          .error = "HTTP 500: boom"};
  const BenchSummary s = summarize_bench("http", r, 2.0);
  EXPECT_EQ(s.requests, 3);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.first_error, "HTTP 500: boom");
  EXPECT_EQ(s.output_tokens, 6);      // 3 counted + 3 reported by the server
  EXPECT_EQ(s.length_mismatches, 1);  // the server made 3 of a drawn 2
  EXPECT_DOUBLE_EQ(s.output_tokens_per_second, 3.0);
  EXPECT_EQ(s.ttft.count, 2u);  // 0.5 and 0.25
  EXPECT_DOUBLE_EQ(s.ttft.p50, 0.375);
  EXPECT_EQ(s.itl.count, 3u);  // 0.1, 0.2, 0.25
  EXPECT_NEAR(s.itl.p50, 0.2, 1e-12);
  EXPECT_NEAR(s.itl.mean, (0.1 + 0.2 + 0.25) / 3, 1e-12);
}

TEST(BenchRun, InProcessEveryRequestProducesItsDrawnLength) {
  const ModelBundle b = synth_bundle({.arch = "qwen3-tiny", .seed = 1, .dtype = DType::BF16, .layers = 2});
  BenchOptions o;
  o.requests = 9;
  o.concurrency = 4;
  o.min_tokens = 3;
  o.max_tokens = 9;
  o.seed = 4;
  o.warmup = 2;
  o.prompt = chat_prompt_tokens(b, kFeynmanPrompt);
  o.engine.threads = 1;
  o.engine.kv_cache_bytes = int64_t{16} << 20;
  for (Mode m : {Mode::Invariant, Mode::Fast}) {
    o.engine.mode = m;
    double total = 0.0;
    int calls = 0, last = 0;
    const auto records = run_bench_engine(*b.model, b.tokenizer.get(), o, &total, [&](int done, int n) {
      ++calls;
      EXPECT_EQ(n, 9);
      EXPECT_GT(done, last);
      last = done;
    });
    EXPECT_EQ(last, 9);
    EXPECT_GT(calls, 0);
    const auto lengths = bench_output_lengths(9, 3, 9, 4);
    ASSERT_EQ(records.size(), 9u);
    int64_t expected = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_TRUE(records[i].ok) << records[i].error;
      EXPECT_EQ(records[i].max_tokens, lengths[i]);
      EXPECT_EQ(static_cast<int>(records[i].token_times.size()), lengths[i]);
      EXPECT_GE(records[i].token_times.front(), records[i].submitted);
      expected += lengths[i];
    }
    const BenchSummary s = summarize_bench(mode_name(m), records, total);
    EXPECT_EQ(s.output_tokens, expected);
    EXPECT_EQ(s.failed, 0);
    EXPECT_EQ(s.length_mismatches, 0);
    EXPECT_EQ(s.ttft.count, 9u);
    EXPECT_EQ(s.itl.count, static_cast<size_t>(expected - 9));
    EXPECT_GT(total, 0.0);
  }
}

}  // namespace
}  // namespace verbatim::app

// verbatim demo's library part: the divergence statistics on hand-made completions, the seeded schedule, a small
// demo run (invariant mode gives exactly one completion, bitwise, whatever ran beside it), and the report's
// structure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <regex>

#include "app/chat_prompt.h"
#include "app/demo_report.h"
#include "app/demo_run.h"
#include "app/divergence.h"
#include "app/model_bundle.h"
#include "util/error.h"

namespace verbatim::app {
namespace {

using Tokens = std::vector<std::vector<int32_t>>;
using Logprobs = std::vector<std::vector<float>>;

TEST(Divergence, HandMadeCompletions) {
  // Runs 0, 2, 4 are the reference (most common); run 1 diverges at token 2, run 3 at token 1; run 4 has the
  // reference's tokens with one logprob 0.25 off at position 1, run 1 one 0.5 off at position 0.
  const Tokens t = {{5, 6, 7, 8}, {5, 6, 9, 8}, {5, 6, 7, 8}, {5, 1, 7, 8}, {5, 6, 7, 8}};
  const Logprobs lp = {{-1.0f, -2.0f, -3.0f, -4.0f},
                       {-1.5f, -2.0f, -0.1f, -0.1f},
                       {-1.0f, -2.0f, -3.0f, -4.0f},
                       {-1.0f, -9.0f, -9.0f, -9.0f},
                       {-1.0f, -2.25f, -3.0f, -4.0f}};
  const DivergenceStats s = divergence_stats(t, lp);
  EXPECT_EQ(s.runs, 5);
  EXPECT_EQ(s.unique, 3);
  EXPECT_EQ(s.unique_bitwise, 4);  // run 4 has the reference's tokens but other bits
  EXPECT_EQ(s.most_common_count, 3);
  EXPECT_EQ(s.reference_run, 0);
  EXPECT_EQ(s.first_divergence, 1);
  EXPECT_EQ(s.diverged_runs, 2);
  EXPECT_EQ(s.divergence_positions, (std::vector<int>{-1, 2, -1, 1, -1}));
  // Position 0: run 1 (agrees through 0) is 0.5 off; position 1: run 4 is 0.25 off (run 3 diverged there, run 1
  // agrees); positions 2, 3: only runs equal to the reference count.
  EXPECT_EQ(s.max_abs_dlogprob, (std::vector<double>{0.5, 0.25, 0.0, 0.0}));
  EXPECT_EQ(s.max_abs_dlogprob_overall, 0.5);
}

TEST(Divergence, ReferenceIsTheMostCommonAndTiesGoToTheFirstSeen) {
  const Tokens t = {{1, 2}, {1, 3}, {1, 3}, {1, 2}};
  const Logprobs lp(4, std::vector<float>{-1.0f, -1.0f});
  const DivergenceStats s = divergence_stats(t, lp);
  EXPECT_EQ(s.unique, 2);
  EXPECT_EQ(s.most_common_count, 2);
  EXPECT_EQ(s.reference_run, 0);
  EXPECT_EQ(s.divergence_positions, (std::vector<int>{-1, 1, 1, -1}));

  const Tokens u = {{1, 2}, {1, 3}, {1, 3}};
  EXPECT_EQ(divergence_stats(u, Logprobs(3, std::vector<float>{0.0f, 0.0f})).reference_run, 1);
}

TEST(Divergence, PrefixesAndIdenticalRuns) {
  // A strict prefix diverges at the shorter length.
  const DivergenceStats p = divergence_stats({{4, 4, 4}, {4, 4, 4}, {4, 4}}, {{0, 0, 0}, {0, 0, 0}, {0, 0}});
  EXPECT_EQ(p.divergence_positions, (std::vector<int>{-1, -1, 2}));
  EXPECT_EQ(p.first_divergence, 2);
  // All equal: one completion, no divergence, zero spread, and -0.0 vs 0.0 are other bits.
  const DivergenceStats e = divergence_stats({{9}, {9}}, {{0.0f}, {-0.0f}});
  EXPECT_EQ(e.unique, 1);
  EXPECT_EQ(e.unique_bitwise, 2);
  EXPECT_EQ(e.first_divergence, -1);
  EXPECT_EQ(e.diverged_runs, 0);
  EXPECT_EQ(e.max_abs_dlogprob_overall, 0.0);
  EXPECT_EQ(divergence_stats({}, {}).unique, 0);
  EXPECT_THROW(divergence_stats({{1}}, {}), Error);
  EXPECT_THROW(divergence_stats({{1, 2}}, {{0.0f}}), Error);
}

ModelBundle tiny_bundle() {
  return synth_bundle({.arch = "qwen3-tiny", .seed = 3, .dtype = DType::BF16, .layers = 2});
}

DemoOptions small_options(const ModelBundle& b) {
  DemoOptions o;
  o.runs = 6;
  o.max_tokens = 10;
  o.background = 8;
  o.background_prompt_max = 40;
  o.background_tokens_max = 12;
  o.seed = 5;
  o.prompt = chat_prompt_tokens(b, kFeynmanPrompt);
  o.engine.threads = 1;
  o.engine.max_running = 8;
  o.engine.max_batch_tokens = 64;
  o.engine.kv_cache_bytes = int64_t{16} << 20;
  return o;
}

TEST(ChatPrompt, SyntheticModelUsesTheBuiltInChatMl) {
  const ModelBundle b = tiny_bundle();
  EXPECT_EQ(chat_prompt_text(b, kFeynmanPrompt),
            "<|im_start|>user\nTell me about Richard Feynman<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<int32_t> ids = chat_prompt_tokens(b, kFeynmanPrompt);
  const int32_t im_start = *b.tokenizer->find_piece("<|im_start|>");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), im_start);  // a special token, parsed; no BOS (Qwen adds none)
  EXPECT_EQ(std::count(ids.begin(), ids.end(), im_start), 2);
}

TEST(DemoSchedule, SeededAndWithinBounds) {
  const ModelBundle b = tiny_bundle();
  const DemoOptions o = small_options(b);
  const auto s1 = demo_schedule(o, b.model->config, b.tokenizer.get());
  const auto s2 = demo_schedule(o, b.model->config, b.tokenizer.get());
  ASSERT_EQ(s1.size(), 14u);
  std::vector<int> probes;
  int prev = 0;
  for (size_t i = 0; i < s1.size(); ++i) {
    EXPECT_EQ(s1[i].arrival_step, s2[i].arrival_step);
    EXPECT_EQ(s1[i].prompt, s2[i].prompt);
    EXPECT_EQ(s1[i].params.max_tokens, s2[i].params.max_tokens);
    EXPECT_GE(s1[i].arrival_step, prev);
    EXPECT_LE(s1[i].arrival_step - prev, o.arrival_gap_max);
    prev = s1[i].arrival_step;
    if (s1[i].probe >= 0) {
      probes.push_back(s1[i].probe);
      EXPECT_EQ(s1[i].prompt, o.prompt);
      EXPECT_EQ(s1[i].params.max_tokens, o.max_tokens);
      EXPECT_EQ(s1[i].params.sampling.temperature, 0.0f);
    } else {
      EXPECT_GE(s1[i].prompt.size(), 1u);
      EXPECT_LE(s1[i].prompt.size(), 40u);
      EXPECT_GE(s1[i].params.max_tokens, 1);
      EXPECT_LE(s1[i].params.max_tokens, 12);
      for (int32_t t : s1[i].prompt) EXPECT_FALSE(b.tokenizer->is_control(t));
    }
  }
  std::sort(probes.begin(), probes.end());
  EXPECT_EQ(probes, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  DemoOptions other = o;
  other.seed = 6;
  const auto s3 = demo_schedule(other, b.model->config, b.tokenizer.get());
  bool differs = false;
  for (size_t i = 0; i < s1.size(); ++i) differs = differs || s1[i].prompt != s3[i].prompt;
  EXPECT_TRUE(differs);
}

// Sampled probes stay identical requests: one temperature and one seed for all, the schedule otherwise unchanged;
// in invariant mode they give one completion, bitwise.
TEST(DemoSchedule, SampledProbesShareTemperatureAndSeed) {
  const ModelBundle b = tiny_bundle();
  DemoOptions o = small_options(b);
  EXPECT_EQ(probe_kind_text(o), "greedy");
  const auto greedy = demo_schedule(o, b.model->config, b.tokenizer.get());
  o.probe_temperature = 0.7f;
  o.probe_seed = 42;
  EXPECT_EQ(probe_kind_text(o), "sampled (temperature 0.7, seed 42)");
  const auto sampled = demo_schedule(o, b.model->config, b.tokenizer.get());
  ASSERT_EQ(sampled.size(), greedy.size());
  for (size_t i = 0; i < sampled.size(); ++i) {
    EXPECT_EQ(sampled[i].arrival_step, greedy[i].arrival_step);
    EXPECT_EQ(sampled[i].prompt, greedy[i].prompt);
    if (sampled[i].probe < 0) {
      EXPECT_EQ(sampled[i].params.sampling.seed, greedy[i].params.sampling.seed);
      continue;
    }
    EXPECT_EQ(sampled[i].params.sampling.temperature, 0.7f);
    EXPECT_EQ(sampled[i].params.sampling.seed, 42u);
  }
  o.modes = {Mode::Invariant};
  const DemoResult r = run_demo(*b.model, b.tokenizer.get(), o);
  EXPECT_EQ(r.modes[0].stats.unique_bitwise, 1);
  o.probe_temperature = -1.0f;
  EXPECT_THROW(demo_schedule(o, b.model->config, b.tokenizer.get()), Error);
}

TEST(DemoRun, InvariantModeGivesExactlyOneCompletion) {
  const ModelBundle b = tiny_bundle();
  const DemoOptions o = small_options(b);
  int calls = 0;
  const DemoResult r = run_demo(*b.model, b.tokenizer.get(), o, [&](const DemoProgress&) { ++calls; });
  EXPECT_GT(calls, 0);
  ASSERT_EQ(r.modes.size(), 2u);
  EXPECT_EQ(r.modes[0].mode, Mode::Fast);
  const DemoModeResult& inv = r.modes[1];
  EXPECT_EQ(inv.mode, Mode::Invariant);
  EXPECT_EQ(inv.stats.runs, 6);
  EXPECT_EQ(inv.stats.unique, 1);
  EXPECT_EQ(inv.stats.unique_bitwise, 1);
  EXPECT_EQ(inv.stats.most_common_count, 6);
  EXPECT_EQ(inv.stats.first_divergence, -1);
  EXPECT_EQ(inv.stats.max_abs_dlogprob_overall, 0.0);
  for (const auto& t : inv.tokens) EXPECT_EQ(t.size(), 10u);
  ASSERT_EQ(inv.top2_margin.size(), 10u);
  for (double m : inv.top2_margin) EXPECT_GE(m, 0.0);
  // Both modes ran every probe to its length.
  for (const auto& t : r.modes[0].tokens) EXPECT_EQ(t.size(), 10u);
  EXPECT_GT(inv.generated_tokens, 60u);
}

TEST(DemoReport, WellFormedChartsWithTheRunsNumbers) {
  const ModelBundle b = tiny_bundle();
  DemoOptions o = small_options(b);
  o.modes = {Mode::Invariant};
  DemoResult r = run_demo(*b.model, b.tokenizer.get(), o);
  // A hand-made fast result beside it, so that every chart has a non-trivial series.
  DemoModeResult fake = r.modes[0];
  fake.mode = Mode::Fast;
  fake.tokens[1][4] ^= 1;
  fake.logprobs[2][3] += 0.001f;
  fake.texts[1] = "a <b> & \"c\" \x01";
  fake.stats = divergence_stats(fake.tokens, fake.logprobs);
  r.modes.insert(r.modes.begin(), fake);
  const std::string html = demo_report_html(r, {.model = "m", .prompt = "p <q>", .prompt_tokens = 3});
  for (const char* id : {"chart-unique", "chart-divergence", "chart-dlogprob"})
    EXPECT_NE(html.find(std::string("<svg id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("data-mode=\"fast\" data-value=\"2\""), std::string::npos);
  EXPECT_NE(html.find("data-mode=\"invariant\" data-value=\"1\""), std::string::npos);
  EXPECT_NE(html.find("data-mode=\"fast\" data-from=\"4\" data-to=\"5\" data-count=\"1\""), std::string::npos);
  // No external resource: the only URLs are the XML namespaces.
  const std::regex url("(src|href)=\"");
  EXPECT_FALSE(std::regex_search(html, url));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("a &lt;b&gt; &amp; &quot;c&quot; \xEF\xBF\xBD"), std::string::npos);
  EXPECT_NE(html.find("p &lt;q&gt;"), std::string::npos);
  EXPECT_EQ(html_escape("<&>"), "&lt;&amp;&gt;");
}

}  // namespace
}  // namespace verbatim::app

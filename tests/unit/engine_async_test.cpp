// The engine's async scheduling (EngineOptions::async_scheduling) on the CPU, through the feeding test backend
// (tests/support/feeding_backend.h): completions are bitwise the synchronous engine's when a stop token lands while the
// next step already runs, at max_tokens and the context's end, when a request is cancelled while a fed step holds its
// rows, when requests arrive meanwhile, and after a failed step; the KV blocks all come back.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backend/plan.h"
#include "engine/block_manager.h"
#include "engine/engine.h"
#include "engine/scheduler.h"
#include "support/feeding_backend.h"
#include "support/test_support.h"
#include "unit/forward_tiny_model.h"
#include "util/error.h"

namespace verbatim {
namespace {

std::unique_ptr<Model> tiny_model() {
  testing::TinySpec spec;
  spec.vocab_size = 96;
  spec.max_seq_len = 96;
  spec.seed = 7;
  return testing::make_tiny_model(spec);
}

EngineOptions options(bool async) {
  EngineOptions o;
  o.num_blocks = 128;
  o.block_size = 4;
  o.max_batch_tokens = 64;
  o.max_logits = 64;
  if (async) o.wrap_backend = testing::feeding_wrapper();
  return o;
}

RequestParams params(int max_tokens, bool seeded, uint64_t seed) {
  RequestParams p;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  if (seeded) {
    p.sampling.temperature = 0.8f;
    p.sampling.top_k = 20;
    p.sampling.seed = seed;
  } else {
    p.sampling.temperature = 0.0f;
  }
  p.sampling.top_logprobs = 2;
  return p;
}

std::vector<int32_t> prompt(std::mt19937_64& rng, int len) {
  std::vector<int32_t> p(static_cast<size_t>(len));
  for (auto& t : p) t = static_cast<int32_t>(1 + rng() % 95);
  return p;
}

void expect_same_output(const RequestOutput& want, const RequestOutput& got, const std::string& what) {
  EXPECT_EQ(want.tokens, got.tokens) << what;
  ASSERT_EQ(want.logprobs.size(), got.logprobs.size()) << what;
  if (!want.logprobs.empty())
    EXPECT_EQ(std::memcmp(want.logprobs.data(), got.logprobs.data(), want.logprobs.size() * sizeof(float)), 0)
        << what << ": logprobs differ";
  EXPECT_EQ(want.top_logprobs, got.top_logprobs) << what;
  EXPECT_EQ(want.finish_reason, got.finish_reason) << what;
}

// One request alone, run to its end.
RequestOutput run_one(const Model& m, bool async, const std::vector<int32_t>& p, const RequestParams& rp,
                      EngineStats* stats = nullptr) {
  Engine e(m, nullptr, options(async));
  const uint64_t id = e.submit(p, rp);
  e.run_until_idle();
  if (stats != nullptr) *stats = e.stats();
  EXPECT_EQ(e.stats().kv_blocks_used, 0);
  return *e.take_output(id);
}

TEST(EngineAsync, DecodeStepsAreFedAndEqualTheSyncEngine) {
  auto m = tiny_model();
  std::mt19937_64 rng(1);
  for (bool seeded : {false, true}) {
    const std::vector<int32_t> p = prompt(rng, 13);
    const RequestParams rp = params(20, seeded, 99);
    EngineStats st;
    const RequestOutput sync = run_one(*m, false, p, rp);
    const RequestOutput async = run_one(*m, true, p, rp, &st);
    ASSERT_EQ(sync.tokens.size(), 20u);
    expect_same_output(sync, async, seeded ? "seeded" : "greedy");
    // One prefill step and 19 decode steps, each one fed (the first one enqueued behind the prefill).
    EXPECT_EQ(st.steps, 20u);
    EXPECT_EQ(st.fed_steps, 19u);
    EXPECT_EQ(st.dropped_rows, 0u);  // max_tokens is foreseen: no row past it is ever enqueued
  }
}

// Requests ending at different max_tokens: the one a step ends leaves, the others' next step is still fed, so every
// decode step is (the first behind the prefill too).
TEST(EngineAsync, RequestsEndingByTheirLimitsDoNotStopTheFeeding) {
  auto m = tiny_model();
  std::mt19937_64 rng(10);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<RequestParams> ps;
  for (int max_tokens : {3, 5, 1, 9, 6}) {
    prompts.push_back(prompt(rng, 8));
    ps.push_back(params(max_tokens, max_tokens % 2 == 0, rng()));
  }
  Engine e(*m, nullptr, options(true));
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < prompts.size(); ++i) ids.push_back(e.submit(prompts[i], ps[i]));
  ASSERT_TRUE(e.step());  // the prefill, completed after the first decode step was enqueued behind it
  EXPECT_EQ(e.stats().in_flight, 1);
  EXPECT_EQ(e.stats().steps, 2u);
  e.run_until_idle();
  EXPECT_EQ(e.stats().in_flight, 0);
  EXPECT_EQ(e.stats().steps, 9u);  // one prefill step for all, then decode until the longest is done
  EXPECT_EQ(e.stats().fed_steps, 8u);
  EXPECT_EQ(e.stats().dropped_rows, 0u);
  EXPECT_EQ(e.stats().kv_blocks_used, 0);
  for (size_t i = 0; i < ids.size(); ++i)
    expect_same_output(run_one(*m, false, prompts[i], ps[i]), *e.take_output(ids[i]), "request " + std::to_string(i));
}

TEST(EngineAsync, StopTokenWhileTheNextStepRunsDropsItsRow) {
  auto m = tiny_model();
  std::mt19937_64 rng(2);
  const std::vector<int32_t> p = prompt(rng, 9);
  const RequestOutput full = run_one(*m, false, p, params(16, true, 5));
  ASSERT_EQ(full.tokens.size(), 16u);
  for (int at : {0, 3, 10}) {
    RequestParams rp = params(16, true, 5);
    rp.stop_token_ids = {full.tokens[static_cast<size_t>(at)]};
    EngineStats st;
    const RequestOutput sync = run_one(*m, false, p, rp);
    const RequestOutput async = run_one(*m, true, p, rp, &st);
    ASSERT_EQ(sync.finish_reason, FinishReason::Stop);
    expect_same_output(sync, async, "stop token at " + std::to_string(at));
    EXPECT_EQ(st.dropped_rows, 1u) << "the fed row after the stop token";
  }
}

TEST(EngineAsync, MaxTokensAndTheContextEndAreNeverOvershot) {
  auto m = tiny_model();
  std::mt19937_64 rng(3);
  for (int max_tokens : {1, 2, 3, 7}) {
    const std::vector<int32_t> p = prompt(rng, 5);
    EngineStats st;
    const RequestOutput async = run_one(*m, true, p, params(max_tokens, false, 0), &st);
    expect_same_output(run_one(*m, false, p, params(max_tokens, false, 0)), async,
                       "max_tokens " + std::to_string(max_tokens));
    EXPECT_EQ(async.tokens.size(), static_cast<size_t>(max_tokens));
    EXPECT_EQ(st.dropped_rows, 0u);
  }
  // Prompt + max_tokens = the context: the last token fills it.
  const std::vector<int32_t> p = prompt(rng, 90);
  const RequestOutput async = run_one(*m, true, p, params(6, true, 11));
  expect_same_output(run_one(*m, false, p, params(6, true, 11)), async, "at the context's end");
  EXPECT_EQ(async.tokens.size(), 6u);
}

TEST(EngineAsync, CancelWhileAFedStepHoldsTheRequestsRows) {
  auto m = tiny_model();
  std::mt19937_64 rng(4);
  const std::vector<int32_t> pa = prompt(rng, 11), pb = prompt(rng, 7);
  const RequestParams ra = params(30, true, 1), rb = params(12, false, 0);
  const RequestOutput b_alone = run_one(*m, false, pb, rb);
  const RequestOutput a_alone = run_one(*m, false, pa, ra);

  Engine e(*m, nullptr, options(true));
  const uint64_t a = e.submit(pa, ra);
  const uint64_t b = e.submit(pb, rb);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(e.step());
  const uint64_t fed_before = e.stats().fed_steps;
  ASSERT_GT(fed_before, 0u);
  const int used_before = e.stats().kv_blocks_used;
  e.cancel(a);  // the fed step in flight holds a row of a: its blocks wait for that step
  std::optional<RequestOutput> out_a = e.take_output(a);
  ASSERT_TRUE(out_a.has_value());
  EXPECT_EQ(out_a->finish_reason, FinishReason::Cancelled);
  EXPECT_EQ(e.stats().kv_blocks_used, used_before) << "released while a step in flight still writes them";
  ASSERT_LE(out_a->tokens.size(), a_alone.tokens.size());
  EXPECT_EQ(out_a->tokens, std::vector<int32_t>(a_alone.tokens.begin(), a_alone.tokens.begin() + out_a->tokens.size()));
  EXPECT_FALSE(e.idle());
  e.run_until_idle();
  EXPECT_TRUE(e.idle());
  EXPECT_EQ(e.stats().kv_blocks_used, 0);
  EXPECT_GE(e.stats().dropped_rows, 1u);
  expect_same_output(b_alone, *e.take_output(b), "the request beside the cancelled one");
  EXPECT_FALSE(e.take_output(a).has_value());
}

// Random requests arriving at random steps, some with stop tokens, some cancelled: every request that is not
// cancelled equals its lone synchronous run bitwise; a cancelled one holds a prefix of it.
TEST(EngineAsync, RandomArrivalsStopsAndCancelsEqualTheSyncEngine) {
  auto m = tiny_model();
  const uint64_t seed = testing::test_seed();
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 4; ++round) {
    struct Req {
      std::vector<int32_t> prompt;
      RequestParams params;
      int arrive = 0, cancel = -1;
      uint64_t id = 0;
    };
    std::vector<Req> reqs(3 + rng() % 10);
    for (Req& r : reqs) {
      r.prompt = prompt(rng, static_cast<int>(1 + rng() % 30));
      r.params = params(static_cast<int>(1 + rng() % 14), rng() % 2 == 0, rng());
      if (rng() % 3 == 0) r.params.stop_token_ids = {static_cast<int32_t>(1 + rng() % 95)};
      r.arrive = static_cast<int>(rng() % 12);
      if (rng() % 4 == 0) r.cancel = r.arrive + static_cast<int>(rng() % 8);
    }
    std::map<uint64_t, RequestOutput> outs;
    EngineOptions o = options(true);
    o.max_batch_tokens = 16 + static_cast<int>(rng() % 48);  // chunked prompts at times
    Engine e(*m, nullptr, o);
    for (int step = 0; step < 500; ++step) {
      for (Req& r : reqs) {
        if (r.arrive == step) r.id = e.submit(r.prompt, r.params);
        if (r.cancel == step && r.id != 0) e.cancel(r.id);
      }
      if (!e.step() && step > 20) break;
    }
    EXPECT_TRUE(e.idle());
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    EXPECT_GT(e.stats().fed_steps, 0u);
    for (size_t i = 0; i < reqs.size(); ++i) {
      const Req& r = reqs[i];
      std::optional<RequestOutput> got = e.take_output(r.id);
      ASSERT_TRUE(got.has_value());
      const RequestOutput want = run_one(*m, false, r.prompt, r.params);
      const std::string what =
          "round " + std::to_string(round) + " request " + std::to_string(i) + " (seed " + std::to_string(seed) + ")";
      if (got->finish_reason == FinishReason::Cancelled) {
        ASSERT_LE(got->tokens.size(), want.tokens.size()) << what;
        EXPECT_EQ(got->tokens, std::vector<int32_t>(want.tokens.begin(), want.tokens.begin() + got->tokens.size()))
            << what;
      } else {
        expect_same_output(want, *got, what);
      }
    }
  }
}

// A full running batch with requests queued behind it: schedule() could admit none of them, so decode steps are
// still fed; each finished request makes room and the next step is scheduled afresh, admitting one.
TEST(EngineAsync, AFullBatchWithAQueueBehindItStillFeeds) {
  auto m = tiny_model();
  std::mt19937_64 rng(9);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<RequestParams> ps;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(prompt(rng, static_cast<int>(3 + rng() % 10)));
    ps.push_back(params(static_cast<int>(4 + rng() % 8), i % 2 == 0, rng()));
  }
  for (const bool async : {false, true}) {
    EngineOptions o = options(async);
    o.max_running = 2;
    Engine e(*m, nullptr, o);
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < prompts.size(); ++i) ids.push_back(e.submit(prompts[i], ps[i]));
    e.run_until_idle();
    if (async) EXPECT_GT(e.stats().fed_steps, 10u) << "the queue behind a full batch stopped the feeding";
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    for (size_t i = 0; i < ids.size(); ++i)
      expect_same_output(run_one(*m, false, prompts[i], ps[i]), *e.take_output(ids[i]),
                         "request " + std::to_string(i) + (async ? ", async" : ", sync"));
  }
}

TEST(EngineAsync, AFailedStepDropsWhatIsInFlightAndTheEngineGoesOn) {
  auto m = tiny_model();
  std::mt19937_64 rng(6);
  const std::vector<int32_t> pa = prompt(rng, 10), pb = prompt(rng, 8);
  const RequestParams rp = params(10, true, 3);
  testing::FeedingBackend* fb = nullptr;
  EngineOptions o = options(false);
  o.wrap_backend = [&fb](std::unique_ptr<backend::Backend> inner) -> std::unique_ptr<backend::Backend> {
    auto b = std::make_unique<testing::FeedingBackend>(std::move(inner));
    fb = b.get();
    return b;
  };
  Engine e(*m, nullptr, o);
  ASSERT_NE(fb, nullptr);
  const uint64_t a = e.submit(pa, rp);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(e.step());
  fb->fail_wait_in(1);
  EXPECT_THROW(e.step(), Error);
  // What the failed step would have produced is lost; the request goes on from its last completed step (the server
  // cancels everything at this point; the engine itself stays consistent either way).
  e.run_until_idle();
  EXPECT_EQ(e.stats().kv_blocks_used, 0);
  std::optional<RequestOutput> out_a = e.take_output(a);
  ASSERT_TRUE(out_a.has_value());
  const RequestOutput alone = run_one(*m, false, pa, rp);
  EXPECT_EQ(out_a->tokens, alone.tokens) << "the dropped steps ran again";
  // And a later request runs as if nothing had happened.
  const uint64_t b = e.submit(pb, rp);
  e.run_until_idle();
  expect_same_output(run_one(*m, false, pb, rp), *e.take_output(b), "after a failed step");
  EXPECT_EQ(e.stats().kv_blocks_used, 0);
}

TEST(EngineAsync, OffOrOnABackendThatCannotFeedNothingIsFed) {
  auto m = tiny_model();
  std::mt19937_64 rng(8);
  const std::vector<int32_t> p = prompt(rng, 6);
  EngineStats st;
  run_one(*m, false, p, params(8, false, 0), &st);  // the plain CPU backend cannot feed
  EXPECT_EQ(st.fed_steps, 0u);
  EngineOptions o = options(true);
  o.async_scheduling = false;
  Engine e(*m, nullptr, o);
  e.submit(p, params(8, false, 0));
  e.run_until_idle();
  EXPECT_EQ(e.stats().fed_steps, 0u);
}

// Scheduler::schedule_fed builds the fed step only where schedule() would build the same one.
TEST(SchedulerFed, OnlyWhereScheduleWouldDecideTheSame) {
  BlockManager blocks({.num_blocks = 8, .block_size = 4});
  auto make = [](int len) {
    auto r = std::make_unique<Request>();
    r->params.max_tokens = 10;
    r->tokens.assign(static_cast<size_t>(len), 1);
    r->prompt_len = len;
    return r;
  };
  auto a = make(5), b = make(3), c = make(2);
  Scheduler sched({.max_batch_tokens = 16, .max_running = 2, .max_logits = 16}, blocks);
  sched.add(a.get());
  sched.add(b.get());
  StepPlan plan;
  ASSERT_EQ(sched.schedule(plan).size(), 2u);  // both prompts, whole
  std::vector<Request*> both = {a.get(), b.get()};
  const std::vector<int32_t> fed = {0, 1};
  std::vector<ScheduledSeq> next = sched.schedule_fed(plan, both, fed);
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(plan.positions, (std::vector<int32_t>{5, 3}));  // where the step ahead's tokens go
  EXPECT_EQ(plan.fed, fed);
  EXPECT_EQ(plan.tokens, (std::vector<int32_t>{0, 0}));  // placeholders
  EXPECT_EQ(a->kv.blocks.size(), 2u);                    // position 5 needs a second block
  // A request of the running batch left out: no; named as leaving (the step in flight ends it): yes, without it.
  std::vector<Request*> only_a = {a.get()}, only_b = {b.get()};
  EXPECT_TRUE(sched.schedule_fed(plan, only_a, std::vector<int32_t>{0}).empty());
  EXPECT_EQ(plan.n_rows(), 0);
  ASSERT_EQ(sched.schedule_fed(plan, only_a, std::vector<int32_t>{0}, only_b).size(), 1u);
  EXPECT_EQ(plan.positions, (std::vector<int32_t>{5}));
  // Someone waits behind a full running batch (max_running 2): schedule() admits nobody, so yes; but once b leaves
  // there is room for it: no.
  sched.add(c.get());
  EXPECT_EQ(sched.schedule_fed(plan, both, fed).size(), 2u);
  EXPECT_TRUE(sched.schedule_fed(plan, only_a, std::vector<int32_t>{0}, only_b).empty());
  // With room in the running batch, schedule() might admit it: no.
  Scheduler roomy({.max_batch_tokens = 16, .max_running = 3, .max_logits = 16}, blocks);
  auto d = make(2), e = make(2);
  roomy.add(d.get());
  ASSERT_EQ(roomy.schedule(plan).size(), 1u);
  std::vector<Request*> just_d = {d.get()};
  EXPECT_EQ(roomy.schedule_fed(plan, just_d, std::vector<int32_t>{0}).size(), 1u);
  roomy.add(e.get());
  EXPECT_TRUE(roomy.schedule_fed(plan, just_d, std::vector<int32_t>{0}).empty());
  // A forced preemption due at the next step: no.
  BlockManager blocks2({.num_blocks = 8, .block_size = 4});
  Scheduler forced({.max_batch_tokens = 16, .max_running = 4, .max_logits = 16, .preempt_interval = 2}, blocks2);
  auto f = make(3);
  forced.add(f.get());
  ASSERT_EQ(forced.schedule(plan).size(), 1u);  // step 1
  std::vector<Request*> just_f = {f.get()};
  EXPECT_TRUE(forced.schedule_fed(plan, just_f, std::vector<int32_t>{0}).empty());  // step 2 preempts
  // No free block for the next position: no (and nothing is preempted).
  BlockManager tiny({.num_blocks = 1, .block_size = 4});
  Scheduler full({.max_batch_tokens = 16, .max_running = 4, .max_logits = 16}, tiny);
  auto g = make(4);
  full.add(g.get());
  ASSERT_EQ(full.schedule(plan).size(), 1u);
  std::vector<Request*> just_g = {g.get()};
  EXPECT_TRUE(full.schedule_fed(plan, just_g, std::vector<int32_t>{0}).empty());
  EXPECT_EQ(full.preemptions(), 0u);
  EXPECT_THROW(full.schedule_fed(plan, just_g, std::vector<int32_t>{}), Error);
  sched.remove(a.get());
  sched.remove(b.get());
  sched.remove(c.get());
  roomy.remove(d.get());
  roomy.remove(e.get());
  EXPECT_EQ(blocks.stats().used, 0);
}

TEST(StepPlanFeed, FedRowsAreCheckedAndNeedABackendThatFeeds) {
  StepPlan plan;
  const std::vector<int32_t> toks = {0}, blocks = {0};
  plan.add_seq(toks, 3, blocks, StepPlan::Logits::Last);
  EXPECT_THROW(plan.feed(1, 0), Error);   // no row 1
  EXPECT_THROW(plan.feed(0, -1), Error);  // no result -1
  plan.feed(0, 2);
  ASSERT_EQ(plan.fed.size(), 1u);
  EXPECT_EQ(plan.fed[0], 2);
  plan.add_seq(toks, 0, blocks, StepPlan::Logits::Last);
  EXPECT_EQ(plan.fed, (std::vector<int32_t>{2, -1}));  // later rows are not fed
  plan.validate(4, 4, 10);
  plan.fed.push_back(-1);
  EXPECT_THROW(plan.validate(4, 4, 10), Error);  // fed and rows differ in length
  plan.fed = {2, -5};
  EXPECT_THROW(plan.validate(4, 4, 10), Error);
  plan.clear();
  EXPECT_TRUE(plan.fed.empty());

  // The feeding test backend holds the contract the CUDA backend does.
  testing::FeedingBackend fb(backend::make_cpu_backend({}));
  StepPlan fed;
  fed.add_seq(toks, 0, blocks, StepPlan::Logits::Last);
  fed.feed(0, 0);
  EXPECT_THROW(fb.begin_step(fed), Error);  // no sample_async before it
  std::vector<backend::SampleResult> out(1);
  EXPECT_THROW(fb.sample_wait(out), Error);  // nothing pending
}

}  // namespace
}  // namespace verbatim

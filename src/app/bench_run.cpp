#include "app/bench_run.h"

#include <algorithm>
#include <chrono>

#include "util/error.h"

namespace verbatim::app {

std::vector<BenchRecord> run_bench_engine(const Model& model, const Tokenizer* tokenizer, const BenchOptions& opt,
                                          double* total_seconds, const BenchProgressFn& progress) {
  if (opt.requests < 0) fail("bench", "--requests must be >= 0");
  if (opt.concurrency <= 0) fail("bench", "--concurrency must be positive");
  if (opt.prompt.empty()) fail("bench", "the prompt is empty");
  const std::vector<int> lengths = bench_output_lengths(opt.requests, opt.min_tokens, opt.max_tokens, opt.seed);
  EngineOptions eo = opt.engine;
  // Room for every request in flight at once.
  eo.max_running = std::max(eo.max_running, opt.concurrency);
  eo.max_logits = std::max(eo.max_logits, opt.concurrency);
  eo.max_batch_tokens = std::max(eo.max_batch_tokens, opt.concurrency);
  Engine engine(model, tokenizer, eo);

  auto base_params = [](int max_tokens) {
    RequestParams p;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    p.sampling.temperature = 0.0f;
    return p;
  };
  // Warm-up: a few short requests together (multi-row steps too), untimed.
  std::vector<uint64_t> warm;
  for (int i = 0; i < opt.warmup; ++i) warm.push_back(engine.submit(opt.prompt, base_params(4)));
  while (engine.step()) {
  }
  for (uint64_t id : warm) engine.take_output(id);

  using Clock = std::chrono::steady_clock;
  std::vector<BenchRecord> records(static_cast<size_t>(opt.requests));
  const auto t0 = Clock::now();
  auto now = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  int next = 0, in_flight = 0, done = 0;
  std::vector<uint64_t> ids;
  auto submit_next = [&] {
    BenchRecord& rec = records[static_cast<size_t>(next)];
    rec.max_tokens = lengths[static_cast<size_t>(next)];
    rec.submitted = now();
    BenchRecord* r = &rec;
    ids.push_back(
        engine.submit(opt.prompt, base_params(rec.max_tokens), [r, &now, &done, &in_flight](const TokenEvent& e) {
          if (e.token >= 0) r->token_times.push_back(now());
          if (e.finished) {
            r->ok = e.finish_reason == FinishReason::Length;
            if (!r->ok) r->error = std::string("finished with reason ") + finish_reason_name(e.finish_reason);
            ++done;
            --in_flight;
          }
        }));
    ++next;
    ++in_flight;
  };
  while (done < opt.requests) {
    while (next < opt.requests && in_flight < opt.concurrency) submit_next();
    const int before = done;
    if (!engine.step()) fail("bench", "the engine went idle with requests unfinished");
    if (done != before && progress) progress(done, opt.requests);
  }
  *total_seconds = now();
  for (uint64_t id : ids) engine.take_output(id);
  return records;
}

}  // namespace verbatim::app

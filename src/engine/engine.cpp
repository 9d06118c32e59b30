#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <string>

#include "backend/make_backend.h"
#include "util/error.h"

namespace verbatim {
namespace {

// The host-side samples of a step, computed before its bookkeeping: one per request of the batch that samples this
// step (caught up after this step's rows, under max_tokens), in parallel over those requests on the engine's
// threads. Each sample is a pure function of its own logit row, parameters and token index, so which thread computes
// it changes no bit; an error is kept and rethrown when the serial loop reaches that request, as if computed there.
struct HostSamples {
  std::vector<SampledToken> tokens;        // [batch]
  std::vector<std::exception_ptr> errors;  // [batch]
};

HostSamples sample_on_host(const std::vector<ScheduledSeq>& batch, const float* logits, int vocab, int threads) {
  HostSamples out;
  out.tokens.resize(batch.size());
  out.errors.resize(batch.size());
  std::vector<int> todo;  // batch indices
  for (size_t i = 0; i < batch.size(); ++i) {
    const Request& r = *batch[i].request;
    if (r.num_computed + batch[i].n_rows >= static_cast<int>(r.tokens.size()) && r.generated() < r.params.max_tokens)
      todo.push_back(static_cast<int>(i));
  }
  const int n = static_cast<int>(todo.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && n > 1)
  for (int j = 0; j < n; ++j) {
    const ScheduledSeq& s = batch[static_cast<size_t>(todo[j])];
    const Request& r = *s.request;
    try {
      const std::span<const float> row(logits + static_cast<size_t>(s.first_logit + s.n_logits - 1) * vocab,
                                       static_cast<size_t>(vocab));
      out.tokens[todo[j]] = sample(row, r.params.sampling, static_cast<uint64_t>(r.generated()));
    } catch (...) {
      out.errors[todo[j]] = std::current_exception();
    }
  }
  return out;
}

}  // namespace

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::None:
      return "";
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
      return "length";
    case FinishReason::Cancelled:
      return "cancelled";
  }
  return "";
}

void RequestParams::validate() const {
  if (max_tokens < 0) fail("max_tokens", "must be >= 0, got " + std::to_string(max_tokens));
  sampling.validate();
  for (const std::string& s : stop)
    if (s.empty()) fail("stop", "stop strings must not be empty");
}

void EngineOptions::validate() const {
  auto positive = [](const char* name, int64_t v) {
    if (v <= 0) fail(name, "must be positive, got " + std::to_string(v));
  };
  positive("threads", threads);
  positive("block_size", block_size);
  positive("max_batch_tokens", max_batch_tokens);
  positive("max_running", max_running);
  positive("max_logits", max_logits);
  positive("cuda_split_size", cuda_split_size);
  if (cuda_split_min < 0) fail("cuda_split_min", "must be >= 0, got " + std::to_string(cuda_split_min));
  if (cuda_split_min > cuda_split_size)
    fail("cuda_split_min",
         std::to_string(cuda_split_min) + " exceeds cuda_split_size " + std::to_string(cuda_split_size));
  if (cuda_fuse > 31)
    fail("cuda_fuse", "is a mask of the fusions 1, 2, 4, 8 and 16 (at most 31), got " + std::to_string(cuda_fuse));
  if (num_blocks < 0) fail("num_blocks", "must be >= 0");
  if (preempt_interval < 0) fail("preempt_interval", "must be >= 0");
  if (gpu_memory_bytes < 0) fail("gpu_memory_bytes", "must be >= 0");
  if (num_blocks == 0) positive("kv_cache_bytes", kv_cache_bytes);
  if (cpu_matmul != backend::CpuMatmul::Fp32 && backend != "cpu")
    fail("cpu_matmul",
         std::string(backend::cpu_matmul_name(cpu_matmul)) + " applies to the cpu backend only, not " + backend);
  if (cpu_kv != backend::CpuKv::Fp32 && backend != "cpu")
    fail("cpu_kv", std::string(backend::cpu_kv_name(cpu_kv)) + " applies to the cpu backend only, not " + backend);
}

std::vector<int32_t> end_of_sequence_ids(const Model& model, const Tokenizer* tokenizer) {
  std::vector<int32_t> ids(model.config.eos_ids.begin(), model.config.eos_ids.end());
  if (tokenizer != nullptr) ids.insert(ids.end(), tokenizer->eos_ids().begin(), tokenizer->eos_ids().end());
  if (model.format == ModelFormat::Llama2c) {
    const int32_t bos = tokenizer != nullptr && tokenizer->bos_id() >= 0 ? tokenizer->bos_id() : model.config.bos_id;
    if (bos >= 0) ids.push_back(bos);
  }
  return ids;
}

Engine::Engine(const Model& model, const Tokenizer* tokenizer, const EngineOptions& options)
    : model_(model), tokenizer_(tokenizer), opt_(options) {
  opt_.validate();
  const ModelConfig& cfg = model.config;
  std::unique_ptr<backend::Backend> made = backend::make_backend({.name = opt_.backend,
                                                                  .mode = opt_.mode,
                                                                  .threads = opt_.threads,
                                                                  .cpu_matmul = opt_.cpu_matmul,
                                                                  .cpu_kv = opt_.cpu_kv,
                                                                  .max_rows = opt_.max_batch_tokens,
                                                                  .max_logits = opt_.max_logits,
                                                                  .graphs = opt_.cuda_graphs,
                                                                  .fuse = opt_.cuda_fuse,
                                                                  .split_size = opt_.cuda_split_size,
                                                                  .split_min = opt_.cuda_split_min,
                                                                  .memory_budget_bytes = opt_.gpu_memory_bytes,
                                                                  .shared = opt_.backend_shared});
  backend_ = opt_.wrap_backend ? opt_.wrap_backend(std::move(made)) : std::move(made);
  if (backend_ == nullptr) fail("wrap_backend", "returned no backend");
  async_ = opt_.async_scheduling && backend_->can_sample() && backend_->can_feed();
  int num_blocks = opt_.num_blocks;
  // A GPU memory budget sizes the cache from what the weights leave (LlamaForward asks the backend: num_blocks 0).
  const bool from_budget = num_blocks == 0 && opt_.backend == "cuda" && opt_.gpu_memory_bytes > 0;
  if (num_blocks == 0 && !from_budget) {
    const int64_t per_block = int64_t{2} * cfg.n_layers * opt_.block_size * cfg.kv_dim() * backend_->kv_element_bytes();
    num_blocks = static_cast<int>(std::min<int64_t>(opt_.kv_cache_bytes / per_block, 1 << 24));
    if (num_blocks <= 0)
      fail("kv_cache_bytes",
           std::to_string(opt_.kv_cache_bytes) + " bytes hold no block of " + std::to_string(per_block) + " bytes");
  }
  forward_ = std::make_unique<LlamaForward>(model, *backend_,
                                            ForwardOptions{.num_blocks = num_blocks,
                                                           .block_size = opt_.block_size,
                                                           .max_rows = opt_.max_batch_tokens,
                                                           .max_logits = opt_.max_logits});
  num_blocks = forward_->options().num_blocks;
  blocks_ = std::make_unique<BlockManager>(BlockManagerOptions{
      .num_blocks = num_blocks, .block_size = opt_.block_size, .prefix_caching = opt_.prefix_caching});
  scheduler_ = std::make_unique<Scheduler>(SchedulerOptions{.max_batch_tokens = opt_.max_batch_tokens,
                                                            .max_running = opt_.max_running,
                                                            .max_logits = opt_.max_logits,
                                                            .chunk_seed = opt_.chunk_seed,
                                                            .preempt_interval = opt_.preempt_interval},
                                           *blocks_);
  logits_.resize(static_cast<size_t>(opt_.max_logits) * cfg.vocab_size);
  eos_ids_ = end_of_sequence_ids(model, tokenizer);
}

Engine::~Engine() {
  abandon_in_flight();  // no sample of this engine's may still be pending when the backend goes
}

std::string Engine::backend_name() const {
  return backend_->name();
}

uint64_t Engine::submit(std::vector<int32_t> prompt, const RequestParams& params, EventCallback on_event) {
  params.validate();
  const ModelConfig& cfg = model_.config;
  if (prompt.empty()) fail("prompt", "is empty");
  for (int32_t t : prompt)
    if (t < 0 || t >= cfg.vocab_size)
      fail("prompt",
           "token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(cfg.vocab_size) + ")");
  const int64_t total = static_cast<int64_t>(prompt.size()) + params.max_tokens;
  if (total > cfg.max_seq_len)
    fail("prompt", "prompt (" + std::to_string(prompt.size()) + " tokens) + max_tokens (" +
                       std::to_string(params.max_tokens) + ") exceeds the context of " +
                       std::to_string(cfg.max_seq_len) + " tokens");
  const int64_t capacity = static_cast<int64_t>(blocks_->num_blocks()) * blocks_->block_size();
  if (total > capacity)
    fail("prompt", "prompt + max_tokens (" + std::to_string(total) + " tokens) exceeds the KV cache of " +
                       std::to_string(capacity) + " tokens");

  auto r = std::make_unique<Request>();
  r->id = next_id_++;
  r->params = params;
  r->prompt_len = static_cast<int>(prompt.size());
  r->out.id = r->id;
  r->out.prompt = prompt;
  if (params.prompt_logprobs) r->out.prompt_logprobs.assign(prompt.size(), std::numeric_limits<float>::quiet_NaN());
  r->tokens = std::move(prompt);
  r->on_event = std::move(on_event);
  if (tokenizer_ != nullptr) r->decoder = std::make_unique<StreamDecoder>(*tokenizer_, r->tokens.back());
  Request* raw = r.get();
  active_.emplace(r->id, std::move(r));
  scheduler_->add(raw);
  return raw->id;
}

void Engine::cancel(uint64_t id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  finish(*it->second, FinishReason::Cancelled);
}

bool Engine::idle() const {
  return scheduler_->idle() && in_flight_.empty();
}

void Engine::run_until_idle() {
  while (step()) {
  }
}

bool Engine::is_eos(const Request& r, int32_t token) const {
  if (std::find(r.params.stop_token_ids.begin(), r.params.stop_token_ids.end(), token) != r.params.stop_token_ids.end())
    return true;
  return !r.params.ignore_eos && std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end();
}

bool Engine::step() {
  try {
    return step_impl();
  } catch (...) {
    abandon_in_flight();
    throw;
  }
}

bool Engine::step_impl() {
  if (in_flight_.empty()) {
    std::vector<ScheduledSeq> batch = scheduler_->schedule(plan_);
    if (batch.empty()) return false;
    in_flight_.push_back(launch(std::move(batch), /*fed=*/false));
  }
  // Async scheduling: the step after the oldest one in flight is enqueued before that one's results are read, so the
  // device goes from one to the next without waiting for the host.
  if (async_ && in_flight_.size() == 1) launch_fed_after(in_flight_.front());
  Launched done = std::move(in_flight_.front());
  in_flight_.pop_front();
  complete(done);
  release_retired();
  return true;
}

Engine::Launched Engine::launch(std::vector<ScheduledSeq> batch, bool fed) {
  Launched l;
  l.batch = std::move(batch);
  l.fed = fed;
  // Backends that sample on the device (cuda) keep the logits there: the engine asks for (token, logprob, top-n) of
  // the rows it samples and the logprobs of the prompt tokens it scores, with the same definitions as sampler.h.
  l.device = backend_->can_sample();
  forward_->execute(plan_, l.device ? nullptr : logits_.data());
  counters_.steps++;
  if (fed) counters_.fed_steps++;
  if (l.device) device_sample(l);
  for (const ScheduledSeq& s : l.batch) s.request->in_flight++;
  return l;
}

void Engine::launch_fed_after(const Launched& l) {
  // Only behind a step whose samples are still pending (so: on the device, no prompt logprobs), where every request
  // it carries samples there: the fed step is then the step schedule() would build next, with the requests that
  // step's token does not end by their limits (max_tokens, the context: they leave when it completes). A request
  // retired meanwhile (cancelled) is left out.
  if (!l.pending) return;
  std::vector<Request*> requests, leaving;
  std::vector<int32_t> fed;
  for (size_t bi = 0; bi < l.batch.size(); ++bi) {
    Request& r = *l.batch[bi].request;
    if (r.finished) continue;
    const int size = static_cast<int>(r.tokens.size());
    if (l.spec_of[bi] < 0 || r.num_computed + l.batch[bi].n_rows != size) return;
    if (r.generated() + 1 >= r.params.max_tokens || size + 1 >= model_.config.max_seq_len) {
      leaving.push_back(&r);
      continue;
    }
    requests.push_back(&r);
    fed.push_back(l.spec_of[bi]);
  }
  if (requests.empty()) return;
  std::vector<ScheduledSeq> batch = scheduler_->schedule_fed(plan_, requests, fed, leaving);
  if (batch.empty()) return;
  in_flight_.push_back(launch(std::move(batch), /*fed=*/true));
}

void Engine::complete(Launched& l) {
  for (const ScheduledSeq& s : l.batch) s.request->in_flight--;
  if (l.pending) {
    l.pending = false;
    backend_->sample_wait(l.samples);
  }
  const int vocab = model_.config.vocab_size;
  auto logits_row = [&](int i) {
    return std::span<const float>(logits_.data() + static_cast<size_t>(i) * vocab, vocab);
  };
  HostSamples host_samples;
  if (!l.device) host_samples = sample_on_host(l.batch, logits_.data(), vocab, opt_.threads);

  for (size_t bi = 0; bi < l.batch.size(); ++bi) {
    const ScheduledSeq& s = l.batch[bi];
    Request& r = *s.request;
    if (r.finished) {  // retired while the step ran (a cancel, or a stop in the step before): its rows are dropped
      counters_.dropped_rows += static_cast<uint64_t>(s.n_rows);
      continue;
    }
    if (r.params.prompt_logprobs) {
      size_t k = l.device ? static_cast<size_t>(l.logprob_of[bi]) : 0;
      for (int j = 0; j < s.n_rows; ++j) {
        const int next = r.num_computed + j + 1;  // the row at position next-1 predicts token `next`
        if (next < r.prompt_len)
          r.out.prompt_logprobs[next] =
              l.device ? l.logprobs[k++] : token_logprob(logits_row(s.first_logit + j), r.tokens[next]);
      }
    }
    const int prompt_rows = std::max(0, std::min(r.num_computed + s.n_rows, r.prompt_len) - r.num_computed);
    counters_.prompt_tokens += prompt_rows;
    r.num_computed += s.n_rows;
    blocks_->commit(r.kv, r.tokens, r.num_computed);
    if (r.num_computed < static_cast<int>(r.tokens.size())) continue;  // still prefilling
    if (r.generated() >= r.params.max_tokens) {
      finish(r, FinishReason::Length);
      continue;
    }
    // The request is caught up: sample its next token from the logits of its last row. The RNG index is the
    // token's index in the completion, so recomputation after preemption draws the same number.
    SampledToken tok;
    if (l.device) {
      if (l.spec_of[bi] < 0) fail("engine", "request " + std::to_string(r.id) + " has no sample in its step");
      const backend::SampleResult& d = l.samples[static_cast<size_t>(l.spec_of[bi])];
      if (d.token < 0) fail("logits", "every logit is -inf or NaN");
      tok.token = d.token;
      tok.logprob = d.logprob;
      tok.top.assign(d.top.begin(), d.top.begin() + d.n_top);
    } else {
      if (host_samples.errors[bi]) std::rethrow_exception(host_samples.errors[bi]);
      tok = std::move(host_samples.tokens[bi]);
    }
    r.tokens.push_back(tok.token);
    after_token(r, tok);
  }
}

void Engine::release_retired() {
  for (auto it = retired_.begin(); it != retired_.end();) {
    if ((*it)->in_flight == 0) {
      blocks_->release((*it)->kv);
      it = retired_.erase(it);
    } else {
      ++it;
    }
  }
}

void Engine::abandon_in_flight() noexcept {
  // The dropped steps' rows were never applied to their requests (nothing counts them computed), so later steps run
  // them again; the K/V they wrote sit at positions that every step writes before it reads them.
  for (Launched& l : in_flight_) {
    for (const ScheduledSeq& s : l.batch) s.request->in_flight--;
    if (l.pending) {
      try {
        backend_->sample_wait(l.samples);
      } catch (...) {  // the error that brought us here is the one that propagates
      }
    }
  }
  in_flight_.clear();
  release_retired();
}

void Engine::device_sample(Launched& l) {
  // The same decisions as complete()'s loop, in the same order, before any request changes. A fed step is built
  // before the step ahead of it is applied: by its completion each of its requests is caught up (its K/V computed
  // up to the fed row's position, tokens.size() now) and has one token more.
  const int ahead = l.fed ? 1 : 0;
  std::vector<backend::SampleSpec> specs;
  std::vector<int32_t> rows, tokens;
  l.spec_of.assign(l.batch.size(), -1);
  l.logprob_of.assign(l.batch.size(), 0);
  for (size_t bi = 0; bi < l.batch.size(); ++bi) {
    const ScheduledSeq& s = l.batch[bi];
    const Request& r = *s.request;
    const int computed = l.fed ? static_cast<int>(r.tokens.size()) : r.num_computed;
    l.logprob_of[bi] = static_cast<int>(rows.size());
    if (r.params.prompt_logprobs) {
      for (int j = 0; j < s.n_rows; ++j) {
        const int next = computed + j + 1;
        if (next < r.prompt_len) {
          rows.push_back(s.first_logit + j);
          tokens.push_back(r.tokens[next]);
        }
      }
    }
    const int generated = r.generated() + ahead;
    if (computed + s.n_rows < static_cast<int>(r.tokens.size()) + ahead || generated >= r.params.max_tokens) continue;
    const SamplingParams& p = r.params.sampling;
    l.spec_of[bi] = static_cast<int>(specs.size());
    specs.push_back({.row = s.first_logit + s.n_logits - 1,
                     .temperature = p.temperature,
                     .top_k = p.top_k,
                     .top_p = p.top_p,
                     .min_p = p.min_p,
                     .seed = p.seed,
                     .token_index = static_cast<uint64_t>(generated),
                     .top_logprobs = p.top_logprobs});
  }
  const backend::Act logits = forward_->logits_buffer();
  l.logprobs.resize(rows.size());
  if (!rows.empty()) backend_->token_logprobs(logits, rows, tokens, l.logprobs.data());
  l.samples.resize(specs.size());
  if (specs.empty()) return;
  if (async_ && rows.empty()) {
    backend_->sample_async(logits, specs);  // complete() waits for it
    l.pending = true;
  } else {
    backend_->sample(logits, specs, l.samples);
  }
}

void Engine::after_token(Request& r, const SampledToken& s) {
  counters_.generated_tokens++;
  r.out.tokens.push_back(s.token);
  r.out.logprobs.push_back(s.logprob);
  if (r.params.sampling.top_logprobs > 0) r.out.top_logprobs.push_back(s.top);

  FinishReason reason = FinishReason::None;
  const bool eos = is_eos(r, s.token);
  if (eos) reason = FinishReason::Stop;
  if (r.decoder && !eos) r.pending_text += r.decoder->push(s.token);
  if (reason == FinishReason::None && !r.params.stop.empty()) {
    // Search the text that is not final yet, plus enough emitted text before it to catch a stop string spanning
    // the boundary (only a window: the cost per token does not grow with the length of the output).
    size_t longest = 0;
    for (const std::string& st : r.params.stop) longest = std::max(longest, st.size());
    const size_t from = r.out.text.size() > longest ? r.out.text.size() - longest : 0;
    const size_t emitted_in_window = r.out.text.size() - from;
    const std::string window = r.out.text.substr(from) + r.pending_text;
    size_t cut = std::string::npos;
    for (const std::string& st : r.params.stop) cut = std::min(cut, window.find(st));
    if (cut != std::string::npos) {
      // The text ends before the stop string; everything after it is dropped. (Emitted text never holds a stop
      // string's prefix, so the cut always falls in the pending part.)
      r.pending_text.resize(cut > emitted_in_window ? cut - emitted_in_window : 0);
      reason = FinishReason::Stop;
      r.decoder.reset();  // nothing after the stop string is decoded
    }
  }
  if (reason == FinishReason::None &&
      (r.generated() >= r.params.max_tokens || static_cast<int>(r.tokens.size()) >= model_.config.max_seq_len))
    reason = FinishReason::Length;

  if (reason != FinishReason::None) {
    r.out.finish_reason = reason;
    emit_text(r, &s, true);
    finish(r, reason);
  } else {
    emit_text(r, &s, false);
  }
}

void Engine::emit_text(Request& r, const SampledToken* s, bool finished) {
  if (finished && r.decoder) r.pending_text += r.decoder->flush();
  // Hold back the longest suffix that could still grow into a stop string (looked for in a bounded tail).
  size_t hold = 0;
  if (!finished && !r.params.stop.empty()) {
    size_t longest = 0;
    for (const std::string& st : r.params.stop) longest = std::max(longest, st.size());
    const size_t from = r.out.text.size() > longest ? r.out.text.size() - longest : 0;
    const std::string tail = r.out.text.substr(from) + r.pending_text;
    for (const std::string& st : r.params.stop)
      for (size_t len = std::min(st.size() - 1, tail.size()); len > hold; --len)
        if (tail.compare(tail.size() - len, len, st, 0, len) == 0) {
          hold = len;
          break;
        }
    hold = std::min(hold, r.pending_text.size());
  }
  std::string text = r.pending_text.substr(0, r.pending_text.size() - hold);
  r.pending_text.erase(0, r.pending_text.size() - hold);
  r.out.text += text;
  if (!r.on_event) return;
  TokenEvent ev;
  ev.request_id = r.id;
  if (s != nullptr) {
    ev.token = s->token;
    ev.logprob = s->logprob;
    ev.top = s->top;
  }
  ev.text = std::move(text);
  ev.finished = finished;
  ev.finish_reason = finished ? r.out.finish_reason : FinishReason::None;
  r.on_event(ev);
}

void Engine::finish(Request& r, FinishReason reason) {
  auto it = active_.find(r.id);
  if (it == active_.end()) return;
  std::unique_ptr<Request> owned = std::move(it->second);
  active_.erase(it);
  // A step still in flight writes K/V into this request's blocks: they are released when it completes.
  if (owned->in_flight > 0) {
    scheduler_->detach(owned.get());
  } else {
    scheduler_->remove(owned.get());
  }
  if (owned->out.finish_reason == FinishReason::None) {
    owned->out.finish_reason = reason;
    emit_text(*owned, nullptr, true);  // no token with this event: a cancel, or max_tokens reached while scoring
  }
  finished_.emplace(owned->id, std::move(owned->out));
  if (owned->in_flight > 0) {
    owned->finished = true;
    owned->on_event = {};
    retired_.push_back(std::move(owned));
  }
}

std::optional<RequestOutput> Engine::take_output(uint64_t id) {
  auto it = finished_.find(id);
  if (it == finished_.end()) return std::nullopt;
  RequestOutput out = std::move(it->second);
  finished_.erase(it);
  return out;
}

std::vector<float> Engine::score(const std::vector<int32_t>& tokens) {
  RequestParams p;
  p.max_tokens = 0;
  p.prompt_logprobs = true;
  p.sampling.temperature = 0;
  const uint64_t id = submit(tokens, p);
  std::optional<RequestOutput> out;
  while (!(out = take_output(id))) {
    if (!step()) fail("score", "the engine stopped before the scoring request finished");
  }
  return out->prompt_logprobs;
}

EngineStats Engine::stats() const {
  EngineStats s = counters_;
  s.waiting = scheduler_->num_waiting();
  s.running = scheduler_->num_running();
  s.in_flight = static_cast<int>(in_flight_.size());
  s.kv_blocks_total = blocks_->num_blocks();
  const BlockManagerStats b = blocks_->stats();
  s.kv_blocks_used = b.used;
  s.preemptions = scheduler_->preemptions();
  s.prefix_cache_hits = b.hits;
  s.prefix_cache_queries = b.queries;
  return s;
}

}  // namespace verbatim

#include "engine/scheduler.h"

#include <algorithm>

#include "kernels/common/philox.h"
#include "util/error.h"

namespace verbatim {

Scheduler::Scheduler(const SchedulerOptions& options, BlockManager& blocks) : opt_(options), blocks_(blocks) {
  if (opt_.max_batch_tokens <= 0 || opt_.max_running <= 0 || opt_.max_logits <= 0)
    fail("scheduler options", "max_batch_tokens, max_running and max_logits must be positive");
}

void Scheduler::add(Request* request) {
  waiting_.push_back(request);
}

void Scheduler::remove(Request* request) {
  detach(request);
  blocks_.release(request->kv);
}

void Scheduler::detach(Request* request) {
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), request), waiting_.end());
  running_.erase(std::remove(running_.begin(), running_.end(), request), running_.end());
}

int Scheduler::chunk_limit(int remaining, int budget) {
  int n = std::min(remaining, budget);
  if (opt_.chunk_seed != 0 && n > 1) {
    Philox4 r = philox4x32_10(opt_.chunk_seed, 0x43484e4bu, chunk_counter_++);
    n = std::min(n, 1 + static_cast<int>(r.v[0] % static_cast<uint32_t>(opt_.max_batch_tokens)));
  }
  return n;
}

void Scheduler::preempt(Request* r) {
  running_.erase(std::remove(running_.begin(), running_.end(), r), running_.end());
  blocks_.release(r->kv);
  r->num_computed = 0;
  r->out.preemptions++;
  preemptions_++;
  waiting_.push_front(r);
}

std::vector<ScheduledSeq> Scheduler::schedule(StepPlan& plan) {
  plan.clear();
  std::vector<ScheduledSeq> out;
  if (opt_.preempt_interval > 0 && ++step_counter_ % opt_.preempt_interval == 0 && !running_.empty())
    preempt(running_.back());
  int budget = opt_.max_batch_tokens;
  int logit_budget = opt_.max_logits;

  // Decides the rows of `r` this step (n > 0), or returns 0 when its logits do not fit the step's budget.
  auto rows_for = [&](Request* r, int remaining) {
    int n = remaining == 1 ? 1 : chunk_limit(remaining, budget);
    if (r->params.prompt_logprobs) n = std::min(n, logit_budget);
    const bool reaches_end = r->num_computed + n == static_cast<int>(r->tokens.size());
    if (!r->params.prompt_logprobs && reaches_end && logit_budget == 0) return 0;
    return n;
  };
  auto emit = [&](Request* r, int n) {
    const bool reaches_end = r->num_computed + n == static_cast<int>(r->tokens.size());
    StepPlan::Logits lg = r->params.prompt_logprobs ? StepPlan::Logits::All
                          : reaches_end             ? StepPlan::Logits::Last
                                                    : StepPlan::Logits::None;
    ScheduledSeq s;
    s.request = r;
    s.first_row = plan.n_rows();
    s.n_rows = n;
    const int logits_before = plan.n_logits();
    plan.add_seq(std::span<const int32_t>(r->tokens).subspan(r->num_computed, n), r->num_computed, r->kv.blocks, lg);
    s.n_logits = plan.n_logits() - logits_before;
    s.first_logit = s.n_logits > 0 ? logits_before : -1;
    budget -= n;
    logit_budget -= s.n_logits;
    out.push_back(s);
  };

  // 1. Running requests, oldest first: decode rows and the next chunks of prompts still prefilling.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Request* r = running_[i];
    const int remaining = static_cast<int>(r->tokens.size()) - r->num_computed;
    const int n = rows_for(r, remaining);
    if (n == 0) {
      ++i;
      continue;
    }
    bool scheduled = true;
    while (!blocks_.reserve(r->kv, r->num_computed + n)) {
      Request* victim = running_.back();
      preempt(victim);
      if (victim == r) {
        scheduled = false;
        break;
      }
    }
    if (!scheduled) continue;  // r was the newest and is waiting again; running_[i] is now the next one (or none)
    emit(r, n);
    ++i;
  }

  // 2. Admit waiting requests in arrival order while the step has room.
  while (!waiting_.empty() && budget > 0 && static_cast<int>(running_.size()) < opt_.max_running) {
    Request* r = waiting_.front();
    const bool lookup = !r->params.prompt_logprobs;  // scored prompts need every row's logits: no prefix reuse
    if (!blocks_.allocate(r->kv, r->tokens, 1, lookup)) break;
    r->num_computed = r->kv.num_cached_tokens;
    const int remaining = static_cast<int>(r->tokens.size()) - r->num_computed;
    const int n = rows_for(r, remaining);
    if (n == 0 || !blocks_.reserve(r->kv, r->num_computed + n)) {
      blocks_.release(r->kv);
      r->num_computed = 0;
      break;
    }
    waiting_.pop_front();
    if (r->out.preemptions == 0) r->out.cached_prompt_tokens = std::min(r->num_computed, r->prompt_len);
    running_.push_back(r);
    emit(r, n);
  }
  return out;
}

std::vector<ScheduledSeq> Scheduler::schedule_fed(StepPlan& plan, std::span<Request* const> requests,
                                                  std::span<const int32_t> fed, std::span<Request* const> leaving) {
  plan.clear();
  if (requests.size() != fed.size()) fail("scheduler", "schedule_fed: one fed result per request");
  if (requests.empty() || requests.size() + leaving.size() != running_.size()) return {};
  // schedule() would admit a waiting request only with room in the running batch (once `leaving` are gone) and rows
  // left in the step's budget.
  const bool could_admit = !waiting_.empty() && static_cast<int>(requests.size()) < opt_.max_running &&
                           static_cast<int>(requests.size()) < opt_.max_batch_tokens;
  if (could_admit) return {};
  if (opt_.preempt_interval > 0 && (step_counter_ + 1) % opt_.preempt_interval == 0) return {};
  if (static_cast<int>(requests.size()) > std::min(opt_.max_batch_tokens, opt_.max_logits)) return {};
  for (std::span<Request* const> group : {requests, leaving})
    for (Request* r : group)
      if (std::find(running_.begin(), running_.end(), r) == running_.end()) return {};
  for (Request* r : requests)
    if (!blocks_.reserve(r->kv, static_cast<int>(r->tokens.size()) + 1)) return {};
  std::vector<ScheduledSeq> out;
  out.reserve(requests.size());
  const int32_t placeholder = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    Request* r = requests[i];
    ScheduledSeq s;
    s.request = r;
    s.first_row = plan.n_rows();
    s.n_rows = 1;
    s.first_logit = plan.n_logits();
    s.n_logits = 1;
    plan.add_seq(std::span<const int32_t>(&placeholder, 1), static_cast<int32_t>(r->tokens.size()), r->kv.blocks,
                 StepPlan::Logits::Last);
    plan.feed(s.first_row, fed[i]);
    out.push_back(s);
  }
  ++step_counter_;
  return out;
}

}  // namespace verbatim

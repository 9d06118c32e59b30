// Continuous batching: each step, the scheduler picks which requests run and how many of their tokens, within a
// token budget, and builds the StepPlan. Decode rows of running requests come first (in admission order), then
// prompt chunks of running requests still prefilling, then newly admitted requests. When the KV cache runs out, the
// most recently admitted running request is preempted: its blocks are released and it waits at the head of the queue
// to be recomputed (its prefix-cache blocks often survive, making recompute cheap).
//
// None of these choices can change a request's bits: every row's logits depend only on the row's own sequence
// (the invariance contract), so the scheduler is free to chunk, batch, preempt and reorder as load demands.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "backend/plan.h"
#include "engine/block_manager.h"
#include "engine/request.h"

namespace verbatim {

struct SchedulerOptions {
  int max_batch_tokens = 512;  // rows per step
  int max_running = 64;        // sequences per step
  int max_logits = 512;        // logit rows per step
  // Testing knob: when non-zero, prefill chunks get pseudo-random lengths in [1, max_batch_tokens] drawn from this
  // seed. It must not change a single output bit; the invariance suite checks exactly that.
  uint64_t chunk_seed = 0;
  // Testing knob: when non-zero, every preempt_interval-th step first preempts the newest running request, as if
  // the cache had run out. Like chunk_seed, it must not change a single output bit.
  int preempt_interval = 0;
};

// A request's part of a step: rows [first_row, first_row + n_rows) of the plan.
struct ScheduledSeq {
  Request* request = nullptr;
  int first_row = 0;
  int n_rows = 0;
  int first_logit = -1;  // index of its first logit row in the plan's logit rows, -1 if none
  int n_logits = 0;
};

class Scheduler {
 public:
  Scheduler(const SchedulerOptions& options, BlockManager& blocks);

  void add(Request* request);     // appends to the waiting queue
  void remove(Request* request);  // drops it from every queue and releases its blocks
  void detach(Request* request);  // drops it from every queue; its blocks stay (a step in flight still writes them)

  // Builds the next step into `plan` (cleared first) and returns its sequences; empty when nothing can run.
  std::vector<ScheduledSeq> schedule(StepPlan& plan);

  // Async scheduling: the step after one still in flight, built before that step's tokens are known. `requests` (each
  // caught up once the step in flight is done, its sampled token going to index tokens.size()) get one decode row
  // each at position tokens.size(), fed from result fed[i] of the step in flight (StepPlan::fed); `leaving` are the
  // running requests that the step in flight ends (by their limits: they are gone before this step's results are
  // applied). Returns empty (the
  // plan cleared; blocks reserved so far stay with their requests, which need them next anyway) where schedule()
  // could decide otherwise: a waiting request could be admitted (the running batch and the step's rows have room), a
  // forced preemption is due, a running request is not in `requests`, or a block would have to be taken by
  // preemption.
  std::vector<ScheduledSeq> schedule_fed(StepPlan& plan, std::span<Request* const> requests,
                                         std::span<const int32_t> fed, std::span<Request* const> leaving = {});

  bool idle() const { return waiting_.empty() && running_.empty(); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  int num_running() const { return static_cast<int>(running_.size()); }
  uint64_t preemptions() const { return preemptions_; }

 private:
  int chunk_limit(int remaining, int budget);
  void preempt(Request* r);

  SchedulerOptions opt_;
  BlockManager& blocks_;
  std::deque<Request*> waiting_;
  std::vector<Request*> running_;  // admission order
  uint64_t preemptions_ = 0;
  uint64_t chunk_counter_ = 0;
  uint64_t step_counter_ = 0;
};

}  // namespace verbatim

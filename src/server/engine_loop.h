// The engine loop: one thread owns the (single-threaded) Engine. HTTP handler threads hand it submissions and
// cancellations through a mutex-protected inbox and read each request's events from its own RequestChannel. The
// loop sleeps on a condition variable while the engine is idle and its inbox is empty; it never busy-waits.
//
//   handler thread                         engine-loop thread
//   submit(prompt, params) --inbox-->      engine.submit(...)   (rejections go back through the channel)
//   channel.wait(...)      <--events--     engine.step(): every sampled token -> TokenEvent -> channel.push
//   cancel(channel)        --inbox-->      engine.cancel(id): frees the request's KV blocks now
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"

namespace verbatim::server {

// What one request gets back from the loop: its token events in order, then its output (or a rejection).
class RequestChannel {
 public:
  struct Batch {
    std::vector<TokenEvent> events;
    const RequestOutput* output = nullptr;  // set once the request finished (valid while the channel lives)
    const std::string* rejected = nullptr;  // set when the engine refused the request (the message)
  };

  // Handler side: waits up to `timeout` for news, then returns every event not taken yet.
  Batch wait(std::chrono::milliseconds timeout);
  // Handler side: waits up to `timeout` until the engine accepted or rejected the request. False on timeout.
  bool wait_accepted(std::chrono::milliseconds timeout);
  bool done() const;

  // Loop side.
  void accept(uint64_t engine_id);
  void reject(std::string message);
  void push(const TokenEvent& ev);
  void finish(RequestOutput out);

  uint64_t engine_id() const;  // 0 until accepted

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenEvent> events_;
  std::optional<RequestOutput> output_;
  std::optional<std::string> rejected_;
  uint64_t engine_id_ = 0;
  bool accepted_ = false;
};

struct LoopStats {
  EngineStats engine;
  uint64_t finished = 0;
};

class EngineLoop {
 public:
  using StepObserver = std::function<void(double seconds)>;

  // The engine must outlive the loop. `on_step` (optional) is told each step's duration, on the loop thread.
  EngineLoop(Engine& engine, StepObserver on_step = {});
  ~EngineLoop();  // stop()
  EngineLoop(const EngineLoop&) = delete;
  EngineLoop& operator=(const EngineLoop&) = delete;

  // Thread-safe. The request is submitted on the loop thread; the channel says whether it was accepted.
  std::shared_ptr<RequestChannel> submit(std::vector<int32_t> prompt, RequestParams params);
  // Thread-safe. Cancels the request (frees its KV blocks); it finishes with FinishReason::Cancelled. A channel
  // that finished already is left alone.
  void cancel(const std::shared_ptr<RequestChannel>& channel);
  void cancel_all();

  // A snapshot of the engine's counters, taken by the loop after each step.
  LoopStats stats() const;

  // Cancels what is left and joins the thread. Idempotent.
  void stop();

 private:
  struct Command {
    enum class Kind { Submit, Cancel, CancelAll } kind;
    std::shared_ptr<RequestChannel> channel;
    std::vector<int32_t> prompt;
    RequestParams params;
  };

  void run();
  void handle(Command& c);
  void deliver_finished();

  Engine& engine_;
  StepObserver on_step_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Command> inbox_;
  bool stop_ = false;
  LoopStats stats_;
  // Loop-thread state.
  std::map<uint64_t, std::shared_ptr<RequestChannel>> live_;
  std::vector<uint64_t> just_finished_;
  std::thread thread_;
};

}  // namespace verbatim::server

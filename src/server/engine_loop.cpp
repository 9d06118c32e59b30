#include "server/engine_loop.h"

#include <cstdio>

#include "util/error.h"

namespace verbatim::server {

RequestChannel::Batch RequestChannel::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty() || output_ || rejected_; });
  Batch b;
  b.events.assign(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
  events_.clear();
  if (output_) b.output = &*output_;
  if (rejected_) b.rejected = &*rejected_;
  return b;
}

bool RequestChannel::wait_accepted(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return accepted_ || rejected_.has_value(); });
}

bool RequestChannel::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return output_.has_value() || rejected_.has_value();
}

uint64_t RequestChannel::engine_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return engine_id_;
}

void RequestChannel::accept(uint64_t engine_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    engine_id_ = engine_id;
    accepted_ = true;
  }
  cv_.notify_all();
}

void RequestChannel::reject(std::string message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    rejected_ = std::move(message);
  }
  cv_.notify_all();
}

void RequestChannel::push(const TokenEvent& ev) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(ev);
  }
  cv_.notify_all();
}

void RequestChannel::finish(RequestOutput out) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    output_ = std::move(out);
  }
  cv_.notify_all();
}

EngineLoop::EngineLoop(Engine& engine, StepObserver on_step) : engine_(engine), on_step_(std::move(on_step)) {
  stats_.engine = engine_.stats();
  thread_ = std::thread([this] { run(); });
}

EngineLoop::~EngineLoop() {
  stop();
}

std::shared_ptr<RequestChannel> EngineLoop::submit(std::vector<int32_t> prompt, RequestParams params) {
  auto ch = std::make_shared<RequestChannel>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) {
      ch->reject("the server is shutting down");
      return ch;
    }
    inbox_.push_back(Command{Command::Kind::Submit, ch, std::move(prompt), std::move(params)});
  }
  cv_.notify_one();
  return ch;
}

void EngineLoop::cancel(const std::shared_ptr<RequestChannel>& channel) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(Command{Command::Kind::Cancel, channel, {}, {}});
  }
  cv_.notify_one();
}

void EngineLoop::cancel_all() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(Command{Command::Kind::CancelAll, nullptr, {}, {}});
  }
  cv_.notify_one();
}

LoopStats EngineLoop::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void EngineLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void EngineLoop::handle(Command& c) {
  switch (c.kind) {
    case Command::Kind::Submit: {
      std::shared_ptr<RequestChannel> ch = c.channel;
      try {
        const uint64_t id = engine_.submit(std::move(c.prompt), c.params, [this, ch](const TokenEvent& ev) {
          ch->push(ev);
          if (ev.finished) just_finished_.push_back(ev.request_id);
        });
        live_.emplace(id, ch);
        ch->accept(id);
      } catch (const std::exception& e) {
        ch->reject(e.what());
      }
      break;
    }
    case Command::Kind::Cancel: {
      const uint64_t id = c.channel->engine_id();
      if (id != 0 && live_.count(id) != 0) engine_.cancel(id);
      break;
    }
    case Command::Kind::CancelAll: {
      std::vector<uint64_t> ids;
      for (const auto& [id, ch] : live_) ids.push_back(id);
      for (uint64_t id : ids) engine_.cancel(id);
      break;
    }
  }
}

void EngineLoop::deliver_finished() {
  for (uint64_t id : just_finished_) {
    auto it = live_.find(id);
    if (it == live_.end()) continue;
    std::optional<RequestOutput> out = engine_.take_output(id);
    if (out) it->second->finish(std::move(*out));
    live_.erase(it);
  }
  just_finished_.clear();
}

void EngineLoop::run() {
  std::vector<Command> commands;
  bool busy = false;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || busy || !inbox_.empty(); });
      if (stop_) break;
      commands.swap(inbox_);
    }
    for (Command& c : commands) handle(c);
    commands.clear();
    deliver_finished();
    bool progressed = false;
    if (!engine_.idle()) {
      const auto t0 = std::chrono::steady_clock::now();
      try {
        progressed = engine_.step();
      } catch (const std::exception& e) {
        // No step should ever fail; if one does, fail the requests it carried rather than the server.
        std::fprintf(stderr, "verbatim serve: engine step failed: %s; cancelling %zu requests\n", e.what(),
                     live_.size());
        std::vector<uint64_t> ids;
        for (const auto& [id, ch] : live_) ids.push_back(id);
        for (uint64_t id : ids) engine_.cancel(id);
      }
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      if (on_step_) on_step_(dt.count());
      deliver_finished();
    }
    // A step that ran nothing cannot run something next time without news (a submit or cancel): sleep until then.
    busy = progressed && !engine_.idle();
    std::lock_guard<std::mutex> lock(mu_);
    stats_.engine = engine_.stats();
  }
  // Shutting down: whatever is still running is cancelled (its handlers see finish_reason "abort").
  std::vector<uint64_t> ids;
  for (const auto& [id, ch] : live_) ids.push_back(id);
  for (uint64_t id : ids) engine_.cancel(id);
  deliver_finished();
  std::lock_guard<std::mutex> lock(mu_);
  for (Command& c : inbox_)
    if (c.kind == Command::Kind::Submit) c.channel->reject("the server is shutting down");
  inbox_.clear();
  stats_.engine = engine_.stats();
}

}  // namespace verbatim::server

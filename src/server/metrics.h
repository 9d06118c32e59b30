// Prometheus metrics for GET /metrics (text exposition format 0.0.4). Thread-safe: handlers count requests and
// tokens, the engine loop observes step times, and render() reads the engine's latest counters.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "engine/engine.h"

namespace verbatim::server {

struct ServingGauges {
  EngineStats engine;
  int in_flight = 0;  // admitted HTTP requests not yet answered
  bool draining = false;
};

class Metrics {
 public:
  static constexpr std::array<double, 12> kStepBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

  void count_request(const std::string& endpoint, int status);
  void count_tokens(uint64_t prompt, uint64_t generated);
  void count_rejected(const std::string& reason);  // "queue_full", "draining", ...
  void observe_step(double seconds);

  std::string render(const ServingGauges& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t> rejected_;
  uint64_t prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  std::array<uint64_t, kStepBuckets.size()> step_buckets_{};
  uint64_t step_count_ = 0;
  double step_sum_ = 0;
};

}  // namespace verbatim::server

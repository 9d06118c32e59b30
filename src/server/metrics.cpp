#include "server/metrics.h"

#include <sstream>

namespace verbatim::server {

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{endpoint, status}]++;
}

void Metrics::count_tokens(uint64_t prompt, uint64_t generated) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += prompt;
  generated_tokens_ += generated;
}

void Metrics::count_rejected(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  rejected_[reason]++;
}

void Metrics::observe_step(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < kStepBuckets.size(); ++i)
    if (seconds <= kStepBuckets[i]) step_buckets_[i]++;
  step_count_++;
  step_sum_ += seconds;
}

std::string Metrics::render(const ServingGauges& g) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream o;
  o.precision(9);
  auto header = [&](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  };
  header("verbatim_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
  for (const auto& [key, n] : requests_)
    o << "verbatim_requests_total{endpoint=\"" << key.first << "\",status=\"" << key.second << "\"} " << n << '\n';
  header("verbatim_requests_rejected_total", "counter", "Requests refused before reaching the engine, by reason.");
  for (const auto& [reason, n] : rejected_)
    o << "verbatim_requests_rejected_total{reason=\"" << reason << "\"} " << n << '\n';
  header("verbatim_prompt_tokens_total", "counter", "Prompt tokens of finished requests.");
  o << "verbatim_prompt_tokens_total " << prompt_tokens_ << '\n';
  header("verbatim_generation_tokens_total", "counter", "Tokens generated for finished requests.");
  o << "verbatim_generation_tokens_total " << generated_tokens_ << '\n';
  header("verbatim_engine_prompt_rows_total", "counter",
         "Prompt rows the engine computed (prefix-cache hits excluded).");
  o << "verbatim_engine_prompt_rows_total " << g.engine.prompt_tokens << '\n';
  header("verbatim_engine_generated_tokens_total", "counter", "Tokens the engine sampled.");
  o << "verbatim_engine_generated_tokens_total " << g.engine.generated_tokens << '\n';
  header("verbatim_queue_length", "gauge", "Requests waiting for the engine to admit them.");
  o << "verbatim_queue_length " << g.engine.waiting << '\n';
  header("verbatim_running", "gauge", "Requests in the running batch.");
  o << "verbatim_running " << g.engine.running << '\n';
  header("verbatim_requests_in_flight", "gauge", "Admitted HTTP requests not yet answered.");
  o << "verbatim_requests_in_flight " << g.in_flight << '\n';
  header("verbatim_kv_blocks_used", "gauge", "KV cache blocks held by requests.");
  o << "verbatim_kv_blocks_used " << g.engine.kv_blocks_used << '\n';
  header("verbatim_kv_blocks_total", "gauge", "KV cache blocks in all.");
  o << "verbatim_kv_blocks_total " << g.engine.kv_blocks_total << '\n';
  header("verbatim_preemptions_total", "counter", "Requests preempted (recomputed later).");
  o << "verbatim_preemptions_total " << g.engine.preemptions << '\n';
  header("verbatim_prefix_cache_hits_total", "counter", "KV blocks reused from the prefix cache.");
  o << "verbatim_prefix_cache_hits_total " << g.engine.prefix_cache_hits << '\n';
  header("verbatim_prefix_cache_queries_total", "counter", "Full KV blocks looked up in the prefix cache.");
  o << "verbatim_prefix_cache_queries_total " << g.engine.prefix_cache_queries << '\n';
  header("verbatim_engine_fed_steps_total", "counter",
         "Async scheduling: steps enqueued before the tokens of the step ahead were read.");
  o << "verbatim_engine_fed_steps_total " << g.engine.fed_steps << '\n';
  header("verbatim_engine_dropped_rows_total", "counter",
         "Async scheduling: rows of fed steps whose request had finished meanwhile (results unused).");
  o << "verbatim_engine_dropped_rows_total " << g.engine.dropped_rows << '\n';
  header("verbatim_draining", "gauge", "1 while the server drains for shutdown.");
  o << "verbatim_draining " << (g.draining ? 1 : 0) << '\n';
  header("verbatim_step_seconds", "histogram", "Duration of one engine step.");
  for (size_t i = 0; i < kStepBuckets.size(); ++i)
    o << "verbatim_step_seconds_bucket{le=\"" << kStepBuckets[i] << "\"} " << step_buckets_[i] << '\n';
  o << "verbatim_step_seconds_bucket{le=\"+Inf\"} " << step_count_ << '\n';
  o << "verbatim_step_seconds_sum " << step_sum_ << '\n';
  o << "verbatim_step_seconds_count " << step_count_ << '\n';
  return o.str();
}

}  // namespace verbatim::server

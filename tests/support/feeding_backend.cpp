#include "support/feeding_backend.h"

#include <algorithm>
#include <string>

#include "engine/sampler.h"
#include "util/error.h"

namespace verbatim::testing {
namespace {

std::span<const float> logit_row(backend::Act x, int32_t row) {
  if (x.dtype != DType::F32 || x.data == nullptr) fail("feeding backend", "logits must be an fp32 host buffer");
  if (row < 0 || row >= x.rows) fail("feeding backend", "logit row " + std::to_string(row) + " outside the logits");
  return {static_cast<const float*>(x.data) + static_cast<size_t>(row) * x.cols, static_cast<size_t>(x.cols)};
}

}  // namespace

FeedingBackend::FeedingBackend(std::unique_ptr<backend::Backend> inner) : inner_(std::move(inner)) {
  if (inner_ == nullptr) fail("feeding backend", "no backend to wrap");
}

std::string FeedingBackend::name() const {
  return "feeding(" + inner_->name() + ")";
}

void FeedingBackend::begin_step(const StepPlan& plan) {
  if (!plan.has_fed()) {
    inner_->begin_step(plan);
    return;
  }
  if (!have_latest_) fail("feeding backend", "a fed plan with no sample_async before it");
  fed_plan_ = plan;
  for (size_t r = 0; r < plan.fed.size(); ++r) {
    const int32_t i = plan.fed[r];
    if (i < 0) continue;
    if (static_cast<size_t>(i) >= latest_tokens_.size())
      fail("feeding backend", "fed row " + std::to_string(r) + " names result " + std::to_string(i) + " of " +
                                  std::to_string(latest_tokens_.size()));
    fed_plan_.tokens[r] = std::max(latest_tokens_[static_cast<size_t>(i)], 0);
    ++fed_rows_;
  }
  fed_plan_.fed.clear();
  inner_->begin_step(fed_plan_);
}

std::vector<backend::SampleResult> FeedingBackend::compute(backend::Act x,
                                                           std::span<const backend::SampleSpec> specs) const {
  std::vector<backend::SampleResult> out(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const backend::SampleSpec& s = specs[i];
    SamplingParams p;
    p.temperature = s.temperature;
    p.top_k = s.top_k;
    p.top_p = s.top_p;
    p.min_p = s.min_p;
    p.seed = s.seed;
    p.top_logprobs = s.top_logprobs;
    const SampledToken t = verbatim::sample(logit_row(x, s.row), p, s.token_index);
    out[i].token = t.token;
    out[i].logprob = t.logprob;
    out[i].n_top = static_cast<int32_t>(t.top.size());
    std::copy(t.top.begin(), t.top.end(), out[i].top.begin());
  }
  return out;
}

void FeedingBackend::sample(backend::Act x, std::span<const backend::SampleSpec> specs,
                            std::span<backend::SampleResult> out) {
  if (!pending_.empty()) fail("feeding backend", "sample while a sample_async is pending");
  if (specs.size() != out.size()) fail("feeding backend", "sample: one result per spec");
  const std::vector<backend::SampleResult> r = compute(x, specs);
  std::copy(r.begin(), r.end(), out.begin());
  have_latest_ = false;
}

void FeedingBackend::token_logprobs(backend::Act x, std::span<const int32_t> rows, std::span<const int32_t> tokens,
                                    float* out) {
  if (!pending_.empty()) fail("feeding backend", "token_logprobs while a sample_async is pending");
  if (rows.size() != tokens.size()) fail("feeding backend", "token_logprobs: one token per row");
  for (size_t i = 0; i < rows.size(); ++i) out[i] = token_logprob(logit_row(x, rows[i]), tokens[i]);
  have_latest_ = false;
}

void FeedingBackend::sample_async(backend::Act x, std::span<const backend::SampleSpec> specs) {
  if (static_cast<int>(pending_.size()) >= kMaxPendingSamples)
    fail("feeding backend", "more than " + std::to_string(kMaxPendingSamples) + " samples pending");
  pending_.push_back(compute(x, specs));
  latest_tokens_.clear();
  for (const backend::SampleResult& r : pending_.back()) latest_tokens_.push_back(r.token);
  have_latest_ = true;
}

void FeedingBackend::sample_wait(std::span<backend::SampleResult> out) {
  if (pending_.empty()) fail("feeding backend", "sample_wait with nothing pending");
  const std::vector<backend::SampleResult> r = std::move(pending_.front());
  pending_.pop_front();
  if (fail_wait_in_ > 0 && --fail_wait_in_ == 0) fail("feeding backend", "sample_wait failed (as asked)");
  if (r.size() != out.size())
    fail("feeding backend",
         "sample_wait: " + std::to_string(out.size()) + " results asked, " + std::to_string(r.size()) + " pending");
  std::copy(r.begin(), r.end(), out.begin());
}

std::function<std::unique_ptr<backend::Backend>(std::unique_ptr<backend::Backend>)> feeding_wrapper() {
  return [](std::unique_ptr<backend::Backend> inner) -> std::unique_ptr<backend::Backend> {
    return std::make_unique<FeedingBackend>(std::move(inner));
  };
}

}  // namespace verbatim::testing

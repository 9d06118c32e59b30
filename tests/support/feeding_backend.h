// A test backend that runs the engine's async scheduling on the CPU: it wraps a backend (the CPU one), forwards every
// op to it, and adds what async scheduling needs of a backend (backend.h: can_sample, sample_async / sample_wait, fed
// plans), with the host's definitions: sampling by engine/sampler.h's sample() and token_logprob() on the wrapped
// backend's fp32 logits, so the engine's device-sampling path gives the same bits as its host path. It checks the
// contract as the CUDA backend does (at most kMaxPendingSamples pending, no sync sampling while one is, fed indices
// inside the latest sample_async's results), so an engine that breaks it fails here, without a GPU.
//
// Asynchrony is modelled where it matters for correctness: sample_async computes its results at once (a device would
// compute them before the next step's kernels overwrite the logits, which is all stream order promises) and hands
// them out only through sample_wait, oldest first; a fed plan's tokens are taken from the latest sample_async's
// results inside begin_step, never from anything the engine wrote into the plan.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "engine/engine.h"

namespace verbatim::testing {

class FeedingBackend final : public backend::Backend {
 public:
  explicit FeedingBackend(std::unique_ptr<backend::Backend> inner);

  std::string name() const override;
  Mode mode() const override { return inner_->mode(); }
  backend::Weight upload(const Tensor& t) override { return inner_->upload(t); }
  std::vector<backend::Weight> upload_group(std::span<const Tensor* const> tensors) override {
    return inner_->upload_group(tensors);
  }
  backend::Act alloc(int64_t rows, int64_t cols, backend::ActRole role) override {
    return inner_->alloc(rows, cols, role);
  }
  void alloc_kv_cache(const backend::KvCacheLayout& layout) override { inner_->alloc_kv_cache(layout); }
  int kv_element_bytes() const override { return inner_->kv_element_bytes(); }
  int max_kv_blocks(const backend::KvCacheLayout& layout, int n_heads) const override {
    return inner_->max_kv_blocks(layout, n_heads);
  }

  void begin_step(const StepPlan& plan) override;
  void end_step() override { inner_->end_step(); }

  void embed(const backend::Weight& table, backend::Act out) override { inner_->embed(table, out); }
  void rmsnorm(backend::Act x, const backend::Weight& w, float eps, backend::Act out) override {
    inner_->rmsnorm(x, w, eps, out);
  }
  void add_rmsnorm(backend::Act residual, backend::Act x, const backend::Weight& w, float eps,
                   backend::Act out) override {
    inner_->add_rmsnorm(residual, x, w, eps, out);
  }
  void add(backend::Act residual, backend::Act x) override { inner_->add(residual, x); }
  void matmul(backend::Act x, const backend::Weight& w, const backend::Weight& bias, backend::Act y,
              bool logit_rows) override {
    inner_->matmul(x, w, bias, y, logit_rows);
  }
  void matmul_group(backend::Act x, std::span<const backend::Weight> w, std::span<const backend::Weight> bias,
                    std::span<const backend::Act> y) override {
    inner_->matmul_group(x, w, bias, y);
  }
  void head_rmsnorm(backend::Act x, const backend::Weight& w, float eps) override { inner_->head_rmsnorm(x, w, eps); }
  void rope(backend::Act x, int head_dim, const float* inv_freq) override { inner_->rope(x, head_dim, inv_freq); }
  void kv_write(int layer, backend::Act k, backend::Act v) override { inner_->kv_write(layer, k, v); }
  void attention_inputs(int layer, backend::Act q, backend::Act k, backend::Act v, const backend::Weight& q_norm,
                        const backend::Weight& k_norm, float eps, int head_dim, const float* inv_freq) override {
    inner_->attention_inputs(layer, q, k, v, q_norm, k_norm, eps, head_dim, inv_freq);
  }
  void attention(int layer, backend::Act q, int n_heads, backend::Act out) override {
    inner_->attention(layer, q, n_heads, out);
  }
  void swiglu(backend::Act gate, backend::Act up, backend::Act out) override { inner_->swiglu(gate, up, out); }
  void gather_logit_rows(backend::Act x, backend::Act out) override { inner_->gather_logit_rows(x, out); }
  void read_logits(backend::Act x, float* host) override { inner_->read_logits(x, host); }

  bool can_sample() const override { return true; }
  void sample(backend::Act x, std::span<const backend::SampleSpec> specs,
              std::span<backend::SampleResult> out) override;
  void token_logprobs(backend::Act x, std::span<const int32_t> rows, std::span<const int32_t> tokens,
                      float* out) override;
  bool can_feed() const override { return true; }
  void sample_async(backend::Act x, std::span<const backend::SampleSpec> specs) override;
  void sample_wait(std::span<backend::SampleResult> out) override;

  // Fed rows substituted so far (tests check that the async path ran).
  int64_t fed_rows() const { return fed_rows_; }
  // Makes the n-th sample_wait from now (1: the next) throw, as a device error would (its results are gone).
  void fail_wait_in(int64_t n) { fail_wait_in_ = n; }

 private:
  std::vector<backend::SampleResult> compute(backend::Act x, std::span<const backend::SampleSpec> specs) const;

  std::unique_ptr<backend::Backend> inner_;
  std::deque<std::vector<backend::SampleResult>> pending_;
  std::vector<int32_t> latest_tokens_;  // the latest sample_async's tokens (what a fed row may name)
  bool have_latest_ = false;
  StepPlan fed_plan_;  // the plan with its fed tokens in place, passed on (kept until end_step)
  int64_t fed_rows_ = 0;
  int64_t fail_wait_in_ = 0;
};

// EngineOptions::wrap_backend for an engine whose backend is wrapped in a FeedingBackend.
std::function<std::unique_ptr<backend::Backend>(std::unique_ptr<backend::Backend>)> feeding_wrapper();

}  // namespace verbatim::testing

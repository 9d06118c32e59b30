// The CUDA backend's sampling and logprobs on the device (kernels/cuda/sample.cuh), on the logits of the last step, and
// the async form of sampling that fed steps read their tokens from (backend.h: sample_async, sample_wait).
#include <algorithm>
#include <cstring>

#include "backend/cuda/cuda_backend_impl.h"
#include "kernels/cuda/sample.cuh"

namespace verbatim::cuda {
namespace {

constexpr const char* kWhere = "cuda backend";
namespace ck = cuda_kernels;

size_t round256(size_t b) {
  return (b + 255) / 256 * 256;
}

}  // namespace

size_t CudaBackend::spec_bytes(size_t n) const {
  return round256(n * sizeof(ck::SampleRowSpec));
}

char* CudaBackend::sample_half(int half) const {
  return static_cast<char*>(sample_host_) + static_cast<size_t>(half) * sample_half_bytes_;
}

void CudaBackend::ensure_sample_buffers(backend::Act x, size_t n) {
  const size_t rows = std::max<size_t>(n, static_cast<size_t>(std::max<int64_t>(x.rows, 1)));
  const size_t dev = ck::sample_workspace_bytes(static_cast<int>(rows), x.cols);
  // A half holds one call's specs and results, or token_logprobs' rows, tokens and results.
  const size_t half = std::max(spec_bytes(rows) + round256(rows * sizeof(ck::SampleRowResult)), 3 * round256(rows * 4));
  const bool grow = dev > sample_dev_bytes_ || half > sample_half_bytes_ || static_cast<int>(rows) > feed_cap_;
  if (!grow) return;
  if (!sample_pending_.empty()) fail(kWhere, "internal: the sampling buffers would grow while a sample is pending");
  if (dev > sample_dev_bytes_) {
    sample_dev_bytes_ = std::max(dev, 2 * sample_dev_bytes_);
    sample_dev_ = allocate(sample_dev_bytes_, "sampling buffers", /*zero=*/false);
  }
  if (half > sample_half_bytes_) {
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");  // no kernel may still use the old one
    if (sample_host_ != nullptr) check_cuda(cudaFreeHost(sample_host_), "cudaFreeHost");
    sample_host_ = nullptr;
    sample_half_bytes_ = std::max(half, 2 * sample_half_bytes_);
    check_cuda(cudaMallocHost(&sample_host_, 2 * sample_half_bytes_), "cudaMallocHost(sampling)");
  }
  if (static_cast<int>(rows) > feed_cap_) {
    feed_cap_ = static_cast<int>(rows);
    feed_dev_ = static_cast<int32_t*>(allocate(static_cast<size_t>(feed_cap_) * 4, "fed tokens"));
    feed_n_ = 0;
  }
  for (auto& e : sample_done_)
    if (e == nullptr) e = std::make_unique<Event>();
}

void CudaBackend::sample_async(backend::Act x, std::span<const backend::SampleSpec> specs) {
  if (specs.empty()) fail(kWhere, "sample_async: no spec");
  if (x.dtype != DType::F32 || x.data == nullptr) fail(kWhere, "sample: logits must be an fp32 buffer");
  if (static_cast<int>(sample_pending_.size()) >= kMaxPendingSamples)
    fail(kWhere, "sample_async: " + std::to_string(kMaxPendingSamples) + " samples pending already");
  if (step_mode_ != StepMode::None) flush();
  const size_t n = specs.size();
  ensure_sample_buffers(x, n);
  // The half no pending call uses: its last user's results have been read (sample_wait) and its kernels are done.
  const int half = next_half_;
  next_half_ ^= 1;
  char* host = sample_half(half);
  auto* dspecs = reinterpret_cast<ck::SampleRowSpec*>(host);
  for (size_t i = 0; i < n; ++i) {
    const backend::SampleSpec& s = specs[i];
    if (s.row < 0 || s.row >= x.rows) fail(kWhere, "sample: row " + std::to_string(s.row) + " outside the logits");
    if (s.top_logprobs < 0 || s.top_logprobs > backend::SampleResult::kMaxTop)
      fail(kWhere, "sample: top_logprobs outside [0, 20]");
    dspecs[i] = {.row = s.row,
                 .temperature = s.temperature,
                 .top_k = s.top_k,
                 .top_p = s.top_p,
                 .min_p = s.min_p,
                 .top_logprobs = s.top_logprobs,
                 .seed = s.seed,
                 .token_index = s.token_index};
  }
  // The kernels read the specs from, and write the results to, the pinned host buffer (mapped into the device's
  // address space): no copy-engine transfer on either side of them. The tokens go to feed_dev_ too.
  ck::sample_rows(static_cast<const float*>(x.data), x.cols, dspecs,
                  reinterpret_cast<ck::SampleRowResult*>(host + spec_bytes(n)), static_cast<int>(n), sample_dev_,
                  stream_, feed_dev_);
  check_launch("sample_rows");
  sample_done_[half]->record(stream_);
  sample_pending_.push_back({half, n});
  feed_n_ = static_cast<int>(n);
}

void CudaBackend::sample_wait(std::span<backend::SampleResult> out) {
  if (sample_pending_.empty()) fail(kWhere, "sample_wait: no sample pending");
  const PendingSample ps = sample_pending_.front();
  sample_pending_.erase(sample_pending_.begin());  // gone even if the wait fails
  if (out.size() != ps.n)
    fail(kWhere, "sample_wait: " + std::to_string(out.size()) + " results for " + std::to_string(ps.n) + " specs");
  check_cuda(cudaEventSynchronize(sample_done_[ps.half]->get()), "cudaEventSynchronize");
  const auto* r = reinterpret_cast<const ck::SampleRowResult*>(sample_half(ps.half) + spec_bytes(ps.n));
  for (size_t i = 0; i < ps.n; ++i) {
    out[i].token = r[i].token;
    out[i].logprob = r[i].logprob;
    out[i].n_top = r[i].token < 0 ? 0 : r[i].n_top;
    for (int j = 0; j < out[i].n_top; ++j) out[i].top[j] = {r[i].top_id[j], r[i].top_logprob[j]};
  }
}

void CudaBackend::sample(backend::Act x, std::span<const backend::SampleSpec> specs,
                         std::span<backend::SampleResult> out) {
  if (specs.size() != out.size()) fail(kWhere, "sample: one result per spec");
  if (specs.empty()) return;
  if (!sample_pending_.empty()) fail(kWhere, "sample: a sample_async is pending");
  sample_async(x, specs);
  sample_wait(out);
}

void CudaBackend::token_logprobs(backend::Act x, std::span<const int32_t> rows, std::span<const int32_t> tokens,
                                 float* out) {
  if (rows.size() != tokens.size()) fail(kWhere, "token_logprobs: one token per row");
  if (rows.empty()) return;
  if (x.dtype != DType::F32 || x.data == nullptr) fail(kWhere, "token_logprobs: logits must be an fp32 buffer");
  if (!sample_pending_.empty()) fail(kWhere, "token_logprobs: a sample_async is pending");
  if (step_mode_ != StepMode::None) flush();
  const size_t n = rows.size();
  for (size_t i = 0; i < n; ++i) {
    if (rows[i] < 0 || rows[i] >= x.rows) fail(kWhere, "token_logprobs: row outside the logits");
    if (tokens[i] < 0 || tokens[i] >= x.cols)
      fail("token", std::to_string(tokens[i]) + " outside the vocabulary [0, " + std::to_string(x.cols) + ")");
  }
  ensure_sample_buffers(x, n);
  const size_t part = round256(n * 4);
  char* host = sample_half(0);  // nothing is pending: either half is free
  std::memcpy(host, rows.data(), n * 4);
  std::memcpy(host + part, tokens.data(), n * 4);
  // Queries and results in the pinned host buffer, which the kernels read and write directly (as sample() does).
  ck::token_logprobs(static_cast<const float*>(x.data), x.cols, reinterpret_cast<const int32_t*>(host),
                     reinterpret_cast<const int32_t*>(host + part), reinterpret_cast<float*>(host + 2 * part),
                     static_cast<int>(n), sample_dev_, stream_);
  check_launch("token_logprobs");
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  std::memcpy(out, host + 2 * part, n * 4);
  for (size_t i = 0; i < n; ++i)
    if (out[i] != out[i]) fail("logits", "every logit is -inf or NaN");
}

}  // namespace verbatim::cuda

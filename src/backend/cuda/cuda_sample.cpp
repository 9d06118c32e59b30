// The CUDA backend's sampling and logprobs on the device (kernels/cuda/sample.cuh), on the logits of the last step.
#include <algorithm>
#include <cstring>

#include "backend/cuda/cuda_backend_impl.h"
#include "kernels/cuda/sample.cuh"

namespace verbatim::cuda {
namespace {

constexpr const char* kWhere = "cuda backend";
namespace ck = cuda_kernels;

}  // namespace

void CudaBackend::ensure_sample_buffers(size_t dev_bytes, size_t host_bytes) {
  if (dev_bytes > sample_dev_bytes_) {
    sample_dev_bytes_ = std::max(dev_bytes, 2 * sample_dev_bytes_);
    sample_dev_ = allocate(sample_dev_bytes_, "sampling buffers", /*zero=*/false);
  }
  if (host_bytes > sample_host_bytes_) {
    if (sample_host_ != nullptr) check_cuda(cudaFreeHost(sample_host_), "cudaFreeHost");
    sample_host_ = nullptr;
    sample_host_bytes_ = std::max(host_bytes, 2 * sample_host_bytes_);
    check_cuda(cudaMallocHost(&sample_host_, sample_host_bytes_), "cudaMallocHost(sampling)");
  }
}

void CudaBackend::sample(backend::Act x, std::span<const backend::SampleSpec> specs,
                         std::span<backend::SampleResult> out) {
  if (specs.size() != out.size()) fail(kWhere, "sample: one result per spec");
  if (specs.empty()) return;
  if (x.dtype != DType::F32 || x.data == nullptr) fail(kWhere, "sample: logits must be an fp32 buffer");
  if (step_mode_ != StepMode::None) flush();
  const size_t n = specs.size();
  std::vector<ck::SampleRowSpec> dspecs(n);
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
  const size_t spec_bytes = (n * sizeof(ck::SampleRowSpec) + 255) / 256 * 256;
  const size_t res_bytes = (n * sizeof(ck::SampleRowResult) + 255) / 256 * 256;
  const size_t ws_bytes = ck::sample_workspace_bytes(static_cast<int>(n), x.cols);
  ensure_sample_buffers(ws_bytes, spec_bytes + res_bytes);
  char* host = static_cast<char*>(sample_host_);
  std::memcpy(host, dspecs.data(), n * sizeof(ck::SampleRowSpec));
  // The kernels read the specs from, and write the results to, the pinned host buffer (mapped into the device's
  // address space): no copy-engine transfer on either side of them.
  ck::sample_rows(static_cast<const float*>(x.data), x.cols, reinterpret_cast<const ck::SampleRowSpec*>(host),
                  reinterpret_cast<ck::SampleRowResult*>(host + spec_bytes), static_cast<int>(n), sample_dev_, stream_);
  check_launch("sample_rows");
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
  const auto* r = reinterpret_cast<const ck::SampleRowResult*>(host + spec_bytes);
  for (size_t i = 0; i < n; ++i) {
    out[i].token = r[i].token;
    out[i].logprob = r[i].logprob;
    out[i].n_top = r[i].token < 0 ? 0 : r[i].n_top;
    for (int j = 0; j < out[i].n_top; ++j) out[i].top[j] = {r[i].top_id[j], r[i].top_logprob[j]};
  }
}

void CudaBackend::token_logprobs(backend::Act x, std::span<const int32_t> rows, std::span<const int32_t> tokens,
                                 float* out) {
  if (rows.size() != tokens.size()) fail(kWhere, "token_logprobs: one token per row");
  if (rows.empty()) return;
  if (x.dtype != DType::F32 || x.data == nullptr) fail(kWhere, "token_logprobs: logits must be an fp32 buffer");
  if (step_mode_ != StepMode::None) flush();
  const size_t n = rows.size();
  for (size_t i = 0; i < n; ++i) {
    if (rows[i] < 0 || rows[i] >= x.rows) fail(kWhere, "token_logprobs: row outside the logits");
    if (tokens[i] < 0 || tokens[i] >= x.cols)
      fail("token", std::to_string(tokens[i]) + " outside the vocabulary [0, " + std::to_string(x.cols) + ")");
  }
  const size_t part = (n * 4 + 255) / 256 * 256;
  ensure_sample_buffers(ck::sample_workspace_bytes(static_cast<int>(n), x.cols), 3 * part);
  char* host = static_cast<char*>(sample_host_);
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

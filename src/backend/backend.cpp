#include "backend/backend.h"

#include "util/error.h"

namespace verbatim {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::Invariant:
      return "invariant";
    case Mode::Fast:
      return "fast";
  }
  return "?";
}

Mode parse_mode(const std::string& s) {
  if (s == "invariant") return Mode::Invariant;
  if (s == "fast") return Mode::Fast;
  fail("mode", "unknown mode \"" + s + "\" (expected invariant or fast)");
}

namespace backend {

const char* cpu_matmul_name(CpuMatmul m) {
  switch (m) {
    case CpuMatmul::Bf16:
      return "bf16";
    case CpuMatmul::Amx:
      return "amx";
    case CpuMatmul::Fp32:
      break;
  }
  return "fp32";
}

CpuMatmul parse_cpu_matmul(const std::string& name) {
  if (name == "fp32") return CpuMatmul::Fp32;
  if (name == "bf16") return CpuMatmul::Bf16;
  if (name == "amx") return CpuMatmul::Amx;
  fail("cpu_matmul", "unknown value \"" + name + "\" (expected fp32, bf16 or amx)");
}

const char* cpu_kv_name(CpuKv k) {
  return k == CpuKv::Bf16 ? "bf16" : "fp32";
}

CpuKv parse_cpu_kv(const std::string& name) {
  if (name == "fp32") return CpuKv::Fp32;
  if (name == "bf16") return CpuKv::Bf16;
  fail("cpu_kv", "unknown value \"" + name + "\" (expected fp32 or bf16)");
}

std::vector<Weight> Backend::upload_group(std::span<const Tensor* const> tensors) {
  std::vector<Weight> out;
  out.reserve(tensors.size());
  for (const Tensor* t : tensors) out.push_back(upload(*t));
  return out;
}

void Backend::matmul_group(Act x, std::span<const Weight> w, std::span<const Weight> bias, std::span<const Act> y) {
  if (w.size() != bias.size() || w.size() != y.size())
    fail(name() + " backend", "matmul_group: one bias and output per weight");
  for (size_t i = 0; i < w.size(); ++i) matmul(x, w[i], bias[i], y[i]);
}

void Backend::attention_inputs(int layer, Act q, Act k, Act v, const Weight& q_norm, const Weight& k_norm, float eps,
                               int head_dim, const float* inv_freq) {
  if (!q_norm.empty()) head_rmsnorm(q, q_norm, eps);
  if (!k_norm.empty()) head_rmsnorm(k, k_norm, eps);
  rope(q, head_dim, inv_freq);
  rope(k, head_dim, inv_freq);
  kv_write(layer, k, v);
}

void Backend::sample(Act, std::span<const SampleSpec>, std::span<SampleResult>) {
  fail(name() + " backend", "cannot sample on the device");
}

void Backend::token_logprobs(Act, std::span<const int32_t>, std::span<const int32_t>, float*) {
  fail(name() + " backend", "cannot compute logprobs on the device");
}

void Backend::sample_async(Act, std::span<const SampleSpec>) {
  fail(name() + " backend", "cannot sample asynchronously");
}

void Backend::sample_wait(std::span<SampleResult>) {
  fail(name() + " backend", "cannot sample asynchronously");
}

}  // namespace backend
}  // namespace verbatim

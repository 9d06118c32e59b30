#include "kernels/cpu/rope.h"

#include <cmath>
#include <numbers>

#include "kernels/cpu/check.h"

namespace verbatim::kernels::cpu {

namespace {

// HF's _compute_llama3_parameters, expression by expression, in torch's fp32 semantics (see the header).
void apply_llama3_scaling(std::vector<float>& inv_freq, const RopeFreqScaling& s) {
  const double old_context_len = static_cast<double>(s.original_max_position_embeddings);
  const float low_freq_wavelen = static_cast<float>(old_context_len / static_cast<double>(s.low_freq_factor));
  const float high_freq_wavelen = static_cast<float>(old_context_len / static_cast<double>(s.high_freq_factor));
  const float two_pi = static_cast<float>(2.0 * std::numbers::pi);
  const float old_context_len_f = static_cast<float>(old_context_len);
  const float factor_span = static_cast<float>(static_cast<double>(s.high_freq_factor) - s.low_freq_factor);
  for (float& f : inv_freq) {
    const float wavelen = (1.0f / f) * two_pi;  // 2 * math.pi / inv_freq
    // inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    const float llama = wavelen > low_freq_wavelen ? f / s.factor : f;
    // smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    const float smooth = ((1.0f / wavelen) * old_context_len_f - s.low_freq_factor) / factor_span;
    // smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    const float smoothed = (1.0f - smooth) * llama / s.factor + smooth * llama;
    const bool is_medium_freq = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    f = is_medium_freq ? smoothed : llama;
  }
}

}  // namespace

std::vector<float> rope_inv_freq(int head_dim, float theta, const RopeFreqScaling& scaling) {
  VERBATIM_KERNEL_CHECK(head_dim > 0 && head_dim % 2 == 0 && theta > 0.0f);
  std::vector<float> inv_freq(static_cast<size_t>(head_dim / 2));  // [head_dim / 2]
  for (int i = 0; i < head_dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq[i] = 1.0f / std::pow(theta, exponent);  // powf
  }
  switch (scaling.type) {
    case RopeFreqScaling::Type::None:
      break;
    case RopeFreqScaling::Type::Linear:
      for (float& f : inv_freq) f = f / scaling.factor;
      break;
    case RopeFreqScaling::Type::Llama3:
      apply_llama3_scaling(inv_freq, scaling);
      break;
  }
  return inv_freq;
}

void rope(float* x, const int32_t* positions, int64_t n_tokens, const float* inv_freq, const RopeParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && inv_freq != nullptr && p.n_heads > 0 && p.head_dim > 0 && p.head_dim % 2 == 0 &&
                        n_tokens >= 0);
  const int half = p.head_dim / 2;
  for (int64_t t = 0; t < n_tokens; ++t) {
    VERBATIM_KERNEL_CHECK(positions[t] >= 0);
    const float pos = static_cast<float>(positions[t]);
    for (int h = 0; h < p.n_heads; ++h) {
      float* v = x + (t * p.n_heads + h) * p.head_dim;  // [head_dim]
      for (int i = 0; i < half; ++i) {
        const float angle = pos * inv_freq[i];
        const float c = std::cos(angle);
        const float s = std::sin(angle);
        const float a = v[i];
        const float b = v[i + half];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
      }
    }
  }
}

}  // namespace verbatim::kernels::cpu

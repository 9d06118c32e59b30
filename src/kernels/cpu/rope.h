// Rotary position embedding, the "rotate halves" convention of Hugging Face (NeoX): within each head of size d,
// element i (i < d/2) pairs with element i + d/2 and both rotate by the angle pos * inv_freq[i]:
//   out[i]       = x[i] * cos - x[i + d/2] * sin
//   out[i + d/2] = x[i + d/2] * cos + x[i] * sin
// The arithmetic mirrors HF in fp32 (angle = float(pos) * inv_freq[i], then cosf/sinf), so logits agree with HF's fp32
// forward to ~1e-4; llama2.c computes the same expressions for its interleaved pairs.
#pragma once

#include <cstdint>
#include <vector>

namespace verbatim::kernels::cpu {

// RoPE frequency scaling, with the fields of HF's config.rope_scaling. (A plain struct, so that kernels need no model
// types; the model copies ModelConfig::rope_scaling into it.)
struct RopeFreqScaling {
  enum class Type { None, Linear, Llama3 } type = Type::None;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;                 // Llama 3
  float high_freq_factor = 4.0f;                // Llama 3
  int original_max_position_embeddings = 8192;  // Llama 3
};

// The inverse frequencies [head_dim / 2], computed in fp32 as HF's transformers computes them with torch:
//   default: inv_freq[i] = 1.0f / powf(theta, float(2i) / float(head_dim))   (_compute_default_rope_parameters)
//   Linear:  inv_freq[i] / factor                                            (_compute_linear_scaling_rope_parameters)
//   Llama3:  _compute_llama3_parameters, with torch's fp32 semantics for its Python expressions: `2*pi / inv_freq` is
//            reciprocal(inv_freq) * float(2*pi) (Tensor.__rtruediv__), scalars are cast to fp32, and the wavelength
//            bounds are original_max_position_embeddings / {low,high}_freq_factor (in double, then fp32).
// head_dim must be even and positive, theta > 0.
std::vector<float> rope_inv_freq(int head_dim, float theta, const RopeFreqScaling& scaling = {});

struct RopeParams {
  int n_heads = 0;   // heads per token row
  int head_dim = 0;  // even
};

// Rotates x in place. x: [n_tokens, n_heads * head_dim]; positions: [n_tokens] (>= 0); inv_freq: [head_dim / 2].
void rope(float* x, const int32_t* positions, int64_t n_tokens, const float* inv_freq, const RopeParams& p);

}  // namespace verbatim::kernels::cpu

// The SwiGLU activation of the Llama MLP: out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + expf(-x)) in fp32 (the
// expression PyTorch's silu evaluates).
#pragma once

#include <cstdint>

namespace verbatim::kernels::cpu {

// gate, up, out: [n] (out may alias gate or up).
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace verbatim::kernels::cpu

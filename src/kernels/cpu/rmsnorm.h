// RMSNorm, computed the way Hugging Face's LlamaRMSNorm (and Qwen2/Qwen3's) and llama2.c compute it in fp32:
//   ss  = x[0]*x[0] + x[1]*x[1] + ...      (fp32, sequential in index order)
//   inv = 1.0f / sqrtf(ss / n + eps)       (HF: torch.rsqrt(variance + eps), variance = mean of squares)
//   y[i] = w[i] * (x[i] * inv)             (HF: weight * (hidden * rsqrt); llama2.c: weight[j] * (ss * x[j]))
#pragma once

#include <cstdint>

#include "util/dtype.h"

namespace verbatim::kernels::cpu {

struct RmsNormParams {
  int64_t n = 0;  // row length (the normalized dimension)
  float eps = 1e-5f;
};

// Normalizes `rows` rows independently with the same weight. x, y: [rows, n] (y may alias x); w: [n] as `w_dtype`.
void rmsnorm(const float* x, const void* w, DType w_dtype, float* y, int64_t rows, const RmsNormParams& p);

}  // namespace verbatim::kernels::cpu

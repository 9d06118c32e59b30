// A weight tensor as the model holds it: a typed view of memory that lives in a memory-mapped file or in a buffer
// owned by the Model. Shapes are row-major, outermost first: a linear layer's weight is [out_features, in_features].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/dtype.h"
#include "util/half.h"

namespace verbatim {

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;

  bool empty() const { return data == nullptr; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  // Element i converted to fp32 (exact for every DType). For references and tests, not hot loops.
  float at(int64_t i) const {
    switch (dtype) {
      case DType::F32:
        return static_cast<const float*>(data)[i];
      case DType::F16:
        return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
      case DType::BF16:
        return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    }
    return 0.0f;
  }
};

}  // namespace verbatim

// Element types of weight tensors as the engine holds them. Quantized file formats are dequantized at load.
#pragma once

#include <cstddef>
#include <cstdint>

namespace verbatim {

enum class DType : uint8_t { F32, F16, BF16 };

inline size_t dtype_size(DType t) {
  return t == DType::F32 ? 4 : 2;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
  }
  return "?";
}

}  // namespace verbatim

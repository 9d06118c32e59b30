// Reading stored weight elements as fp32. Every DType converts exactly (f16/bf16 -> f32 is exact), one element at a
// time, so a kernel given bf16 or f16 weights computes bit for bit what it computes on the same weights pre-converted
// to f32.
#pragma once

#include <cstdint>
#include <type_traits>

#include "util/dtype.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {

// Element i of `data`, stored as D, as fp32.
template <DType D>
inline float load_weight(const void* data, int64_t i) {
  if constexpr (D == DType::F32) {
    return static_cast<const float*>(data)[i];
  } else if constexpr (D == DType::F16) {
    return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
  } else {
    return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
  }
}

template <DType D>
using DTypeTag = std::integral_constant<DType, D>;

// Calls f(DTypeTag<D>{}) for the runtime dtype, so that a kernel body is compiled once per storage type:
//   dispatch_dtype(dtype, [&](auto tag) { constexpr DType D = decltype(tag)::value; ... load_weight<D>(w, i) ... });
template <typename F>
inline void dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32:
      f(DTypeTag<DType::F32>{});
      return;
    case DType::F16:
      f(DTypeTag<DType::F16>{});
      return;
    case DType::BF16:
      f(DTypeTag<DType::BF16>{});
      return;
  }
}

}  // namespace verbatim::kernels::cpu

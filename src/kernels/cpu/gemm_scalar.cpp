// The portable GEMM path: plain C++ over the packed layout of kernels/cpu/gemm.h, in its order.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/gemm_tiles.h"
#include "util/half.h"

namespace verbatim::kernels::cpu::gemm_detail {
namespace {

template <DType D>
inline float packed_at(const uint8_t* panel, int64_t t, int c) {
  if constexpr (D == DType::F32) {
    return reinterpret_cast<const float*>(panel)[t * kGemmPanel + c];
  } else if constexpr (D == DType::F16) {
    return f16_to_f32(reinterpret_cast<const uint16_t*>(panel)[t * kGemmPanel + c]);
  } else {
    const int slot = 2 * (c % 16) + c / 16;  // gemm.h: word c % 16 holds columns c % 16 (low) and 16 + c % 16 (high)
    return bf16_to_f32(reinterpret_cast<const uint16_t*>(panel)[t * kGemmPanel + slot]);
  }
}

}  // namespace

template <DType D>
void item_scalar(const Item& it) {
  const int64_t pb = panel_bytes(D, it.k);
  for (int64_t i = it.r0; i < it.r1; ++i) {
    const float* xi = it.x + i * it.k;  // [k]
    for (int64_t pi = it.p0; pi < it.p1; ++pi) {
      const uint8_t* panel = it.packed + pi * pb;
      float acc[kGemmPanel] = {};  // +0
      for (int64_t t = 0; t < it.k; ++t) {
        const float xv = xi[t];
        for (int c = 0; c < kGemmPanel; ++c) acc[c] = std::fma(xv, packed_at<D>(panel, t, c), acc[c]);
      }
      const int64_t col0 = pi * kGemmPanel;
      const int64_t valid = std::min<int64_t>(kGemmPanel, it.n - col0);
      for (int64_t c = 0; c < valid; ++c) it.y[i * it.n + col0 + c] = acc[c];
    }
  }
}

template void item_scalar<DType::F32>(const Item&);
template void item_scalar<DType::F16>(const Item&);
template void item_scalar<DType::BF16>(const Item&);

}  // namespace verbatim::kernels::cpu::gemm_detail

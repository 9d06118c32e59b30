// Internal to the GEMM (kernels/cpu/gemm.h): one work item of the output, and the per-path code that computes it.
// gemm.cpp packs, splits the output into items and dispatches; gemm_scalar.cpp, gemm_avx2.cpp and gemm_avx512.cpp
// each compute an item in the order of gemm.h (acc = fma(x, w, acc), t increasing, one accumulator per output).
#pragma once

#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "util/dtype.h"

namespace verbatim::kernels::cpu::gemm_detail {

// Rows [r0, r1) x panels [p0, p1) of y = x W^T.
struct Item {
  const float* x;         // [m, k]
  const uint8_t* packed;  // all panels
  float* y;               // [m, n]
  int64_t n, k;
  int64_t r0, r1, p0, p1;
};

inline int64_t panel_bytes(DType d, int64_t k) {
  return k * kGemmPanel * static_cast<int64_t>(dtype_size(d));
}

// Row tiles as even as possible (16 rows, at most 6 a tile: 6 + 5 + 5, not 6 + 6 + 4; short tiles use the FP pipes
// less well): the size of the next tile when `left` rows remain.
inline int even_tile(int64_t left, int max_tile) {
  const int64_t tiles_left = (left + max_tile - 1) / max_tile;
  return static_cast<int>(left / tiles_left + (left % tiles_left != 0));
}

template <DType D>
void item_scalar(const Item& it);
template <DType D>
void item_avx2(const Item& it);  // only where cpu_has_avx2_fma()
template <DType D>
void item_avx512(const Item& it);  // only where cpu_has_avx512f()

}  // namespace verbatim::kernels::cpu::gemm_detail

// Internal to the bf16-dot GEMM (kernels/cpu/gemm_bf16dot.h): one work item of the output and the AVX512_BF16 code
// that computes it. gemm_bf16dot.cpp packs, rounds x, splits the output into items and dispatches.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/gemm.h"

namespace verbatim::kernels::cpu::bf16dot_detail {

// Rows [r0, r1) x panels [p0, p1) of y = x W^T, x as bf16 pairs.
struct Item {
  const uint32_t* x;      // [m, kh] pairs: word s of row i = (bf16(x[i, 2s]) low, bf16(x[i, 2s + 1]) high)
  const uint8_t* packed;  // all panels
  float* y;               // [m, n]
  int64_t n, kh;          // kh = ceil(k / 2)
  int64_t r0, r1, p0, p1;
};

// The work split of the bf16-operand GEMMs (this one and gemm_amx.cpp), that of kernels/cpu/gemm.cpp: items of up to
// 4 panels x `row_block` rows, column-block-major, taken by a static schedule. It decides only who computes an output
// and when, never how.
struct WorkSplit {
  int64_t m, n_panels, cb_panels, n_rb, n_items;
  WorkSplit(int64_t m_, int64_t n, int threads, int64_t row_block_) : m(m_), row_block(row_block_) {
    n_panels = (n + kGemmPanel - 1) / kGemmPanel;
    cb_panels = std::clamp<int64_t>(n_panels / (4 * threads), 2, 4);
    n_rb = (m + row_block - 1) / row_block;
    n_items = (n_panels + cb_panels - 1) / cb_panels * n_rb;
  }
  // Item `item`: rows [r0, r1) x panels [p0, p1).
  void item(int64_t item, int64_t& r0, int64_t& r1, int64_t& p0, int64_t& p1) const {
    const int64_t cb = item / n_rb, rb = item % n_rb;
    p0 = cb * cb_panels;
    p1 = std::min(n_panels, p0 + cb_panels);
    r0 = rb * row_block;
    r1 = std::min(m, r0 + row_block);
  }

 private:
  int64_t row_block;
};

inline int64_t panel_bytes(int64_t kh) {
  return kh * kGemmPanel * 4;
}

void item_avx512bf16(const Item& it);  // only where cpu_has_avx512_bf16()

// Row x[0 .. k) as ceil(k / 2) bf16 pairs (util/half.h's f32_to_bf16, nearest even; k odd: the last high half 0),
// AVX-512 where the CPU has it (the same bits). Shared with the AMX GEMM (gemm_amx.cpp), which rounds x the same way.
void round_row_pairs(const float* x, int64_t k, uint32_t* out);

}  // namespace verbatim::kernels::cpu::bf16dot_detail

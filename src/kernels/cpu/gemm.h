// The optimized, batch-invariant linear layer: y[i, j] = sum_t x[i, t] * W[j, t] for W [n, k] stored F32/F16/BF16.
//
// Every output is computed in EXACTLY the reference order of kernels/cpu/matmul.h: one fp32 accumulator starting at
// +0, adding the product x[i, t] * W[j, t] (a rounded multiply, then a rounded add; never an FMA) for t = 0, 1, ...,
// k - 1. So y is bitwise identical to kernels::cpu::matmul whatever m is, however rows and columns are tiled, and on
// however many threads; and bf16/f16 weights give the bits of the same weights pre-converted to f32.
//
// Speed comes from the layout, not from reassociation. The weights are repacked once (gemm_pack) into panels of 16
// output columns, k-major: for each t, the 16 weights W[16p .. 16p + 15, t] are contiguous. The AVX2 path then holds
// the 16 accumulators of one (row, panel) pair in two ymm registers (lane c of register h <-> column 16p + 8h + c),
// and per t does: broadcast x[i, t]; multiply by the 16 weights; add into the accumulators. Each output's sum is
// sequential in t, so the vector lanes never hold partial sums of one output: lanes are different outputs.
// Register tiles: MR rows x NP panels with MR * NP * 2 <= 12 accumulators (6x1, 5x1, 4x1, 3x2, 2x3, 1x4 panels).
// Threads take work items of up to 128 columns x 48 rows; an item's weights stay in L2 while its row tiles pass over
// them, so a step of up to 48 rows streams each weight from memory once (a 16-row decode step costs about a third of
// 16 one-row steps; the mul + add pairs run at up to 2 + 2 per cycle on Zen's separate FP multiply and add pipes).
//
// Paths (chosen at run time, per call): AVX2 (+F16C for f16 weights) when the CPU has them, else a portable scalar
// loop over the same packed layout. Both give the same bits (the reference's).
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/dtype.h"

namespace verbatim::kernels::cpu {

inline constexpr int64_t kGemmPanel = 16;  // output columns per packed panel

// Packed layout of W [n, k] as `dtype` (P = ceil(n / 16) panels, columns past n are zero):
//   F32:  [P][k][16] floats, element c of t = W[16p + c, t]
//   F16:  [P][k][16] halves, element c of t = W[16p + c, t]
//   BF16: [P][k][8] 32-bit words; word c of t = W[16p + c, t] in its low half, W[16p + 8 + c, t] in its high half
//         (so that `word << 16` and `word & 0xffff0000` are the fp32 values of columns c and 8 + c)
size_t gemm_packed_bytes(DType dtype, int64_t n, int64_t k);

struct GemmPackParams {
  int64_t n = 0;    // rows of W (output features)
  int64_t k = 0;    // columns of W (input features)
  int threads = 1;  // OpenMP threads (over panels)
};

// w: [n, k] row-major as `dtype`; packed: gemm_packed_bytes(dtype, n, k) bytes, 32-byte aligned. Exact (a copy).
void gemm_pack(const void* w, DType dtype, void* packed, const GemmPackParams& p);

struct GemmParams {
  int64_t m = 0;        // rows of x and y (tokens)
  int64_t n = 0;        // output features
  int64_t k = 0;        // input features
  int threads = 1;      // OpenMP threads: they split the output into (column block, row block) tiles
  bool scalar = false;  // run the portable path even where AVX2 exists (tests compare the two)
};

// x: [m, k] fp32; packed: from gemm_pack for this (dtype, n, k); y: [m, n] fp32 (must not alias x).
void gemm(const float* x, const void* packed, DType dtype, float* y, const GemmParams& p);

// "avx2" or "scalar": the path gemm() takes on this CPU for `dtype` when not told to run scalar.
const char* gemm_path(DType dtype);

}  // namespace verbatim::kernels::cpu

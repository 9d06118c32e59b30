// The optimized, batch-invariant linear layer: y[i, j] = sum_t x[i, t] * W[j, t] for W [n, k] stored F32/F16/BF16.
//
// Every output is computed in EXACTLY the reference order of kernels/cpu/matmul.h: one fp32 accumulator starting at
// +0, then acc = fma(x[i, t], W[j, t], acc) (one fused multiply-add, rounded once) for t = 0, 1, ..., k - 1. So y is
// bitwise identical to kernels::cpu::matmul whatever m is, however rows and columns are tiled, on however many
// threads and on every path below; and bf16/f16 weights give the bits of the same weights pre-converted to f32.
//
// Speed comes from the layout, not from reassociation. The weights are repacked once (gemm_pack) into panels of 32
// output columns, k-major: for each t, the 32 weights W[32p .. 32p + 31, t] are contiguous (64 bytes for bf16/f16).
// A register tile holds the accumulators of MR rows x NP panels; per t it loads the NP panels' 32 weights once
// (converting bf16/f16 to fp32 in registers), broadcasts x[i, t] of each of its rows, and does one vector FMA per
// (row, 16 or 8 columns). Each output's sum is sequential in t: the vector lanes are different outputs, never partial
// sums of one output. Threads take work items of up to 128 columns x 48 rows; the AVX-512 path walks an item panel
// group by panel group, all its row tiles over one group before the next (the group's weights come from memory once,
// then from cache), prefetching the thread's weight stream ahead, so a step of up to 48 rows streams each weight from
// memory once. (The CPU backend keeps the packed weights on 2 MiB pages: streaming them through 4 KiB pages cost the
// GEMM 15-20% in TLB misses.)
//
// Paths (chosen at run time, per call; all give the same bits, the reference's):
//   avx512  AVX-512F: zmm tiles of up to 8 rows (2 rows x 3 panels ... 8 rows x 1 panel; <= 24 accumulators), and
//           1 row x 1 panel, so that a one-row step reads each thread's weights as one sequential stream
//   avx2    AVX2 + F16C + FMA: ymm tiles of up to 3 rows
//   scalar  portable C++ over the same packed layout, std::fma (a library call, exact, where the CPU has no FMA)
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/dtype.h"

namespace verbatim::kernels::cpu {

inline constexpr int64_t kGemmPanel = 32;  // output columns per packed panel

// Packed layout of W [n, k] as `dtype` (P = ceil(n / 32) panels, columns past n are zero):
//   F32:  [P][k][32] floats, element c of t = W[32p + c, t]
//   F16:  [P][k][32] halves, element c of t = W[32p + c, t]
//   BF16: [P][k][16] 32-bit words; word c of t = W[32p + c, t] in its low half, W[32p + 16 + c, t] in its high half
//         (so that `word << 16` and `word & 0xffff0000` are the fp32 values of columns c and 16 + c)
size_t gemm_packed_bytes(DType dtype, int64_t n, int64_t k);

struct GemmPackParams {
  int64_t n = 0;    // rows of W (output features)
  int64_t k = 0;    // columns of W (input features)
  int threads = 1;  // OpenMP threads (over panels)
};

// w: [n, k] row-major as `dtype`; packed: gemm_packed_bytes(dtype, n, k) bytes, 64-byte aligned. Exact (a copy).
void gemm_pack(const void* w, DType dtype, void* packed, const GemmPackParams& p);

// Which code runs: the best this CPU has (Auto), or one named path (tests and benchmarks compare them).
enum class GemmIsa { Auto, Scalar, Avx2, Avx512 };

struct GemmParams {
  int64_t m = 0;                // rows of x and y (tokens)
  int64_t n = 0;                // output features
  int64_t k = 0;                // input features
  int threads = 1;              // OpenMP threads: they split the output into (column block, row block) items
  GemmIsa isa = GemmIsa::Auto;  // a named path must be available (gemm_isa_available), else a kernel check fails
};

// x: [m, k] fp32; packed: from gemm_pack for this (dtype, n, k); y: [m, n] fp32 (must not alias x).
void gemm(const float* x, const void* packed, DType dtype, float* y, const GemmParams& p);

// Whether this CPU runs `isa` (Auto and Scalar: always).
bool gemm_isa_available(GemmIsa isa);

// "avx512", "avx2" or "scalar": the path gemm() takes on this CPU with GemmIsa::Auto.
const char* gemm_path(DType dtype);

}  // namespace verbatim::kernels::cpu

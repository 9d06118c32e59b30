// CUDA "scaled RMSNorm" input of a GEMM (row_math.cuh, kNormTile): for each row, optionally the residual add first
// (residual[r] += x[r], fp32), then of the row h (the new residual, or x alone): U = bf16(w * h) (the GEMM's X) and the
// row's 16-column tile partials of the sum of squares, ss[r][t] (fp32), from which the GEMM's consumer computes the
// row's inv_rms and scales the GEMM's output (y = acc * inv). The small-M GEMM's residual epilogue with prep
// (gemm_small_m.cuh) gives the same residual, U and partials bit for bit (tests/cuda/norm_prep_test.cu).
// One block of 8 warps per row: warp w takes tiles 4 w + 32 j + lane / 8, lane % 8 its pair g. Needs n % 16 == 0.
// CPU reference: the test's emulation of the same operations (and kernels/cpu/rmsnorm.h for the normed product).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

inline constexpr int kNormTile = 16;  // columns per partial of the scaled norm's sum of squares

struct RmsPrepParams {
  float* residual = nullptr;  // [rows, n] fp32, += x (with x); or null: the row is x
  const float* x = nullptr;   // [rows, n] fp32; or null: the row is residual (no add)
  const void* w = nullptr;    // [n] bf16: the norm's weight
  void* u = nullptr;          // [rows, n] bf16: U = bf16(w * h)
  float* ss = nullptr;        // [rows, n / 16] fp32: the tile partials
  int64_t n = 0;
  // The embedding folded in (layer 0's norm): with `table`, the row h is float(table[tokens[r]]) (bf16 [vocab, n]; a
  // token outside [0, vocab) gives a row of zeros, as kernels/cuda/embedding.cuh does), stored to x_out too (the
  // embedding's output: the residual stream the model goes on with); residual and x must then be null. The same
  // bits as embedding() followed by rms_prep on its output.
  const void* table = nullptr;
  const int32_t* tokens = nullptr;  // [rows] device
  int64_t vocab = 0;
  float* x_out = nullptr;  // [rows, n] fp32
};

// The consumer side: the rows of a GEMM output whose input was a scaled norm's U are multiplied by their inv_rms from
// the tile partials (row_math.cuh's inv_from_tiles), y = acc * inv, before anything else happens to them (swiglu_rows,
// split_columns, attention_inputs take one). ss == nullptr: no scale.
struct RowScale {
  const float* ss = nullptr;  // [rows, n / 16]
  int64_t n = 0;              // the normed row's width
  float eps = 0.0f;
};

// Throws Error (util/error.h) when n is not a positive multiple of 16, neither residual nor x (nor a table) is given,
// or a table comes without tokens and x_out or with residual or x.
void rms_prep(const RmsPrepParams& p, int64_t rows, cudaStream_t stream);

}  // namespace verbatim::cuda_kernels

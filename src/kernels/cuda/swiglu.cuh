// CUDA SwiGLU: out[i] = (g / (1 + expf(-g))) * up[i], g = gate[i] (the expression of kernels/cpu/swiglu.h; CUDA's
// expf is within 2 ulp of the CPU's). Elementwise, no reduction.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/rms_prep.cuh"
#include "util/dtype.h"

namespace verbatim::cuda_kernels {

// gate, up: [n] fp32; out: [n] of out_dtype (F32 or BF16).
void swiglu(const float* gate, const float* up, void* out, DType out_dtype, int64_t n, cudaStream_t stream);

// The same over rows of `cols` whose gate and up rows lie at stride `ld` (a stacked gate/up GEMM output: up = gate +
// cols); out: [rows, cols]. With a row scale (rms_prep.cuh: the input of the GEMM was a scaled norm's), gate and up
// are first multiplied by their row's inv_rms (the small-M GEMM's SwiGLU epilogue with row_ss, bit for bit).
void swiglu_rows(const float* gate, const float* up, int64_t ld, int64_t rows, int64_t cols, void* out, DType out_dtype,
                 cudaStream_t stream, const RowScale& scale = {});

}  // namespace verbatim::cuda_kernels

// Host side of the tensor (TMA) copies (tma_ring.cuh): bf16 tensor maps of row-major matrices, encoded through the
// driver's cuTensorMapEncodeTiled (looked up through the runtime: the build links no libcuda).
#pragma once

#include <cuda.h>

#include <cstdint>

namespace verbatim::cuda_kernels {

inline constexpr int kTensorMapBoxK = 64;  // columns per box: 128 bytes of bf16, the 128-byte swizzle's span

// A bf16 tensor map of [rows][cols] at `p` (row stride cols) under the 128-byte swizzle (or none): 2-D with box 64
// columns x box_rows, or (chunks > 0, cols % 64 == 0) 3-D {64 columns, rows, cols / 64 chunks} with box {64, box_rows,
// chunks}. Throws Error (util/error.h) where the driver refuses it.
CUtensorMap tensor_map(const void* p, int64_t rows, int64_t cols, int box_rows, int chunks, bool swizzle = true);

}  // namespace verbatim::cuda_kernels

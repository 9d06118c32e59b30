// The bf16-dot linear layer (the CPU backend's cpu_matmul = bf16): y[i, j] = sum_t bf16(x[i, t]) * bf16(W[j, t]) with
// AVX512_BF16 `vdpbf16ps`, twice the multiply-adds per instruction of the fp32 path (kernels/cpu/gemm.h), at the price
// of rounding the activations x to bf16 first (what llama.cpp does for bf16 weights, and what the CUDA backend's
// tensor-core GEMMs do). It is NOT bitwise the fp32 reference (kernels/cpu/matmul.h); its own reference is
// gemm_bf16dot_reference below, and it is still batch invariant: every output's bits are a function of its own row
// of x and the weights only, never of m, the tiling or the thread count.
//
// The arithmetic, for one output (i, j), defined by the instruction (Intel SDM, VDPBF16PS; checked bitwise against
// the scalar emulation bf16dot_step on this project's AMD EPYC VM, a Zen 5 (family 26) since its 2026-12-02 03:44 UTC
// reboot: docs/performance.md):
//   a[t] = bf16(x[i, t]) (round to nearest even, f32_to_bf16 of util/half.h), b[t] = bf16(W[j, t]) (bf16 weights
//   exactly; f32/f16 weights rounded the same way at packing); k padded to even with zeros;
//   acc = +0; for s = 0, 1, ..., k/2 - 1 in increasing order:
//     acc = acc + a[2s+1] * b[2s+1]    (the "odd" pair first; the product is exact, the sum rounded once, RNE)
//     acc = acc + a[2s]   * b[2s]
//   with denormal inputs (a, b and acc) read as zero and denormal results flushed to zero (DAZ/FTZ).
// One fp32 accumulator per output, one instruction lane per output: vector lanes are different outputs, never partial
// sums of one output, and every tile of every shape runs the same instruction sequence per lane.
//
// Layout: W [n, k] is repacked once (gemm_bf16dot_pack) into panels of 32 output columns; per pair s, 32 words of
// 32 bits, word c = (W[32p + c, 2s] in its low half, W[32p + c, 2s + 1] in its high half): [P][ceil(k/2)][32] words.
// x is rounded once per call into a scratch of the same pair layout ([m][ceil(k/2)] words). The tiles, the work split
// and the prefetch are those of the fp32 AVX-512 path (gemm_avx512.cpp): zmm tiles of up to 8 rows, one panel at a
// time for one row (one sequential weight stream per thread), panel-group walk, 16 KiB look-ahead.
//
// Only where cpu_has_avx512_bf16(): there is no other path (a slower emulation would be the same bits, but a silent
// 10x slowdown is worse than a clear error), so callers check gemm_bf16dot_available() and fail loudly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "util/dtype.h"

namespace verbatim::kernels::cpu {

// Whether this CPU runs gemm_bf16dot (AVX512_BF16, on top of AVX-512F).
bool gemm_bf16dot_available();

// Bytes of the packed W [n, k]: ceil(n / 32) panels x ceil(k / 2) pairs x 128 bytes.
size_t gemm_bf16dot_packed_bytes(int64_t n, int64_t k);

// w: [n, k] row-major as `dtype` (BF16 copied exactly; F32 and F16 rounded to bf16, nearest even); packed:
// gemm_bf16dot_packed_bytes(n, k) bytes, 64-byte aligned. Runs on any CPU.
void gemm_bf16dot_pack(const void* w, DType dtype, void* packed, const GemmPackParams& p);

// Bytes of the scratch gemm_bf16dot needs for m rows of k (x rounded to bf16 pairs).
size_t gemm_bf16dot_scratch_bytes(int64_t m, int64_t k);

struct GemmBf16DotParams {
  int64_t m = 0;    // rows of x and y
  int64_t n = 0;    // output features
  int64_t k = 0;    // input features
  int threads = 1;  // OpenMP threads: they round rows of x, then split the output into (column block, row block) items
};

// x: [m, k] fp32; packed: from gemm_bf16dot_pack for (n, k); y: [m, n] fp32 (must not alias x); scratch:
// gemm_bf16dot_scratch_bytes(m, k) bytes, 64-byte aligned. A kernel check fails where !gemm_bf16dot_available().
void gemm_bf16dot(const float* x, const void* packed, float* y, void* scratch, const GemmBf16DotParams& p);

// One step of the instruction's lane: acc + a_hi * b_hi, then + a_lo * b_lo (a, b: two bf16 each, the element of the
// odd index in the high half), DAZ/FTZ, RNE. The scalar definition of the arithmetic above.
float bf16dot_step(float acc, uint32_t a_pair, uint32_t b_pair);

// The reference: the arithmetic above in plain scalar C++ over the unpacked weights (any CPU, slow).
// x: [m, k] fp32; w: [n, k] as `dtype`; y: [m, n].
void gemm_bf16dot_reference(const float* x, const void* w, DType dtype, float* y, int64_t m, int64_t n, int64_t k);

}  // namespace verbatim::kernels::cpu

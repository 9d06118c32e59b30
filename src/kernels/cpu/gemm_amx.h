// The AMX linear layer (the CPU backend's cpu_matmul = amx): y[i, j] = sum_t bf16(x[i, t]) * bf16(W[j, t]) on the
// AMX tile unit (`tdpbf16ps`): a 16 x 16 block of outputs times 32 k per instruction, ~8x the multiply-adds per
// cycle of AVX512_BF16's `vdpbf16ps`. Its operands are those of the bf16-dot GEMM (kernels/cpu/gemm_bf16dot.h: x
// rounded to bf16 once per row, the same packed weights), but NOT its bits: the tile unit sums a k block's 32
// products into the accumulator its own way (probed on this project's Intel dev VM: 1 + 32 products of 2^-28 gives
// 1 + 2^-23, so a block is not rounded product by product; 1e30 - 1e30 + 1 within two pairs gives 0 while across
// pairs 0-1 and 2 it gives 1, so groups of two pairs are aligned to their largest product and lose low bits; neither
// order of vdpbf16ps's roundings, nor an exact sum per pair or per block rounded once, reproduces random blocks; Intel
// documents no bit-exact definition). So there is no scalar emulation; the tests hold the kernel to a tolerance
// against the exact-product reference, and bitwise to itself across m, threads and batches.
//
// The arithmetic, for one output (i, j), and why it is batch invariant: acc = +0; for each k block b = 0, 1, ...,
// ceil(k / 32) - 1 in increasing order, acc = TDPBF16PS lane (i, j) of (acc, x pairs 16b .. 16b + 15 of row i,
// W pairs 16b .. 16b + 15 of column j), the pairs past k zero. That is one instruction lane per output and block,
// whose result is a function of that lane's own operands only (an output's row of x and column of W, never the
// other rows or columns of the tile: tested bitwise with 1 .. 16 rows per tile and other rows changed). The sequence
// of blocks never depends on m, the tiling, the work split or the thread count.
//
// Only where cpu_has_amx_bf16() and the Linux kernel grants the process the tile data state (arch_prctl
// ARCH_REQ_XCOMP_PERM, asked once by gemm_amx_available()): there is no other path; callers check
// gemm_amx_available() and fail loudly.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/gemm_bf16dot.h"

namespace verbatim::kernels::cpu {

// Whether gemm_amx runs here: the CPU has AMX-BF16 and the OS gave this process the tile data state (asked for on
// the first call; the answer is kept: permission is per process and cannot be taken back).
bool gemm_amx_available();

// Bytes of the scratch gemm_amx needs for m rows of k: x rounded to bf16 pairs, each row padded with zero pairs to a
// whole number of 16-pair (32-k) blocks.
size_t gemm_amx_scratch_bytes(int64_t m, int64_t k);

// x: [m, k] fp32; packed: gemm_bf16dot_pack's layout for (n, k); y: [m, n] fp32 (must not alias x); scratch:
// gemm_amx_scratch_bytes(m, k) bytes, 64-byte aligned. p.threads split the rounding of x by rows, then the output by
// (column block, row block) items. A kernel check fails where !gemm_amx_available().
void gemm_amx(const float* x, const void* packed, float* y, void* scratch, const GemmBf16DotParams& p);

}  // namespace verbatim::kernels::cpu

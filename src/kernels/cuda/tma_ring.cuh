// Device helpers of the kernels that stream weights through a ring of tensor-copied (TMA) stages in shared memory:
// mbarriers, 2-D / 3-D tensor copies (with or without an L2 cache policy), ldmatrix, the 128-byte swizzle's offsets and
// the per-lane fragment offsets of the small-M GEMM's mma steps. Shared by gemm_small_m.cu and the persistent decode
// layer's prototype (bench/bench_persistent_cuda.cu). Device code only; the host side is tensor_map.cuh.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace verbatim::cuda_kernels::tma {

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
// Every shared-memory access below takes a 32-bit shared-window address: the compiler then emits shared loads, not
// generic ones through 64-bit address arithmetic.
__device__ __forceinline__ void mbar_init(unsigned bar) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(bar) : "memory");
}
// One arrival (the barrier's only one) that also announces `bytes` of tensor copies to come.
__device__ __forceinline__ void mbar_arrive_expect(unsigned bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(unsigned bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@!p bra WAIT;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
// A 2-D tensor (TMA) copy of one box at (column c0, row c1) to shared memory, completing on `bar`. Rows or columns
// outside the tensor arrive as zeros (and still count as bytes of the box).
__device__ __forceinline__ void tensor_copy(unsigned dst, const CUtensorMap* map, int c0, int c1, unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(map), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
// The same with an L2 cache policy (createpolicy).
__device__ __forceinline__ void tensor_copy_hint(unsigned dst, const CUtensorMap* map, int c0, int c1, unsigned bar,
                                                 uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1, {%2, "
      "%3}], "
      "[%4], %5;\n" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(bar), "l"(policy)
      : "memory");
}
// A 3-D box at (c0, c1, c2) (the 3-D maps below: column in chunk, row, chunk).
__device__ __forceinline__ void tensor_copy_3d(unsigned dst, const CUtensorMap* map, int c0, int c1, int c2,
                                               unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::
          "r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tensor_copy_3d_hint(unsigned dst, const CUtensorMap* map, int c0, int c1, int c2,
                                                    unsigned bar, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint [%0], [%1, {%2, %3, "
      "%4}], [%5], %6;\n" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(c2), "r"(bar), "l"(policy)
      : "memory");
}
__device__ __forceinline__ uint64_t evict_first_policy() {
  uint64_t p;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(p));
  return p;
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ uint32_t ld_shared(unsigned addr) {
  uint32_t v;
  asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(addr));
  return v;
}
// Byte offset of 16-byte chunk c of row r in a box of 128-byte rows under the 128-byte swizzle.
__device__ __forceinline__ unsigned swz(int r, int c) {
  return static_cast<unsigned>(r * 128 + ((c ^ (r & 7)) << 4));
}

// Per-lane shared-memory offsets of the fragments of the 4 steps of one box (jj = j % 4; the box adds a constant):
//  - ldmatrix: lane l gives the address of W row l % 16, 16-byte chunk 2 jj + l / 16 (the A fragment: rows 0-7 / 8-15
//    x columns 0-7 / 8-15 of the 16-column chunk);
//  - B fragments: X row 8 nb + g (g = l / 4), columns 2q, 2q + 1 (chunk 2 jj) and 2q + 8, 2q + 9 (chunk 2 jj + 1),
//    q = l % 4; rows 8 nb + g share g's swizzle, so nb adds the constant 1024 nb. Single-row X (x_row): every g reads
//    the one row (unswizzled), so mma columns 1-7 repeat column 0 and their outputs, which no row stores, are dropped.
// Computed once, so that each step is one ldmatrix, 2 NB shared loads and NB mma with constant address offsets.
struct LaneOffsets {
  unsigned w[4], x0[4], x1[4];
  __device__ LaneOffsets(int lane, bool x_row) {
    const int wr = lane & 15, h = lane >> 4, g = lane >> 2, q = lane & 3;
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) {
      w[jj] = swz(wr, 2 * jj + h);
      x0[jj] = x_row ? 32 * jj + 4 * q : swz(g, 2 * jj) + 4 * q;
      x1[jj] = x_row ? 32 * jj + 16 + 4 * q : swz(g, 2 * jj + 1) + 4 * q;
    }
  }
};

}  // namespace verbatim::cuda_kernels::tma

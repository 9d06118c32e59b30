// Tensor-core mma helpers shared by the kernels that use mma.sync (paged_attention_mma.cu, gemm_small_m.cu).
#pragma once

#include <cstdint>

namespace verbatim::cuda_kernels {

// d += A * B: one bf16 mma.sync m16n8k16 with fp32 accumulation. a: the A fragment (16 x 16, row), b0/b1: the B
// fragment (16 x 8, col), d: the C/D fragment, in the PTX ISA's fragment layouts.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

}  // namespace verbatim::cuda_kernels

// Programmatic dependent launch (Hopper): a kernel launched with cudaLaunchAttributeProgrammaticStreamSerialization
// may start before the kernel ahead of it in the stream has finished, once every CTA of that kernel has called
// pdl_allow_dependents() (or exited). It must call pdl_wait() before it reads anything the earlier kernel writes, or
// writes anything it reads: pdl_wait() returns once the earlier grid has completed and its memory is visible.
//
// Used so that a GEMM can start streaming its weights (which no earlier kernel writes) while the kernel that produces
// its input finishes. Scheduling only: no value any kernel computes depends on it.
#pragma once

namespace verbatim::cuda_kernels {

__device__ __forceinline__ void pdl_allow_dependents() {
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}

__device__ __forceinline__ void pdl_wait() {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}

}  // namespace verbatim::cuda_kernels

// Programmatic dependent launch (Hopper): every kernel of this project is launched with launch_pdl(), so it may
// become resident and run its prologue while the kernel ahead of it in the stream is still finishing, once every
// CTA of that kernel has called pdl_allow_dependents() (or exited). So every kernel calls pdl_wait() before it
// touches global memory that an earlier kernel writes or reads: it returns once every earlier kernel of the stream
// has completed and its writes are visible (a no-op when nothing is ahead). The exceptions: the small-M GEMM streams
// its first weight stages (read-only data no kernel writes) before its pdl_wait(), and the fused decode attention
// copies its first tile of older cache positions (written by earlier steps; paged_attention.cuh) before its own.
//
// Why: a decode step is ~10 short kernels per layer; without it, each boundary leaves the memory system idle for the
// launch and the ramp-up of the next kernel. Measured on an H200 (docs/performance.md, 2026-12-02): a decode-like
// graph of the qwen3-8b GEMMs with the small kernels between them went from 72.4% to 79.0% of the weight-read bound.
// Scheduling only: no value any kernel computes depends on it.
#pragma once

#include <cuda_runtime.h>

#include <utility>

namespace verbatim::cuda_kernels {

__device__ __forceinline__ void pdl_allow_dependents() {
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
}

__device__ __forceinline__ void pdl_wait() {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}

// Both, first thing in a kernel that touches global memory only after them: the next kernel may become resident
// now, and everything the earlier kernels wrote is visible after it.
__device__ __forceinline__ void pdl_enter() {
  pdl_allow_dependents();
  pdl_wait();
}

// kernel<<<grid, block, smem, stream>>>(args...), launched as a programmatic dependent of the kernel ahead on a created
// stream (where the engine runs and where the overlap was measured and tested); a default stream (nullptr,
// cudaStreamLegacy, cudaStreamPerThread), with its implicit synchronization with other streams, gets plain launches.
// Launch errors are left to the caller's cudaGetLastError check, as with <<<>>>.
template <typename... Params, typename... Args>
void launch_pdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
  const bool programmatic = stream != nullptr && stream != cudaStreamLegacy && stream != cudaStreamPerThread;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = programmatic ? 1 : 0;
  (void)cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

}  // namespace verbatim::cuda_kernels

// Making a backend by name ("cpu", "cuda"), for the engine and the tools. The one place that knows which backends this
// build has: make_backend.cpp is compiled with VERBATIM_HAVE_CUDA in builds with the CUDA backend; without it,
// "cuda" is an Error saying so.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"

namespace verbatim::backend {

struct BackendConfig {
  std::string name = "cpu";  // "cpu" | "cuda"
  Mode mode = Mode::Invariant;
  int threads = 1;                          // cpu
  CpuMatmul cpu_matmul = CpuMatmul::Fp32;   // cpu: the linear layers' arithmetic (backend/backend.h)
  CpuKv cpu_kv = CpuKv::Fp32;               // cpu: the KV cache's element type (backend/backend.h)
  int max_rows = 512;                       // cuda: most rows in one step (the GEMMs are verified up to this M)
  int max_logits = 64;                      // cuda: most logit rows in one step
  bool graphs = true;                       // cuda: CUDA graphs for decode steps
  unsigned fuse = 12;                       // cuda: decode-step fusions, CudaBackendOptions::fuse (SwiGLU, attention)
  int split_size = 512;                     // cuda: attention KV positions per split, CudaBackendOptions::split_size
  int split_min = 0;                        // cuda: the shortest split (0: fixed), CudaBackendOptions::split_min
  int64_t memory_budget_bytes = 0;          // cuda: 0 = none
  std::shared_ptr<SharedResources> shared;  // cuda: device state shared with other backends (may be null)
};

// Throws Error for an unknown name, a backend this build lacks ("built without CUDA") or a backend that cannot start
// (no GPU).
std::unique_ptr<Backend> make_backend(const BackendConfig& config);

// Whether this build has the CUDA backend, and whether a CUDA device is usable now (never throws).
bool have_cuda_backend();
bool cuda_device_present();

// The device architecture a backend's bits depend on, for fingerprints: "cpu x86_64" / "cuda NVIDIA H200, sm_90,
// cuBLASLt N".
std::string device_arch(const std::string& name);

// Shared device state for make_backend's "cuda" (BackendConfig::shared); Error without CUDA or without a device.
std::shared_ptr<SharedResources> make_shared_device_resources(const std::string& name);

}  // namespace verbatim::backend

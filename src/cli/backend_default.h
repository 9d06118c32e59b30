// The engine backend demo and bench use when --backend is not given: cuda when this build has the CUDA backend
// (VERBATIM_HAVE_CUDA, defined for targets that link verbatim_cuda) and the machine has an NVIDIA GPU; cpu
// otherwise. `verbatim serve` uses it too; an explicit --backend goes to the engine as
// is, which names what is missing when it cannot run it.
#pragma once

#include <string>

#include "backend/make_backend.h"

namespace verbatim::cli {

inline std::string default_engine_backend() {
  return backend::have_cuda_backend() && backend::cuda_device_present() ? "cuda" : "cpu";
}

}  // namespace verbatim::cli

// The engine backend demo and bench use when --backend is not given: cuda when this build has the CUDA backend
// (VERBATIM_HAVE_CUDA, defined for targets that link verbatim_cuda) and the machine has an NVIDIA GPU; cpu
// otherwise. The same rule as `verbatim serve` (src/cli/serve.cpp); an explicit --backend goes to the engine as
// is, which names what is missing when it cannot run it.
#pragma once

#include <filesystem>
#include <string>

namespace verbatim::cli {

inline std::string default_engine_backend() {
#ifdef VERBATIM_HAVE_CUDA
  std::error_code ec;
  const std::filesystem::path gpus = "/proc/driver/nvidia/gpus";
  if (std::filesystem::exists(gpus, ec) && !std::filesystem::is_empty(gpus, ec)) return "cuda";
#endif
  return "cpu";
}

}  // namespace verbatim::cli

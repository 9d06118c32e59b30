// Which engine backend demo and bench use when none is named: CUDA where the build has it and a GPU exists, else
// the CPU.
#pragma once

#include <string>

namespace verbatim::app {

// Whether EngineOptions.backend = name can work here.
bool backend_available(const std::string& name);
// "cuda" when backend_available("cuda"), else "cpu".
std::string default_backend();

}  // namespace verbatim::app

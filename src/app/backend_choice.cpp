#include "app/backend_choice.h"

namespace verbatim::app {

bool backend_available(const std::string& name) {
  if (name == "cpu") return true;
  // Hook for the CUDA backend: the engine does not yet say whether "cuda" is built in and a GPU is present, so
  // this reports false, and `--backend cuda` is passed through to the engine, which names what is missing. When the
  // engine gains that query, call it here.
  return false;
}

std::string default_backend() {
  return backend_available("cuda") ? "cuda" : "cpu";
}

}  // namespace verbatim::app

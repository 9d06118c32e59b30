#include "backend/make_backend.h"

#include "util/error.h"

#ifdef VERBATIM_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

namespace verbatim::backend {

std::unique_ptr<Backend> make_backend(const BackendConfig& c) {
  if (c.name == "cpu")
    return make_cpu_backend({.mode = c.mode, .threads = c.threads, .matmul = c.cpu_matmul, .kv = c.cpu_kv});
  if (c.name == "cuda") {
#ifdef VERBATIM_HAVE_CUDA
    CudaBackendOptions o;
    o.mode = c.mode;
    o.max_rows = c.max_rows;
    o.max_logits = c.max_logits;
    o.graphs = c.graphs;
    o.fuse = c.fuse;
    o.split_size = c.split_size;
    o.split_min = c.split_min;
    o.memory_budget_bytes = c.memory_budget_bytes;
    o.shared = c.shared;
    return make_cuda_backend(o);
#else
    fail("backend", "'cuda': this verbatim was built without CUDA (available: cpu)");
#endif
  }
  fail("backend", "unknown backend '" + c.name + "' (expected cpu or cuda)");
}

bool have_cuda_backend() {
#ifdef VERBATIM_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::string device_arch(const std::string& name) {
#ifdef VERBATIM_HAVE_CUDA
  if (name == "cuda") return "cuda " + cuda_device_arch();
#endif
#if defined(__x86_64__)
  if (name == "cpu") return "cpu x86_64";
#elif defined(__aarch64__)
  if (name == "cpu") return "cpu aarch64";
#endif
  return name;
}

bool cuda_device_present() {
#ifdef VERBATIM_HAVE_CUDA
  return cuda_device_available();
#else
  return false;
#endif
}

std::shared_ptr<SharedResources> make_shared_device_resources(const std::string& name) {
  if (name != "cuda") fail("backend", "'" + name + "' has no shared device resources");
#ifdef VERBATIM_HAVE_CUDA
  return make_cuda_shared_resources(0);
#else
  fail("backend", "'cuda': this verbatim was built without CUDA (available: cpu)");
#endif
}

}  // namespace verbatim::backend

#include "backend/cuda/cuda_resources.h"

#include <cublasLt.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "backend/cuda/cuda_backend.h"

namespace verbatim::cuda {

CudaResources::CudaResources(int device) : device_(device) {
  const int n = device_count_or_zero();
  if (n == 0) fail("cuda backend", "no CUDA device found");
  if (device < 0 || device >= n)
    fail("cuda backend", "device " + std::to_string(device) + " does not exist (" + std::to_string(n) + " found)");
  check_cuda(cudaSetDevice(device), "cudaSetDevice");
  stream_ = std::make_unique<Stream>();
  lt_ = std::make_unique<LtContext>();
}

CudaResources::~CudaResources() {
  gemms_.clear();
  lt_.reset();
  stream_.reset();
}

Gemm& CudaResources::gemm(int64_t n, int64_t k, GemmOut out, Mode mode, int64_t max_m, bool log) {
  std::vector<std::unique_ptr<Gemm>>& list = gemms_[std::make_tuple(n, k, out, mode)];
  for (const auto& g : list)
    if (mode == Mode::Fast || g->max_m() >= max_m) return *g;
  GemmTuneOptions o;
  o.max_m = std::max(max_m, kMinTunedM);
  o.log = log;
  o.own_kernel = own_gemm_kernel_;
  list.push_back(std::make_unique<Gemm>(*lt_, n, k, out, mode, o, stream()));
  Gemm& g = *list.back();
  if (log) std::fprintf(stderr, "cuda backend: GEMM %s tuned in %.2f s\n", g.shape_name().c_str(), g.tune_seconds());
  return g;
}

}  // namespace verbatim::cuda

namespace verbatim::backend {

std::shared_ptr<SharedResources> make_cuda_shared_resources(int device) {
  return std::make_shared<cuda::CudaResources>(device);
}

bool cuda_device_available() {
  return cuda::device_count_or_zero() > 0;
}

std::string cuda_device_arch() {
  cudaDeviceProp props{};
  if (cuda::device_count_or_zero() == 0 || cudaGetDeviceProperties(&props, 0) != cudaSuccess) {
    (void)cudaGetLastError();
    return "no CUDA device";
  }
  return std::string(props.name) + ", sm_" + std::to_string(props.major) + std::to_string(props.minor) + ", cuBLASLt " +
         std::to_string(cublasLtGetVersion());
}

}  // namespace verbatim::backend

#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda/tensor_map.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

// cuTensorMapEncodeTiled from the driver, looked up once through the runtime (the build links no libcuda: a machine
// without a GPU driver must still load the program).
PFN_cuTensorMapEncodeTiled_v12000 encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q);
    if (e != cudaSuccess || q != cudaDriverEntryPointSuccess || p == nullptr) {
      fail("cuda tensor map", "the driver has no cuTensorMapEncodeTiled");
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

CUtensorMap encode(const void* p, int rank, const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                   int64_t rows, int64_t cols, CUtensorMapSwizzle swizzle) {
  CUtensorMap map;
  const cuuint32_t elem[3] = {1, 1, 1};
  const CUresult r = encoder()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, static_cast<cuuint32_t>(rank),
                               const_cast<void*>(p), dims, strides, box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                               CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    fail("cuda tensor map", "cuTensorMapEncodeTiled failed (" + std::to_string(static_cast<int>(r)) + ") for " +
                                std::to_string(rows) + " x " + std::to_string(cols) + ", rank " + std::to_string(rank));
  }
  return map;
}

}  // namespace

CUtensorMap tensor_map(const void* p, int64_t rows, int64_t cols, int box_rows, int chunks, bool swizzle) {
  const CUtensorMapSwizzle sw = swizzle ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE;
  const auto r = static_cast<cuuint64_t>(rows), c = static_cast<cuuint64_t>(cols);
  if (chunks > 0) {
    const cuuint64_t dims[3] = {kTensorMapBoxK, r, c / kTensorMapBoxK};
    const cuuint64_t strides[2] = {c * 2, kTensorMapBoxK * 2};
    const cuuint32_t box[3] = {kTensorMapBoxK, static_cast<cuuint32_t>(box_rows), static_cast<cuuint32_t>(chunks)};
    return encode(p, 3, dims, strides, box, rows, cols, sw);
  }
  const cuuint64_t dims[2] = {c, r};
  const cuuint64_t strides[1] = {c * 2};
  const cuuint32_t box[2] = {kTensorMapBoxK, static_cast<cuuint32_t>(box_rows)};
  return encode(p, 2, dims, strides, box, rows, cols, sw);
}

}  // namespace verbatim::cuda_kernels

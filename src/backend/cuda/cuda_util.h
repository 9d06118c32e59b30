// Small CUDA helpers for the CUDA backend: checked calls that throw verbatim::Error naming the call, the source line
// and the CUDA/cuBLAS error, and move-only owners of device memory, streams and events.
//
// Destructors never throw: a failing cudaFree/cudaEventDestroy in a destructor is ignored (the context is already
// broken, and the next checked call reports it).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <source_location>
#include <string>
#include <utility>

#include "util/error.h"

namespace verbatim::cuda {

inline std::string where_of(const char* what, const std::source_location& loc) {
  return std::string(what) + " (" + loc.file_name() + ":" + std::to_string(loc.line()) + ")";
}

inline void check_cuda(cudaError_t e, const char* what, std::source_location loc = std::source_location::current()) {
  if (e != cudaSuccess) {
    fail("CUDA", where_of(what, loc) + " failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
  }
}

inline void check_cublas(cublasStatus_t s, const char* what,
                         std::source_location loc = std::source_location::current()) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    fail("cuBLASLt", where_of(what, loc) + " failed: " + cublasLtGetStatusName(s) + ": " + cublasLtGetStatusString(s));
  }
}

// After a kernel launch: launch-configuration errors show up here.
inline void check_launch(const char* what, std::source_location loc = std::source_location::current()) {
  check_cuda(cudaGetLastError(), what, loc);
}

// Device memory from plain cudaMalloc (256-byte aligned).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes > 0) {
      cudaError_t e = cudaMalloc(&ptr_, bytes);
      if (e != cudaSuccess) {
        ptr_ = nullptr;
        fail("CUDA", "cudaMalloc of " + std::to_string(bytes) + " bytes failed: " + cudaGetErrorName(e) + ": " +
                         cudaGetErrorString(e));
      }
    }
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void reset() {
    if (ptr_ != nullptr) (void)cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class Event {
 public:
  Event() { check_cuda(cudaEventCreate(&e_), "cudaEventCreate"); }
  ~Event() {
    if (e_ != nullptr) (void)cudaEventDestroy(e_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

  void record(cudaStream_t s) { check_cuda(cudaEventRecord(e_, s), "cudaEventRecord"); }
  // Milliseconds from `start` to this event (synchronizes on this event).
  float ms_since(const Event& start) const {
    check_cuda(cudaEventSynchronize(e_), "cudaEventSynchronize");
    float ms = 0;
    check_cuda(cudaEventElapsedTime(&ms, start.e_, e_), "cudaEventElapsedTime");
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

class Stream {
 public:
  Stream() { check_cuda(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"); }
  ~Stream() {
    if (s_ != nullptr) (void)cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void sync() const { check_cuda(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t s_ = nullptr;
};

// Number of CUDA devices, or 0 when there is no usable device (no driver, no GPU): never throws.
inline int device_count_or_zero() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return n;
}

}  // namespace verbatim::cuda

// The shared device state of CUDA backends (backend::SharedResources): one stream, one cuBLASLt context and the
// tuned GEMMs, keyed by (N, K, output type, mode). A GEMM tuned for a larger max M serves a smaller one (its table is
// verified over every M up to its own max); a request for a larger max M tunes a new one and keeps the old (backends
// hold pointers to theirs). Tuning happens at least for M up to kMinTunedM, so engines of different max_batch_tokens
// below that share one table (and its bits). Not thread-safe; everything runs on the one stream.
#pragma once

#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_util.h"
#include "backend/cuda/gemm.h"

namespace verbatim::cuda {

class CudaResources final : public backend::SharedResources {
 public:
  explicit CudaResources(int device);
  ~CudaResources() override;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_->get(); }
  LtContext& lt() { return *lt_; }
  int sm_count() const { return lt_->sm_count(); }

  static constexpr int64_t kMinTunedM = 512;

  // The GEMM for this shape, tuned (Mode::Invariant) on first use for at least max_m rows. Stable address.
  Gemm& gemm(int64_t n, int64_t k, GemmOut out, Mode mode, int64_t max_m, bool log);

  // Whether GEMMs tuned from now on may choose the own small-M kernel (GemmTuneOptions::own_kernel; default yes).
  // The bits are the same either way (both verified against one reference); benchmarks compare the speed.
  void set_own_gemm_kernel(bool on) { own_gemm_kernel_ = on; }

 private:
  int device_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<LtContext> lt_;
  std::map<std::tuple<int64_t, int64_t, GemmOut, Mode>, std::vector<std::unique_ptr<Gemm>>> gemms_;
  bool own_gemm_kernel_ = true;
};

}  // namespace verbatim::cuda

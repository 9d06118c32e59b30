// The CUDA backend's bf16 GEMM through cuBLASLt:  Y[M, N] = X[M, K] · W[N, K]^T
// (row-major bf16 X and W, fp32 accumulation, bf16 or fp32 Y). In cuBLASLt's column-major terms: D (N x M, ld N) =
// op(A) · B with A = W stored as K x N (ld K, TRANSA = T) and B = X stored as K x M (ld K, TRANSB = N).
//
// Mode::Invariant. Every output row gets a K-reduction order fixed by the weight shape alone, never by M:
//  - only algorithms with split-K forced to 1 (CUBLASLT_ALGO_CONFIG_SPLITK_NUM = 1, reduction scheme NONE) are used;
//  - the constructor autotunes an algorithm TABLE over M buckets (1, 2, 4, ..., max_m): bucket (lo, hi] is served by
//    the algorithm tuned at M = hi. Candidates come from cublasLtMatmulAlgoGetHeuristic at M = hi, hi / 2 and 2 hi
//    (many results each, split-K overridden to 1, checked with cublasLtMatmulAlgoCheck at hi, deduplicated) plus the
//    previous bucket's choice;
//  - bits are VERIFIED, not assumed: the reference algorithm is the fastest member of the largest group of M = 1
//    candidates that give the same bits (and the same bits twice); it computes reference rows. Every candidate of
//    every bucket is run at M = lo, (lo + hi) / 2 and hi on order-revealing data (kernels/cuda/testdata.h), and its
//    output rows at the first, last, middle and tile-edge positions must equal, bit for bit, the same X rows computed
//    alone at M = 1. Candidates that differ are rejected; the fastest survivor (timed with events over rotating weight
//    copies, so L2 does not flatter) wins. For short GEMMs (small M) the variants of the fastest few (cluster
//    shape, custom option, CTA swizzle) are timed too, and the fastest few of them verified;
//  - buckets with M <= 32 also try the project's own small-M kernel (kernels/cuda/gemm_small_m.cuh: each output a
//    chain of k16 mma steps in increasing k, the order cuBLASLt's split-K-free kernels were found to use). It is
//    verified against the reference rows exactly like a cuBLASLt candidate and chosen where it is faster, or (M <= 8)
//    where its isolated time is within own_kernel_slack of cuBLASLt's: in a decode step it starts streaming its weights
//    while the kernel ahead finishes (programmatic dependent launch, kernels/cuda/pdl.cuh), which cuBLASLt's kernels do
//    not and which an isolated timing cannot see;
//  - where no candidate survives, the constructor throws Error naming the shape and M. Nothing falls back.
//  - run() with M > max_m throws: bits are promised only where they were verified.
// Mode::Fast: cuBLASLt's default heuristic per exact M (its first result, split-K allowed), cached per M: the usual,
// batch-dependent behaviour, kept to show the cost of invariance and the divergence it prevents.
//
// Pointers passed to run() must be 256-byte aligned (cudaMalloc's guarantee; cuBLASLt's default assumption when it
// picks algorithms). One Gemm and its LtContext serve one stream at a time: the workspace is shared, and the fast
// mode's per-M cache is filled from run(). Not thread-safe.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_util.h"

namespace verbatim::cuda {

enum class GemmOut : uint8_t { BF16, F32 };
const char* gemm_out_name(GemmOut out);
inline size_t gemm_out_size(GemmOut out) {
  return out == GemmOut::F32 ? 4 : 2;
}

// One cuBLASLt handle and its workspace (plain cudaMalloc), for the GEMMs of one stream on the current device.
class LtContext {
 public:
  explicit LtContext(size_t workspace_bytes = size_t{64} << 20);
  ~LtContext();
  LtContext(const LtContext&) = delete;
  LtContext& operator=(const LtContext&) = delete;

  cublasLtHandle_t handle() const { return handle_; }
  void* workspace() const { return workspace_.get(); }
  size_t workspace_bytes() const { return workspace_.bytes(); }
  int device() const { return device_; }
  int sm_count() const { return sm_count_; }
  int64_t l2_bytes() const { return l2_bytes_; }
  const std::string& device_name() const { return device_name_; }

 private:
  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  int device_ = 0;
  int sm_count_ = 0;
  int64_t l2_bytes_ = 0;
  std::string device_name_;
};

struct GemmTuneOptions {
  int64_t max_m = 4096;        // the largest M run() accepts; the last bucket is tuned and verified at this M
  int heuristic_results = 32;  // results asked of cublasLtMatmulAlgoGetHeuristic per query
  int max_candidates = 32;     // candidates per bucket after deduplication
  int timing_finalists = 4;    // candidates re-timed more carefully after a first quick pass
  int timing_groups = 7;       // timed groups per finalist (median); a group runs once on every weight copy
  float variant_max_us = 150;  // try variants (cluster shape, custom option, swizzle) of a bucket's fastest
                               // candidates where the fastest runs in at most this many microseconds
  int variant_bases = 4;       // ... of this many of them (the finalists' order; all of them by default). Two
                               // were not enough: in one process of six the tile with the fastest variant was not
                               // among them (H100, 4096x4096 M = 257..512: 33.7 against 26.5 us, 0.91x cuBLAS)
  int max_variants = 64;       // variants per base candidate
  uint64_t seed = 0x5eed;      // tuning data (its values do not matter for the bits: only the reduction order does)
  bool log = false;            // print the table to stderr after tuning
  bool own_kernel = true;      // offer the own small-M kernel (kernels/cuda/gemm_small_m.cuh) for buckets M <= 32
  // ... and, for buckets up to M = 8, take it where its isolated time is at most (1 + slack) x cuBLASLt's (larger
  // buckets: where it is faster). 0.10: in a decode-like graph of
  // the qwen3-8b GEMMs it ran the whole sequence at 85.8-89.6% of the weight-read bound against 84.0-84.1% without
  // the early start (two machines), while timed alone it was 0.9-1.1x cuBLASLt (docs/performance.md, 2026-12-02).
  float own_kernel_slack = 0.10f;
  // Test hook: return false to reject a candidate as if its bits had differed (to exercise the refusal path).
  std::function<bool(int64_t m_hi, const cublasLtMatmulAlgo_t& algo)> candidate_filter;
};

// The algorithm chosen for one M bucket (Mode::Invariant).
struct GemmBucket {
  int64_t m_lo = 0;  // M in [m_lo, m_hi] runs this algorithm
  int64_t m_hi = 0;
  cublasLtMatmulAlgo_t algo{};
  std::string algo_desc;       // "id=.. tile=.. stages=.. splitk=1 swizzle=.. custom=.. cluster=.. inner=.."
  float time_us = 0;           // median time at M = m_hi during tuning
  int candidates = 0;          // distinct split-K-free candidates that cuBLASLt accepted
  int variants = 0;            // variants of the fastest candidates tried (variant_bases; small M)
  int rejected_bits = 0;       // ... whose rows differed from the reference rows (or from themselves when re-run)
  int rejected_run = 0;        // ... that failed to run at some M of the bucket
  bool own_kernel = false;     // the bucket runs the own small-M kernel instead of `algo` (verified, and faster)
  int64_t probes_checked = 0;  // rows compared bit for bit for the chosen algorithm
  std::vector<std::string> rejected_desc;  // describe_algo() of each candidate rejected for its bits
};

class Gemm {
 public:
  // Invariant: tunes and verifies (seconds for large shapes; needs scratch memory of about one weight copy per
  // 2 x L2 bytes, X and Y at max_m rows, freed before returning). Fast: no tuning. `stream` is used for tuning only.
  Gemm(LtContext& ctx, int64_t n, int64_t k, GemmOut out, Mode mode, const GemmTuneOptions& options = {},
       cudaStream_t stream = nullptr);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // y[m, n] = x[m, k] · w[n, k]^T, enqueued on `stream`. x, w bf16; y bf16 or fp32 (out()). 1 <= m <= max_m in
  // Mode::Invariant. Throws Error on misaligned pointers, bad m or any cuBLASLt failure.
  void run(const void* x, const void* w, void* y, int64_t m, cudaStream_t stream);

  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  GemmOut out() const { return out_; }
  Mode mode() const { return mode_; }
  int64_t max_m() const { return max_m_; }
  const std::vector<GemmBucket>& table() const { return table_; }
  // The algorithm run() uses at this M (Fast: asks the heuristic and caches, as run() would).
  const cublasLtMatmulAlgo_t& algo_for(int64_t m);
  // Mode::Invariant: the table's bucket serving M (throws on M < 1 or M > max_m).
  const GemmBucket& bucket_for(int64_t m) const;
  // Whether run() at this M runs the own small-M kernel (Mode::Invariant, a bucket that chose it): the caller may then
  // run one of that kernel's fused variants (kernels/cuda/gemm_small_m.cuh) instead, which give the same bits.
  bool own_kernel_at(int64_t m) const {
    return mode_ == Mode::Invariant && m >= 1 && m <= max_m_ && bucket_for(m).own_kernel;
  }
  // "N=4096 K=4096 out=bf16"
  std::string shape_name() const;
  // One line per bucket: M range, algorithm, time, candidates and rejections.
  std::string table_report() const;
  // Tuning wall time in seconds (0 in Fast mode).
  double tune_seconds() const { return tune_seconds_; }

 private:
  struct Layouts;
  void create_descriptors();
  void destroy_descriptors() noexcept;
  // cuBLASLt status of one matmul with `algo` at M = m (the call is checked by the caller as it needs).
  cublasStatus_t matmul(const cublasLtMatmulAlgo_t& algo, const void* x, const void* w, void* y, int64_t m,
                        cudaStream_t stream);
  std::vector<cublasLtMatmulHeuristicResult_t> heuristic(int64_t m, int count, uint32_t reduction_mask,
                                                         bool allow_unsupported);
  void tune(const GemmTuneOptions& options, cudaStream_t stream);
  // Whether the own small-M kernel serves this shape, and one call of it.
  bool own_kernel_supported() const;
  void own_matmul(const void* x, const void* w, void* y, int64_t m, cudaStream_t stream) const;

  LtContext& ctx_;
  int64_t n_;
  int64_t k_;
  GemmOut out_;
  Mode mode_;
  int64_t max_m_;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t w_layout_ = nullptr;
  std::vector<GemmBucket> table_;
  std::map<int64_t, cublasLtMatmulAlgo_t> fast_algos_;
  double tune_seconds_ = 0;
};

// A readable description of an algorithm's configuration (ids as cuBLASLt numbers them).
std::string describe_algo(const cublasLtMatmulAlgo_t& algo);

}  // namespace verbatim::cuda

#include "backend/cuda/gemm.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>

#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/testdata.h"

namespace verbatim::cuda {
namespace {

constexpr size_t kAlignment = 256;  // cudaMalloc's alignment; cuBLASLt's default assumption when choosing algorithms
constexpr uint16_t kPoison = 0xFFFF;

bool aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kAlignment == 0;
}

size_t round_up(size_t v, size_t to) {
  return (v + to - 1) / to * to;
}

// The two M-dependent layouts of one call: X as K x m (ld K) and Y as N x m (ld N), column-major.
class MLayouts {
 public:
  MLayouts(int64_t n, int64_t k, int64_t m, cudaDataType_t out_type) {
    check_cublas(cublasLtMatrixLayoutCreate(&x_, CUDA_R_16BF, static_cast<uint64_t>(k), static_cast<uint64_t>(m), k),
                 "cublasLtMatrixLayoutCreate(X)");
    cublasStatus_t s = cublasLtMatrixLayoutCreate(&y_, out_type, static_cast<uint64_t>(n), static_cast<uint64_t>(m), n);
    if (s != CUBLAS_STATUS_SUCCESS) {
      (void)cublasLtMatrixLayoutDestroy(x_);
      check_cublas(s, "cublasLtMatrixLayoutCreate(Y)");
    }
  }
  ~MLayouts() {
    (void)cublasLtMatrixLayoutDestroy(x_);
    (void)cublasLtMatrixLayoutDestroy(y_);
  }
  MLayouts(const MLayouts&) = delete;
  MLayouts& operator=(const MLayouts&) = delete;
  cublasLtMatrixLayout_t x() const { return x_; }
  cublasLtMatrixLayout_t y() const { return y_; }

 private:
  cublasLtMatrixLayout_t x_ = nullptr;
  cublasLtMatrixLayout_t y_ = nullptr;
};

class Preference {
 public:
  Preference() { check_cublas(cublasLtMatmulPreferenceCreate(&p_), "cublasLtMatmulPreferenceCreate"); }
  ~Preference() { (void)cublasLtMatmulPreferenceDestroy(p_); }
  Preference(const Preference&) = delete;
  Preference& operator=(const Preference&) = delete;
  template <typename T>
  void set(cublasLtMatmulPreferenceAttributes_t attr, T value) {
    check_cublas(cublasLtMatmulPreferenceSetAttribute(p_, attr, &value, sizeof(value)),
                 "cublasLtMatmulPreferenceSetAttribute");
  }
  cublasLtMatmulPreference_t get() const { return p_; }

 private:
  cublasLtMatmulPreference_t p_ = nullptr;
};

cudaDataType_t cuda_type(GemmOut out) {
  return out == GemmOut::F32 ? CUDA_R_32F : CUDA_R_16BF;
}

// M buckets: 1, 2, 4, ... below max_m, then max_m.
std::vector<int64_t> bucket_tops(int64_t max_m) {
  std::vector<int64_t> tops;
  for (int64_t b = 1; b < max_m; b *= 2) tops.push_back(b);
  tops.push_back(max_m);
  return tops;
}

// The M values at which a bucket's candidates are verified: both ends of its range and the middle.
std::vector<int64_t> verify_ms(int64_t lo, int64_t hi) {
  std::set<int64_t> ms = {lo, (lo + hi) / 2, hi};
  return {ms.begin(), ms.end()};
}

// The rows compared at one M: first, last, middle, a third, and the usual tile edges.
std::vector<int64_t> probe_rows(int64_t m) {
  std::set<int64_t> rows;
  for (int64_t r : {int64_t{0}, int64_t{1}, m / 3, m / 2, m - 2, m - 1, int64_t{63}, int64_t{64}, int64_t{127},
                    int64_t{128}, int64_t{255}, int64_t{256}}) {
    if (r >= 0 && r < m) rows.insert(r);
  }
  return {rows.begin(), rows.end()};
}

template <typename T>
bool get_config(const cublasLtMatmulAlgo_t& algo, cublasLtMatmulAlgoConfigAttributes_t attr, T* value) {
  size_t written = 0;
  return cublasLtMatmulAlgoConfigGetAttribute(&algo, attr, value, sizeof(T), &written) == CUBLAS_STATUS_SUCCESS;
}

float median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0f : v[v.size() / 2];
}

}  // namespace

const char* gemm_out_name(GemmOut out) {
  return out == GemmOut::F32 ? "f32" : "bf16";
}

std::string describe_algo(const cublasLtMatmulAlgo_t& algo) {
  int32_t id = -1, splitk = -1;
  uint32_t tile = 0, stages = 0, reduction = 0, swizzle = 0, custom = 0;
  uint16_t cluster = 0, inner = 0;
  std::ostringstream s;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_ID, &id)) s << "id=" << id;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile)) s << " tile=" << tile;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages)) s << " stages=" << stages;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk)) s << " splitk=" << splitk;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &reduction)) s << " red=" << reduction;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &swizzle)) s << " swz=" << swizzle;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, &custom)) s << " custom=" << custom;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cluster)) s << " cluster=" << cluster;
  if (get_config(algo, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID, &inner)) s << " inner=" << inner;
  return s.str();
}

LtContext::LtContext(size_t workspace_bytes) {
  check_cuda(cudaGetDevice(&device_), "cudaGetDevice");
  cudaDeviceProp props{};
  check_cuda(cudaGetDeviceProperties(&props, device_), "cudaGetDeviceProperties");
  sm_count_ = props.multiProcessorCount;
  l2_bytes_ = props.l2CacheSize;
  device_name_ = props.name;
  workspace_ = DeviceBuffer(workspace_bytes);
  check_cublas(cublasLtCreate(&handle_), "cublasLtCreate");
}

LtContext::~LtContext() {
  if (handle_ != nullptr) (void)cublasLtDestroy(handle_);
}

Gemm::Gemm(LtContext& ctx, int64_t n, int64_t k, GemmOut out, Mode mode, const GemmTuneOptions& options,
           cudaStream_t stream)
    : ctx_(ctx), n_(n), k_(k), out_(out), mode_(mode), max_m_(options.max_m) {
  if (n <= 0 || k <= 0) fail("cuda gemm", "bad shape N=" + std::to_string(n) + " K=" + std::to_string(k));
  if (max_m_ < 1) fail("cuda gemm " + shape_name(), "max_m must be >= 1, got " + std::to_string(max_m_));
  create_descriptors();
  if (mode_ == Mode::Invariant) {
    try {
      if (own_kernel_supported()) cuda_kernels::gemm_small_m_prepare();
      tune(options, stream);
    } catch (...) {
      destroy_descriptors();
      throw;
    }
  }
}

Gemm::~Gemm() {
  destroy_descriptors();
}

void Gemm::create_descriptors() {
  try {
    check_cublas(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    check_cublas(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof(transa)),
                 "cublasLtMatmulDescSetAttribute(TRANSA)");
    check_cublas(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof(transb)),
                 "cublasLtMatmulDescSetAttribute(TRANSB)");
    check_cublas(
        cublasLtMatrixLayoutCreate(&w_layout_, CUDA_R_16BF, static_cast<uint64_t>(k_), static_cast<uint64_t>(n_), k_),
        "cublasLtMatrixLayoutCreate(W)");
  } catch (...) {
    destroy_descriptors();
    throw;
  }
}

void Gemm::destroy_descriptors() noexcept {
  if (w_layout_ != nullptr) (void)cublasLtMatrixLayoutDestroy(w_layout_);
  if (op_ != nullptr) (void)cublasLtMatmulDescDestroy(op_);
  w_layout_ = nullptr;
  op_ = nullptr;
}

std::string Gemm::shape_name() const {
  return "N=" + std::to_string(n_) + " K=" + std::to_string(k_) + " out=" + gemm_out_name(out_);
}

cublasStatus_t Gemm::matmul(const cublasLtMatmulAlgo_t& algo, const void* x, const void* w, void* y, int64_t m,
                            cudaStream_t stream) {
  MLayouts l(n_, k_, m, cuda_type(out_));
  const float alpha = 1.0f, beta = 0.0f;
  return cublasLtMatmul(ctx_.handle(), op_, &alpha, w, w_layout_, x, l.x(), &beta, y, l.y(), y, l.y(), &algo,
                        ctx_.workspace(), ctx_.workspace_bytes(), stream);
}

std::vector<cublasLtMatmulHeuristicResult_t> Gemm::heuristic(int64_t m, int count, uint32_t reduction_mask,
                                                             bool allow_unsupported) {
  Preference pref;
  pref.set<uint64_t>(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, ctx_.workspace_bytes());
  if (reduction_mask != CUBLASLT_REDUCTION_SCHEME_MASK) {
    pref.set<uint32_t>(CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, reduction_mask);
  }
  MLayouts l(n_, k_, m, cuda_type(out_));
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<size_t>(count));
  int returned = 0;
  cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(ctx_.handle(), op_, w_layout_, l.x(), l.y(), l.y(), pref.get(),
                                                    count, results.data(), &returned);
  if (s != CUBLAS_STATUS_SUCCESS && allow_unsupported &&
      (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_INVALID_VALUE)) {
    return {};
  }
  check_cublas(s, ("cublasLtMatmulAlgoGetHeuristic for " + shape_name() + " M=" + std::to_string(m)).c_str());
  results.resize(static_cast<size_t>(std::max(returned, 0)));
  std::erase_if(results, [](const cublasLtMatmulHeuristicResult_t& r) { return r.state != CUBLAS_STATUS_SUCCESS; });
  return results;
}

const GemmBucket& Gemm::bucket_for(int64_t m) const {
  if (m < 1) fail("cuda gemm " + shape_name(), "M must be >= 1, got " + std::to_string(m));
  if (m > max_m_) {
    fail("cuda gemm " + shape_name(), "M=" + std::to_string(m) + " exceeds max_m=" + std::to_string(max_m_) +
                                          ", the largest M whose bits were verified at start-up");
  }
  for (const GemmBucket& b : table_) {
    if (m <= b.m_hi) return b;
  }
  fail("cuda gemm " + shape_name(), "no table entry for M=" + std::to_string(m));
}

const cublasLtMatmulAlgo_t& Gemm::algo_for(int64_t m) {
  if (m < 1) fail("cuda gemm " + shape_name(), "M must be >= 1, got " + std::to_string(m));
  if (mode_ == Mode::Invariant) return bucket_for(m).algo;
  auto it = fast_algos_.find(m);
  if (it == fast_algos_.end()) {
    std::vector<cublasLtMatmulHeuristicResult_t> r = heuristic(m, 1, CUBLASLT_REDUCTION_SCHEME_MASK, false);
    if (r.empty())
      fail("cuda gemm " + shape_name(), "cuBLASLt's heuristic has no algorithm for M=" + std::to_string(m));
    it = fast_algos_.emplace(m, r[0].algo).first;
  }
  return it->second;
}

void Gemm::run(const void* x, const void* w, void* y, int64_t m, cudaStream_t stream) {
  if (!aligned(x) || !aligned(w) || !aligned(y)) {
    fail("cuda gemm " + shape_name(), "x, w and y must be 256-byte aligned (as from cudaMalloc)");
  }
  if (mode_ == Mode::Invariant) {
    const GemmBucket& b = bucket_for(m);
    if (b.own_kernel) {
      own_matmul(x, w, y, m, stream);
      check_cuda(cudaGetLastError(), ("gemm_small_m for " + shape_name() + " M=" + std::to_string(m)).c_str());
      return;
    }
    check_cublas(matmul(b.algo, x, w, y, m, stream),
                 ("cublasLtMatmul for " + shape_name() + " M=" + std::to_string(m)).c_str());
    return;
  }
  const cublasLtMatmulAlgo_t& algo = algo_for(m);
  check_cublas(matmul(algo, x, w, y, m, stream),
               ("cublasLtMatmul for " + shape_name() + " M=" + std::to_string(m)).c_str());
}

bool Gemm::own_kernel_supported() const {
  // 256-byte aligned pointers (run()'s requirement) satisfy the kernel's 16-byte alignment.
  return cuda_kernels::gemm_small_m_supported({.x = reinterpret_cast<const void*>(uintptr_t{256}),
                                               .w = reinterpret_cast<const void*>(uintptr_t{256}),
                                               .y = reinterpret_cast<void*>(uintptr_t{256}),
                                               .m = 1,
                                               .n = n_,
                                               .k = k_});
}

void Gemm::own_matmul(const void* x, const void* w, void* y, int64_t m, cudaStream_t stream) const {
  cuda_kernels::gemm_small_m({.x = x, .w = w, .y = y, .m = m, .n = n_, .k = k_, .out_f32 = out_ == GemmOut::F32},
                             stream);
}

std::string Gemm::table_report() const {
  std::ostringstream s;
  s << "gemm " << shape_name() << " (" << (mode_ == Mode::Invariant ? "invariant" : "fast") << ", tuned in "
    << tune_seconds_ << " s)\n";
  for (const GemmBucket& b : table_) {
    char line[320];
    std::snprintf(line, sizeof(line),
                  "  M %5lld..%-5lld %9.2f us  cand %2d+%-2d rej_bits %d  rej_run %d  probes %lld  %s\n",
                  static_cast<long long>(b.m_lo), static_cast<long long>(b.m_hi), b.time_us, b.candidates, b.variants,
                  b.rejected_bits, b.rejected_run, static_cast<long long>(b.probes_checked),
                  b.own_kernel ? "own small-M kernel (gemm_small_m)" : b.algo_desc.c_str());
    s << line;
    for (const std::string& r : b.rejected_desc) s << "      rejected for its bits: " << r << "\n";
  }
  return s.str();
}

// ---- tuning -------------------------------------------------------------------------------------------------------

void Gemm::tune(const GemmTuneOptions& o, cudaStream_t stream) {
  const auto t_start = std::chrono::steady_clock::now();
  const std::string where = "cuda gemm " + shape_name();
  const size_t os = gemm_out_size(out_);
  const size_t w_bytes = static_cast<size_t>(n_) * k_ * 2;
  const size_t x_row_bytes = static_cast<size_t>(k_) * 2;
  const size_t y_row_bytes = static_cast<size_t>(n_) * os;
  const int64_t y_row_words = static_cast<int64_t>(y_row_bytes / 2);

  // Scratch: for the bit checks one weight and X at max_m rows in the patterns that expose a changed k order
  // (Positive W, HalfSigned X: kernels/cuda/testdata.h); for timing, U(-1, 1) weight copies (enough to overflow L2
  // twice) and X copies (as many, up to 4), rotated run by run, as bench_gemm_cuda times them: the data's values move
  // the clocks, and one hot X flattered some tile shapes at mid M (a 0.93x point of the benchmark once the table was
  // built); Y at max_m rows, a one-row X, a comparison counter.
  const int n_w = static_cast<int>(std::clamp<int64_t>(
      (2 * ctx_.l2_bytes() + static_cast<int64_t>(w_bytes) - 1) / static_cast<int64_t>(w_bytes), 1, 8));
  const size_t x_bytes = static_cast<size_t>(max_m_) * x_row_bytes;
  const int n_x = static_cast<int>(std::clamp<int64_t>(
      (2 * ctx_.l2_bytes() + static_cast<int64_t>(x_bytes) - 1) / static_cast<int64_t>(x_bytes), 1, 4));
  DeviceBuffer w_check(w_bytes);
  fill_bf16(w_check.get(), n_, k_, k_, o.seed + 1000, FillPattern::Positive, stream);
  std::vector<DeviceBuffer> w_copies, x_copies;
  for (int i = 0; i < n_w; ++i) {
    w_copies.emplace_back(w_bytes);
    fill_bf16(w_copies.back().get(), n_, k_, k_, o.seed + 2000 + i, FillPattern::Uniform, stream);
  }
  for (int i = 0; i < n_x; ++i) {
    x_copies.emplace_back(x_bytes);
    fill_bf16(x_copies.back().get(), max_m_, k_, k_, o.seed + 3000 + i, FillPattern::Uniform, stream);
  }
  DeviceBuffer x(x_bytes);
  fill_bf16(x.get(), max_m_, k_, k_, o.seed, FillPattern::HalfSigned, stream);
  DeviceBuffer y(static_cast<size_t>(max_m_) * y_row_bytes);
  DeviceBuffer y_row(y_row_bytes);  // a second, aligned one-row output (bucket 1's run-to-run check)
  DeviceBuffer x_row(x_row_bytes);
  DeviceBuffer counter(sizeof(unsigned long long));
  const void* w0 = w_check.get();
  auto x_at = [&](int64_t row) { return static_cast<const char*>(x.get()) + row * x_row_bytes; };
  auto y_at = [&](int64_t row) { return static_cast<char*>(y.get()) + row * y_row_bytes; };

  auto read_counter = [&]() {
    unsigned long long c = 0;
    check_cuda(cudaMemcpyAsync(&c, counter.get(), sizeof(c), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
    check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    return c;
  };
  // After a cuBLASLt call that failed: clear a launch error it may have left (not sticky; later launch checks would
  // report it as theirs), then make sure the context itself is sound (a sticky error throws here).
  auto settle_failed_call = [&]() {
    (void)cudaGetLastError();
    check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize (after a candidate failed to run)");
  };
  auto zero_counter = [&]() {
    check_cuda(cudaMemsetAsync(counter.get(), 0, sizeof(unsigned long long), stream), "cudaMemsetAsync");
  };
  // Milliseconds per GEMM, over one group: one run on each weight copy (at least two runs).
  Event ev0, ev1;
  auto time_group = [&](const cublasLtMatmulAlgo_t& algo, int64_t m) {
    const int runs = std::max({n_w, n_x, 2});
    ev0.record(stream);
    for (int i = 0; i < runs; ++i) {
      check_cublas(matmul(algo, x_copies[i % n_x].get(), w_copies[i % n_w].get(), y.get(), m, stream),
                   ("cublasLtMatmul (timing) for " + shape_name() + " M=" + std::to_string(m)).c_str());
    }
    ev1.record(stream);
    return ev1.ms_since(ev0) / runs;
  };
  // Quick pass over all, then interleaved groups over the finalists; returns the finalists' (median ms, index),
  // fastest first.
  auto ranked = [&](const std::vector<cublasLtMatmulAlgo_t>& algos, int64_t m) {
    std::vector<std::pair<float, size_t>> quick;
    for (size_t i = 0; i < algos.size(); ++i) quick.emplace_back(time_group(algos[i], m), i);
    std::sort(quick.begin(), quick.end());
    quick.resize(std::min<size_t>(quick.size(), static_cast<size_t>(std::max(o.timing_finalists, 1))));
    std::vector<std::vector<float>> times(quick.size());
    for (int g = 0; g < std::max(o.timing_groups, 1); ++g) {
      for (size_t f = 0; f < quick.size(); ++f) times[f].push_back(time_group(algos[quick[f].second], m));
    }
    std::vector<std::pair<float, size_t>> order;
    for (size_t f = 0; f < quick.size(); ++f) order.emplace_back(median(times[f]), quick[f].second);
    std::stable_sort(order.begin(), order.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    return order;
  };
  // (index, median ms) of the fastest.
  auto fastest = [&](const std::vector<cublasLtMatmulAlgo_t>& algos, int64_t m) {
    const auto order = ranked(algos, m);
    return std::pair<size_t, float>(order.front().second, order.front().first);
  };
  // Split-K-free candidates at M = m, in this order: `extra` (the previous bucket's choice); the heuristic's results
  // at m restricted to reduction scheme NONE, then unrestricted; the same at m / 2 and 2m (other tile shapes). Each
  // gets split-K overridden to 1, is checked by cuBLASLt at m, and duplicates are dropped.
  auto candidates = [&](int64_t m, const cublasLtMatmulAlgo_t* extra) {
    std::vector<cublasLtMatmulAlgo_t> algos;
    if (extra != nullptr) algos.push_back(*extra);
    std::vector<int64_t> query_ms = {m};
    if (m > 1) query_ms.push_back(m / 2);
    query_ms.push_back(2 * m);
    for (int64_t qm : query_ms) {
      for (uint32_t mask : {uint32_t{CUBLASLT_REDUCTION_SCHEME_NONE}, uint32_t{CUBLASLT_REDUCTION_SCHEME_MASK}}) {
        for (const auto& r : heuristic(qm, o.heuristic_results, mask, true)) algos.push_back(r.algo);
      }
    }
    MLayouts l(n_, k_, m, cuda_type(out_));
    std::vector<cublasLtMatmulAlgo_t> out;
    for (cublasLtMatmulAlgo_t a : algos) {
      const int32_t splitk = 1;
      const uint32_t reduction = CUBLASLT_REDUCTION_SCHEME_NONE;
      if (cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof(splitk)) !=
              CUBLAS_STATUS_SUCCESS ||
          cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &reduction,
                                               sizeof(reduction)) != CUBLAS_STATUS_SUCCESS) {
        continue;  // an algorithm whose split-K cannot be pinned is not a candidate
      }
      cublasLtMatmulHeuristicResult_t check{};
      if (cublasLtMatmulAlgoCheck(ctx_.handle(), op_, w_layout_, l.x(), l.y(), l.y(), &a, &check) !=
              CUBLAS_STATUS_SUCCESS ||
          check.workspaceSize > ctx_.workspace_bytes()) {
        continue;
      }
      const bool dup = std::any_of(out.begin(), out.end(), [&](const cublasLtMatmulAlgo_t& b) {
        return std::memcmp(a.data, b.data, sizeof(a.data)) == 0;
      });
      if (!dup) out.push_back(a);
      if (static_cast<int>(out.size()) >= o.max_candidates) break;
    }
    return out;
  };

  // Variants of a candidate (one of a bucket's fastest): every cluster shape, custom option and CTA swizzle that
  // cuBLASLt accepts at M = m, not already in `seen`.
  auto variants_of = [&](const cublasLtMatmulAlgo_t& best, int64_t m, std::vector<cublasLtMatmulAlgo_t>& seen) {
    int32_t custom_max = 0;
    uint32_t swizzle_support = 0;
    size_t written = 0;
    if (cublasLtMatmulAlgoCapGetAttribute(&best, CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX, &custom_max, sizeof(custom_max),
                                          &written) != CUBLAS_STATUS_SUCCESS) {
      custom_max = 0;
    }
    if (cublasLtMatmulAlgoCapGetAttribute(&best, CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT, &swizzle_support,
                                          sizeof(swizzle_support), &written) != CUBLAS_STATUS_SUCCESS) {
      swizzle_support = 0;
    }
    MLayouts l(n_, k_, m, cuda_type(out_));
    std::vector<cublasLtMatmulAlgo_t> out;
    const uint16_t clusters[] = {CUBLASLT_CLUSTER_SHAPE_AUTO,  CUBLASLT_CLUSTER_SHAPE_1x1x1,
                                 CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_4x1x1,
                                 CUBLASLT_CLUSTER_SHAPE_1x2x1, CUBLASLT_CLUSTER_SHAPE_2x2x1,
                                 CUBLASLT_CLUSTER_SHAPE_1x4x1};
    for (uint16_t cluster : clusters) {
      for (int32_t custom = 0; custom <= std::min(custom_max, 15); ++custom) {
        for (uint32_t swizzle = 0; swizzle <= (swizzle_support != 0 ? 1u : 0u); ++swizzle) {
          cublasLtMatmulAlgo_t v = best;
          const uint32_t custom_u = static_cast<uint32_t>(custom);
          if (cublasLtMatmulAlgoConfigSetAttribute(&v, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cluster,
                                                   sizeof(cluster)) != CUBLAS_STATUS_SUCCESS ||
              cublasLtMatmulAlgoConfigSetAttribute(&v, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, &custom_u,
                                                   sizeof(custom_u)) != CUBLAS_STATUS_SUCCESS ||
              cublasLtMatmulAlgoConfigSetAttribute(&v, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &swizzle, sizeof(swizzle)) !=
                  CUBLAS_STATUS_SUCCESS) {
            continue;
          }
          const bool dup = std::any_of(seen.begin(), seen.end(), [&](const cublasLtMatmulAlgo_t& b) {
            return std::memcmp(v.data, b.data, sizeof(v.data)) == 0;
          });
          if (dup) continue;
          cublasLtMatmulHeuristicResult_t check{};
          if (cublasLtMatmulAlgoCheck(ctx_.handle(), op_, w_layout_, l.x(), l.y(), l.y(), &v, &check) !=
                  CUBLAS_STATUS_SUCCESS ||
              check.workspaceSize > ctx_.workspace_bytes()) {
            continue;
          }
          seen.push_back(v);
          out.push_back(v);
          if (static_cast<int>(out.size()) >= o.max_variants) return out;
        }
      }
    }
    return out;
  };

  const std::vector<int64_t> tops = bucket_tops(max_m_);
  table_.clear();

  // 1. The reference algorithm. Candidates at M = 1 must give the same row twice; they are then grouped by the bits
  // they give, and the fastest member of the largest group computes the reference rows. (A lone algorithm with an
  // order of its own must not become the reference: every other bucket would then have to refuse.)
  std::vector<cublasLtMatmulAlgo_t> ref_class;
  std::vector<std::string> ref_rejected;
  int ref_candidates = 0, ref_rejected_run = 0;
  {
    const std::vector<cublasLtMatmulAlgo_t> cands = candidates(1, nullptr);
    ref_candidates = static_cast<int>(cands.size());
    const size_t rep_ld = round_up(y_row_bytes, kAlignment);
    DeviceBuffer reps(std::max<size_t>(cands.size(), 1) * rep_ld);
    std::vector<cublasLtMatmulAlgo_t> det;
    std::vector<int> cls;
    std::vector<int> cls_size;
    for (const cublasLtMatmulAlgo_t& a : cands) {
      fill_u16(y.get(), y_row_words, kPoison, stream);
      fill_u16(y_row.get(), y_row_words, kPoison, stream);
      if (matmul(a, x.get(), w0, y.get(), 1, stream) != CUBLAS_STATUS_SUCCESS ||
          matmul(a, x.get(), w0, y_row.get(), 1, stream) != CUBLAS_STATUS_SUCCESS) {
        settle_failed_call();
        ++ref_rejected_run;
        continue;
      }
      zero_counter();
      count_diff_u16(y.get(), y_row_words, y_row.get(), y_row_words, 1, y_row_words, counter.as<unsigned long long>(),
                     stream);
      if (read_counter() != 0 || (o.candidate_filter && !o.candidate_filter(1, a))) {
        ref_rejected.push_back(describe_algo(a) + " (not run-to-run deterministic)");
        continue;
      }
      int c = 0;
      for (; c < static_cast<int>(cls_size.size()); ++c) {
        zero_counter();
        count_diff_u16(y.get(), y_row_words, static_cast<const char*>(reps.get()) + c * rep_ld, y_row_words, 1,
                       y_row_words, counter.as<unsigned long long>(), stream);
        if (read_counter() == 0) break;
      }
      if (c == static_cast<int>(cls_size.size())) {
        check_cuda(cudaMemcpyAsync(static_cast<char*>(reps.get()) + c * rep_ld, y.get(), y_row_bytes,
                                   cudaMemcpyDeviceToDevice, stream),
                   "cudaMemcpyAsync");
        cls_size.push_back(0);
      }
      ++cls_size[c];
      det.push_back(a);
      cls.push_back(c);
    }
    if (det.empty()) {
      fail(where, "no split-K-free cuBLASLt algorithm runs deterministically at M=1 (" + std::to_string(cands.size()) +
                      " candidates)");
    }
    const int major = static_cast<int>(std::max_element(cls_size.begin(), cls_size.end()) - cls_size.begin());
    for (size_t i = 0; i < det.size(); ++i) {
      if (cls[i] == major) {
        ref_class.push_back(det[i]);
      } else {
        ref_rejected.push_back(describe_algo(det[i]) + " (bits differ from the majority's at M=1)");
      }
    }
  }
  const cublasLtMatmulAlgo_t ref_algo = ref_class[fastest(ref_class, 1).first];

  // 2. Reference rows: every probed X row computed alone (M = 1) by the reference algorithm.
  std::map<int64_t, int64_t> ref_index;                                                // X row -> row of `ref`
  for (int64_t r = 0; r < std::min<int64_t>(max_m_, 4); ++r) ref_index.emplace(r, 0);  // bucket 1's probes
  for (size_t t = 1; t < tops.size(); ++t) {
    for (int64_t m : verify_ms(tops[t - 1] + 1, tops[t])) {
      for (int64_t r : probe_rows(m)) ref_index.emplace(r, 0);
    }
  }
  const size_t ref_ld_bytes = round_up(y_row_bytes, kAlignment);
  DeviceBuffer ref(ref_index.size() * ref_ld_bytes);
  auto ref_at = [&](int64_t row) { return static_cast<const char*>(ref.get()) + ref_index.at(row) * ref_ld_bytes; };
  {
    int64_t i = 0;
    for (auto& [row, idx] : ref_index) {
      idx = i++;
      check_cuda(cudaMemcpyAsync(x_row.get(), x_at(row), x_row_bytes, cudaMemcpyDeviceToDevice, stream),
                 "cudaMemcpyAsync");
      check_cublas(matmul(ref_algo, x_row.get(), w0, static_cast<char*>(ref.get()) + idx * ref_ld_bytes, 1, stream),
                   ("cublasLtMatmul (reference rows) for " + shape_name()).c_str());
    }
  }

  // Verification of one candidate for bucket [lo, hi]: run at M = lo, middle and hi (M = 1: rows 0..3 one at a time)
  // and compare the probed rows with the reference rows. 0: same bits; 1: other bits; 2: failed to run.
  // `run_fn(x, w, y, m)` runs the candidate and says whether it ran.
  auto verify_with = [&](auto&& run_fn, int64_t lo, int64_t hi, int64_t* checked) {
    zero_counter();
    *checked = 0;
    for (int64_t m : verify_ms(lo, hi)) {
      if (m == 1) {
        for (int64_t r = 0; r < std::min<int64_t>(max_m_, 4); ++r) {
          check_cuda(cudaMemcpyAsync(x_row.get(), x_at(r), x_row_bytes, cudaMemcpyDeviceToDevice, stream),
                     "cudaMemcpyAsync");
          fill_u16(y.get(), y_row_words, kPoison, stream);
          if (!run_fn(x_row.get(), w0, y.get(), 1)) {
            settle_failed_call();
            return 2;
          }
          count_diff_u16(y.get(), y_row_words, ref_at(r), y_row_words, 1, y_row_words, counter.as<unsigned long long>(),
                         stream);
          ++*checked;
        }
        continue;
      }
      fill_u16(y.get(), static_cast<size_t>(m) * y_row_words, kPoison, stream);
      if (!run_fn(x.get(), w0, y.get(), m)) {
        settle_failed_call();
        return 2;
      }
      for (int64_t r : probe_rows(m)) {
        count_diff_u16(y_at(r), y_row_words, ref_at(r), y_row_words, 1, y_row_words, counter.as<unsigned long long>(),
                       stream);
        ++*checked;
      }
    }
    return read_counter() != 0 ? 1 : 0;
  };
  auto verify = [&](const cublasLtMatmulAlgo_t& a, int64_t lo, int64_t hi, int64_t* checked) {
    const int v = verify_with([&](const void* xp, const void* wp, void* yp,
                                  int64_t m) { return matmul(a, xp, wp, yp, m, stream) == CUBLAS_STATUS_SUCCESS; },
                              lo, hi, checked);
    if (v == 0 && o.candidate_filter && !o.candidate_filter(hi, a)) return 1;
    return v;
  };
  // The own small-M kernel (kernels/cuda/gemm_small_m.cuh) as a candidate: verified and timed like the others.
  auto own_run = [&](const void* xp, const void* wp, void* yp, int64_t m) {
    own_matmul(xp, wp, yp, m, stream);
    return cudaGetLastError() == cudaSuccess;
  };
  auto own_time = [&](int64_t m) {
    const int runs = std::max({n_w, n_x, 2});
    std::vector<float> times;
    for (int g = 0; g < std::max(o.timing_groups, 1); ++g) {
      ev0.record(stream);
      for (int i = 0; i < runs; ++i) own_matmul(x_copies[i % n_x].get(), w_copies[i % n_w].get(), y.get(), m, stream);
      ev1.record(stream);
      check_cuda(cudaGetLastError(), "gemm_small_m (timing)");
      times.push_back(ev1.ms_since(ev0) / runs);
    }
    return median(times);
  };
  auto keep_verified = [&](const std::vector<cublasLtMatmulAlgo_t>& cands, GemmBucket& b) {
    std::vector<cublasLtMatmulAlgo_t> ok;
    for (const cublasLtMatmulAlgo_t& a : cands) {
      int64_t checked = 0;
      const int v = verify(a, b.m_lo, b.m_hi, &checked);
      if (v == 2) {
        ++b.rejected_run;
      } else if (v == 1) {
        ++b.rejected_bits;
        b.rejected_desc.push_back(describe_algo(a));
      } else {
        ok.push_back(a);
        b.probes_checked = checked;
      }
    }
    return ok;
  };

  bool own_ok = own_kernel_supported() && o.own_kernel;
  // 3. Every bucket: verify every candidate (bucket 1: the reference's group), time the survivors, then try the
  // variants of the fastest few where a GEMM is short (small M: launch- and latency-bound, where they matter).
  for (size_t t = 0; t < tops.size(); ++t) {
    GemmBucket b;
    b.m_lo = t == 0 ? 1 : tops[t - 1] + 1;
    b.m_hi = tops[t];
    std::vector<cublasLtMatmulAlgo_t> cands;
    if (t == 0) {
      cands = ref_class;
      b.candidates = ref_candidates;
      b.rejected_run = ref_rejected_run;
      b.rejected_bits = static_cast<int>(ref_rejected.size());
      b.rejected_desc = ref_rejected;
    } else {
      const cublasLtMatmulAlgo_t previous = table_.back().algo;
      cands = candidates(b.m_hi, &previous);
      b.candidates = static_cast<int>(cands.size());
    }
    std::vector<cublasLtMatmulAlgo_t> ok = keep_verified(cands, b);
    if (ok.empty()) {
      fail(where, "refusing: no split-K-free cuBLASLt algorithm reproduces the M=1 reference bits at M=" +
                      std::to_string(b.m_hi) + " (bucket " + std::to_string(b.m_lo) + ".." + std::to_string(b.m_hi) +
                      "; " + std::to_string(b.candidates) + " candidates, " + std::to_string(b.rejected_bits) +
                      " gave other bits, " + std::to_string(b.rejected_run) + " failed to run)");
    }
    const auto order = ranked(ok, b.m_hi);
    size_t best = order.front().second;
    float ms = order.front().first;
    b.algo = ok[best];
    if (ms * 1000.0f <= o.variant_max_us) {
      // The variants of the fastest few, not of the fastest alone: where tile shapes time within the noise of
      // each other, one that lost may have the fastest variant (measured: 4096x12288 at M = 512, 75.3 against
      // 70.1 us, depending on which of two tiles came first in one process's timing; 4096x4096 at M = 512, 33.7
      // against 26.5 us with the variants of two).
      std::vector<cublasLtMatmulAlgo_t> seen = cands, bases, vars;
      for (size_t i = 0; i < std::min(order.size(), static_cast<size_t>(std::max(o.variant_bases, 1))); ++i) {
        bases.push_back(ok[order[i].second]);
        const std::vector<cublasLtMatmulAlgo_t> v = variants_of(bases.back(), b.m_hi, seen);
        vars.insert(vars.end(), v.begin(), v.end());
      }
      b.variants = static_cast<int>(vars.size());
      // Each variant timed in one group, then verified fastest first until timing_finalists of them have passed: the
      // bit checks at every probe M, not one group's timing, are what tuning spends its time on. Only verified
      // variants are timed again and can be chosen.
      std::vector<std::pair<float, size_t>> quick;
      for (size_t i = 0; i < vars.size(); ++i) {
        if (matmul(vars[i], x_copies[0].get(), w_copies[0].get(), y.get(), b.m_hi, stream) != CUBLAS_STATUS_SUCCESS) {
          settle_failed_call();
          ++b.rejected_run;
          continue;
        }
        quick.emplace_back(time_group(vars[i], b.m_hi), i);
      }
      std::sort(quick.begin(), quick.end());
      std::vector<cublasLtMatmulAlgo_t> vok;
      for (const auto& q : quick) {
        if (static_cast<int>(vok.size()) >= std::max(o.timing_finalists, 1)) break;
        const std::vector<cublasLtMatmulAlgo_t> one = keep_verified({vars[q.second]}, b);
        vok.insert(vok.end(), one.begin(), one.end());
      }
      if (!vok.empty()) {
        vok.insert(vok.begin(), bases.begin(), bases.end());
        std::tie(best, ms) = fastest(vok, b.m_hi);
        b.algo = vok[best];
      }
    }
    // The own kernel where it serves the bucket: it must reproduce the reference bits like any candidate, and it
    // replaces cuBLASLt where it is faster alone (timed the same way, median of groups), or, for buckets up to M = 8
    // (its one-X-block configuration, the one measured in a decode-like sequence), at most own_kernel_slack slower:
    // back to back with the kernels around it, its early start (pdl.cuh) is worth more than that.
    if (own_ok && b.m_hi <= cuda_kernels::kSmallMMaxM) {
      int64_t checked = 0;
      const int v = verify_with(own_run, b.m_lo, b.m_hi, &checked);
      if (v == 0) {
        const float own_ms = own_time(b.m_hi);
        const float lt_ms = fastest({b.algo}, b.m_hi).second;  // re-timed beside it
        const float slack = b.m_hi <= 8 ? std::max(o.own_kernel_slack, 0.0f) : 0.0f;
        if (own_ms <= lt_ms * (1.0f + slack)) {
          b.own_kernel = true;
          b.probes_checked = checked;
          ms = own_ms;
        }
      } else if (v == 1) {
        ++b.rejected_bits;
        b.rejected_desc.push_back("own small-M kernel (gemm_small_m)");
        own_ok = false;  // an order of its own: not offered again
      } else {
        ++b.rejected_run;
        own_ok = false;
      }
    }
    b.time_us = ms * 1000.0f;
    b.algo_desc = describe_algo(b.algo);
    table_.push_back(b);
  }
  check_cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  tune_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  if (o.log) std::fprintf(stderr, "%s", table_report().c_str());
}

}  // namespace verbatim::cuda

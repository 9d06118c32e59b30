#include "backend/cpu/cpu_backend.h"

#include <cblas.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <tuple>
#include <vector>

#include "kernels/cpu/add.h"
#include "kernels/cpu/add_rmsnorm.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_amx.h"
#include "kernels/cpu/gemm_bf16dot.h"
#include "kernels/cpu/load.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/paged_attention_split.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope_rows.h"
#include "kernels/cpu/swiglu.h"
#include "util/error.h"

namespace verbatim::backend {
namespace {

namespace kc = kernels::cpu;

constexpr const char* kWhere = "cpu backend";

// Frees a buffer: munmap for one from map_huge (mapped = its length), else free.
struct BufferDeleter {
  size_t mapped = 0;
  void operator()(void* p) const {
    if (mapped != 0) {
      munmap(p, mapped);
    } else {
      std::free(p);
    }
  }
};
using Buffer = std::unique_ptr<void, BufferDeleter>;

// `bytes` of 64-byte-aligned memory, zeroed when `zero` (large zeroed buffers come from calloc's lazy zero pages).
Buffer allocate(size_t bytes, bool zero, const char* what) {
  void* p = nullptr;
  if (zero) {
    p = std::calloc(bytes == 0 ? 1 : bytes, 1);  // glibc: 16-byte aligned; every kernel uses unaligned loads
  } else {
    p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  }
  if (p == nullptr) fail(kWhere, std::string("cannot allocate ") + std::to_string(bytes) + " bytes for " + what);
  return Buffer(p);
}

constexpr size_t kHugePage = size_t{2} << 20;

// `bytes` (rounded up to 2 MiB) of zeroed memory for the big, streamed buffers (packed weights, the KV cache): an
// anonymous mapping aligned to 2 MiB with transparent huge pages asked for (madvise; Linux's default "madvise" mode
// gives them only then). Streaming 200+ MB of weights per decode step through 4 KiB pages costs a TLB miss every 4
// KiB; with 2 MiB pages the GEMM runs at its in-cache speed (measured: docs/performance.md). Where the kernel has no
// huge pages the memory is the same, in small pages. The kernel zero-fills the pages on first touch.
Buffer map_huge(size_t bytes, const char* what) {
  const size_t size = (std::max<size_t>(bytes, 1) + kHugePage - 1) / kHugePage * kHugePage;
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) fail(kWhere, std::string("cannot map ") + std::to_string(bytes) + " bytes for " + what);
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);  // the unaligned head
  if (start + kHugePage > aligned) munmap(reinterpret_cast<void*>(aligned + size), start + kHugePage - aligned);
  void* p = reinterpret_cast<void*>(aligned);
  madvise(p, size, MADV_HUGEPAGE);  // a hint: failure leaves small pages, same contents
  return Buffer(p, BufferDeleter{size});
}

// Faults in every page of a map_huge buffer now (writing a zero to each 4 KiB: the contents stay zero), on `threads`
// threads, so that the decode steps that first write a KV block do not pay the kernel's page faults and zeroing (a
// fresh engine's KV write paid them: docs/performance.md). Costs zeroing the buffer once, at creation, and commits its
// memory up front, as vLLM's KV cache does. Touches no value a kernel reads: bits unchanged.
void prefault(void* p, size_t bytes, int threads) {
  constexpr size_t kPage = 4096;
  volatile char* c = static_cast<volatile char*>(p);
  const int64_t pages = static_cast<int64_t>((bytes + kPage - 1) / kPage);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t i = 0; i < pages; ++i) c[static_cast<size_t>(i) * kPage] = 0;
}

size_t checked_product(std::initializer_list<int64_t> factors, const char* what) {
  size_t total = 1;
  for (int64_t f : factors) {
    if (f < 0 || __builtin_mul_overflow(total, static_cast<size_t>(f), &total))
      fail(kWhere, std::string("size of ") + what + " overflows");
  }
  return total;
}

// Calls f(r0, r1) for `threads` contiguous ranges of [0, n) in parallel (each range on one thread).
template <typename F>
void parallel_ranges(int64_t n, int threads, F&& f) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, n));
#pragma omp parallel for num_threads(threads) schedule(static) if (parts > 1)
  for (int64_t part = 0; part < parts; ++part) {
    const int64_t r0 = n * part / parts, r1 = n * (part + 1) / parts;
    if (r1 > r0) f(r0, r1);
  }
}

float* f32(Act a) {
  return static_cast<float*>(a.data);
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& o) : opt_(o) {
    if (opt_.threads < 1) fail(kWhere, "threads must be at least 1, got " + std::to_string(opt_.threads));
    if (opt_.matmul == CpuMatmul::Bf16 && !kc::gemm_bf16dot_available())
      fail(kWhere,
           "cpu_matmul bf16 needs a CPU with AVX512_BF16 (the vdpbf16ps instruction; /proc/cpuinfo flag "
           "avx512_bf16), which this CPU lacks; use cpu_matmul fp32");
    if (opt_.matmul == CpuMatmul::Amx && !kc::gemm_amx_available())
      fail(kWhere,
           "cpu_matmul amx needs a CPU with the AMX tile unit (/proc/cpuinfo flags amx_tile and amx_bf16) and a Linux "
           "kernel that grants the process its tile state (arch_prctl ARCH_REQ_XCOMP_PERM, Linux >= 5.16); this "
           "machine lacks one of them; use cpu_matmul bf16 or fp32");
    if (opt_.mode == Mode::Fast) blas_single_threaded();
  }

  std::string name() const override { return "cpu"; }
  Mode mode() const override { return opt_.mode; }

  Weight upload(const Tensor& t) override {
    if (t.empty()) fail(kWhere, "upload of an empty tensor " + t.name);
    Weight w;
    w.data = t.data;
    w.dtype = t.dtype;
    if (t.shape.size() == 1) {
      w.rows = 1;
      w.cols = t.shape[0];
    } else if (t.shape.size() == 2) {
      w.rows = t.shape[0];
      w.cols = t.shape[1];
    } else {
      fail(kWhere, "tensor " + t.name + " has " + std::to_string(t.shape.size()) + " dimensions, expected 1 or 2");
    }
    if (w.rows <= 0 || w.cols <= 0) fail(kWhere, "tensor " + t.name + " has an empty shape");
    return w;
  }

  Act alloc(int64_t rows, int64_t cols, ActRole /*every role is fp32 here*/) override {
    if (rows <= 0 || cols <= 0) fail(kWhere, "activation buffers need a positive shape");
    const size_t bytes = checked_product({rows, cols, 4}, "an activation buffer");
    buffers_.push_back(allocate(bytes, /*zero=*/true, "an activation buffer"));
    return Act{buffers_.back().get(), rows, cols, DType::F32};
  }

  void alloc_kv_cache(const KvCacheLayout& l) override {
    if (l.n_layers <= 0 || l.num_blocks <= 0 || l.block_size <= 0 || l.n_kv_heads <= 0 || l.head_dim <= 0)
      fail(kWhere, "KV cache layout has a non-positive size");
    kv_ = l;
    kv_layout_ = {.block_size = l.block_size, .n_kv_heads = l.n_kv_heads, .head_dim = l.head_dim};
    layer_floats_ = checked_product({l.num_blocks, kv_layout_.block_floats()}, "the KV cache");
    const size_t bytes =
        checked_product({static_cast<int64_t>(layer_floats_), l.n_layers, kv_element_bytes()}, "the KV cache");
    k_cache_ = map_huge(bytes, "the K cache");
    v_cache_ = map_huge(bytes, "the V cache");
    prefault(k_cache_.get(), bytes, opt_.threads);
    prefault(v_cache_.get(), bytes, opt_.threads);
  }

  int kv_element_bytes() const override { return opt_.kv == CpuKv::Bf16 ? 2 : 4; }

  void begin_step(const StepPlan& plan) override {
    if (!k_cache_) fail(kWhere, "begin_step before alloc_kv_cache");
    plan_ = &plan;
    const int n = plan.n_rows();
    row_blocks_.resize(n);
    max_pos_ = 0;
    for (int r = 0; r < n; ++r) {
      const StepPlan::Seq& s = plan.seqs[plan.row_seq[r]];
      row_blocks_[r] = plan.block_table.data() + s.table_begin;
      max_pos_ = std::max<int64_t>(max_pos_, plan.positions[r]);
    }
    rows_ = {.n_rows = n, .positions = plan.positions.data(), .blocks = row_blocks_.data()};
  }

  void end_step() override { plan_ = nullptr; }

  void embed(const Weight& table, Act out) override {
    const int64_t n = rows(out, table.cols, "embed out");
    const int32_t* tokens = plan().tokens.data();
    parallel_ranges(n, opt_.threads, [&](int64_t r0, int64_t r1) {
      kc::embedding(table.data, table.dtype, tokens + r0, r1 - r0, f32(out) + r0 * out.cols,
                    {.vocab = table.rows, .dim = table.cols});
    });
  }

  void rmsnorm(Act x, const Weight& w, float eps, Act out) override {
    const int64_t n = rows(x, w.cols, "rmsnorm x");
    rows(out, w.cols, "rmsnorm out");
    parallel_ranges(n, opt_.threads, [&](int64_t r0, int64_t r1) {
      kc::rmsnorm(f32(x) + r0 * x.cols, w.data, w.dtype, f32(out) + r0 * out.cols, r1 - r0, {.n = w.cols, .eps = eps});
    });
  }

  void add_rmsnorm(Act residual, Act x, const Weight& w, float eps, Act out) override {
    const int64_t n = rows(residual, w.cols, "add_rmsnorm residual");
    rows(x, w.cols, "add_rmsnorm x");
    rows(out, w.cols, "add_rmsnorm out");
    kc::add_rmsnorm(f32(residual), f32(x), w.data, w.dtype, f32(out), n, {.n = w.cols, .eps = eps}, opt_.threads);
  }

  void add(Act residual, Act x) override {
    const int64_t n = rows(residual, x.cols, "add residual");
    rows(x, residual.cols, "add x");
    parallel_ranges(n * x.cols, opt_.threads,
                    [&](int64_t i0, int64_t i1) { kc::add_inplace(f32(residual) + i0, f32(x) + i0, i1 - i0); });
  }

  void matmul(Act x, const Weight& w, const Weight& bias, Act y, bool logit_rows) override {
    const int64_t m = logit_rows ? plan().n_logits() : plan().n_rows();
    check_rows(x, m, w.cols, "matmul x");
    check_rows(y, m, w.rows, "matmul y");
    if (!bias.empty() && bias.cols != w.rows) fail(kWhere, "matmul bias length differs from the output width");
    if (m == 0) return;
    if (opt_.mode == Mode::Fast && m > 1) {
      blas_gemm(f32(x), w, f32(y), m);
    } else if (opt_.matmul != CpuMatmul::Fp32) {
      const bool amx = opt_.matmul == CpuMatmul::Amx;
      const size_t need = amx ? kc::gemm_amx_scratch_bytes(m, w.cols) : kc::gemm_bf16dot_scratch_bytes(m, w.cols);
      if (need > bf16_scratch_bytes_) {
        bf16_scratch_ = allocate(need, /*zero=*/false, "the bf16 activations");
        bf16_scratch_bytes_ = need;
      }
      const kc::GemmBf16DotParams gp{.m = m, .n = w.rows, .k = w.cols, .threads = opt_.threads};
      if (amx) {
        kc::gemm_amx(f32(x), packed_bf16dot_of(w), f32(y), bf16_scratch_.get(), gp);
      } else {
        kc::gemm_bf16dot(f32(x), packed_bf16dot_of(w), f32(y), bf16_scratch_.get(), gp);
      }
    } else {
      kc::gemm(f32(x), packed_of(w), w.dtype, f32(y), {.m = m, .n = w.rows, .k = w.cols, .threads = opt_.threads});
    }
    if (!bias.empty()) {
      parallel_ranges(m, opt_.threads, [&](int64_t r0, int64_t r1) {
        kc::add_bias(f32(y) + r0 * y.cols, bias.data, bias.dtype, r1 - r0, w.rows);
      });
    }
  }

  void head_rmsnorm(Act x, const Weight& w, float eps) override {
    const int64_t n = rows(x, x.cols, "head_rmsnorm x");
    if (x.cols % w.cols != 0) fail(kWhere, "head_rmsnorm: row width is not a multiple of the head size");
    const int64_t heads = x.cols / w.cols;
    parallel_ranges(n, opt_.threads, [&](int64_t r0, int64_t r1) {
      float* xr = f32(x) + r0 * x.cols;
      kc::rmsnorm(xr, w.data, w.dtype, xr, (r1 - r0) * heads, {.n = w.cols, .eps = eps});
    });
  }

  void rope(Act x, int head_dim, const float* inv_freq) override {
    const int64_t n = rows(x, x.cols, "rope x");
    if (head_dim <= 0 || head_dim % 2 != 0 || x.cols % head_dim != 0)
      fail(kWhere, "rope: head_dim must be even and divide the row width");
    kc::rope_rows(f32(x), plan().positions.data(), n, inv_freq,
                  {.n_heads = static_cast<int>(x.cols / head_dim), .head_dim = head_dim}, opt_.threads);
  }

  void kv_write(int layer, Act k, Act v) override {
    check_layer(layer);
    rows(k, kv_layout_.kv_dim(), "kv_write k");
    rows(v, kv_layout_.kv_dim(), "kv_write v");
    if (opt_.kv == CpuKv::Bf16) {
      kc::paged_kv_write(f32(k), f32(v), rows_, layer_cache<uint16_t>(k_cache_, layer),
                         layer_cache<uint16_t>(v_cache_, layer), kv_layout_, opt_.threads);
    } else {
      kc::paged_kv_write(f32(k), f32(v), rows_, layer_cache<float>(k_cache_, layer),
                         layer_cache<float>(v_cache_, layer), kv_layout_, opt_.threads);
    }
  }

  void attention(int layer, Act q, int n_heads, Act out) override {
    check_layer(layer);
    const int64_t width = static_cast<int64_t>(n_heads) * kv_layout_.head_dim;
    if (n_heads <= 0 || n_heads % kv_layout_.n_kv_heads != 0)
      fail(kWhere, "attention: n_heads is not a multiple of the cache's KV heads");
    rows(q, width, "attention q");
    rows(out, width, "attention out");
    if (opt_.kv == CpuKv::Bf16) {
      attention_over<uint16_t>(layer, q, n_heads, out);
    } else {
      attention_over<float>(layer, q, n_heads, out);
    }
  }

  void swiglu(Act gate, Act up, Act out) override {
    const int64_t n = rows(gate, gate.cols, "swiglu gate");
    rows(up, gate.cols, "swiglu up");
    rows(out, gate.cols, "swiglu out");
    parallel_ranges(n * gate.cols, opt_.threads,
                    [&](int64_t i0, int64_t i1) { kc::swiglu(f32(gate) + i0, f32(up) + i0, f32(out) + i0, i1 - i0); });
  }

  void gather_logit_rows(Act x, Act out) override {
    rows(x, out.cols, "gather_logit_rows x");
    const std::vector<int32_t>& lr = plan().logit_rows;
    check_rows(out, static_cast<int64_t>(lr.size()), x.cols, "gather_logit_rows out");
    for (size_t i = 0; i < lr.size(); ++i)
      std::memcpy(f32(out) + i * out.cols, f32(x) + lr[i] * x.cols, x.cols * sizeof(float));
  }

  void read_logits(Act x, float* host) override {
    const int64_t n = plan().n_logits();
    check_rows(x, n, x.cols, "read_logits x");
    std::memcpy(host, x.data, static_cast<size_t>(n * x.cols) * sizeof(float));
  }

 private:
  using WeightKey = std::tuple<const void*, DType, int64_t, int64_t>;

  // One layer's K (or V) cache; T: the element type of cpu_kv (float or uint16_t holding bf16).
  template <typename T>
  T* layer_cache(const Buffer& cache, int layer) {
    return static_cast<T*>(cache.get()) + layer * layer_floats_;
  }

  template <typename T>
  void attention_over(int layer, Act q, int n_heads, Act out) {
    const T* k = layer_cache<T>(k_cache_, layer);
    const T* v = layer_cache<T>(v_cache_, layer);
    if (opt_.mode == Mode::Invariant) {
      scratch_.resize(std::max(scratch_.size(), kc::paged_attention_scratch_floats(max_pos_, opt_.threads)));
      kc::paged_attention(f32(q), k, v, rows_, f32(out), scratch_.data(), scratch_.size(),
                          {.n_heads = n_heads, .kv = kv_layout_, .threads = opt_.threads});
    } else {
      // Flash-decoding style: a short batch is spread over the cores by splitting each row's positions.
      const int splits = std::max(1, opt_.threads / std::max(1, plan().n_rows()));
      const kc::SplitAttentionParams sp{
          .n_heads = n_heads, .kv = kv_layout_, .threads = opt_.threads, .splits = splits};
      scratch_.resize(std::max(scratch_.size(), kc::paged_attention_split_scratch_floats(rows_.n_rows, max_pos_, sp)));
      kc::paged_attention_split(f32(q), k, v, rows_, f32(out), scratch_.data(), scratch_.size(), sp);
    }
  }

  const StepPlan& plan() const {
    if (plan_ == nullptr) fail(kWhere, "op called outside begin_step / end_step");
    return *plan_;
  }

  // The step's row count, after checking that `a` holds that many rows of `cols` columns.
  int64_t rows(Act a, int64_t cols, const char* what) const {
    const int64_t n = plan().n_rows();
    check_rows(a, n, cols, what);
    return n;
  }

  static void check_rows(Act a, int64_t n, int64_t cols, const char* what) {
    if (a.data == nullptr || a.cols != cols || n > a.rows)
      fail(kWhere, std::string(what) + ": buffer [" + std::to_string(a.rows) + ", " + std::to_string(a.cols) +
                       "] cannot hold " + std::to_string(n) + " rows of " + std::to_string(cols));
  }

  void check_layer(int layer) const {
    if (!k_cache_ || layer < 0 || layer >= kv_.n_layers)
      fail(kWhere, "layer " + std::to_string(layer) + " has no cache");
  }

  // Mode::Fast, m > 1: y = x W^T by OpenBLAS sgemm on an fp32 copy of W. The output columns are cut into one slice
  // per OpenMP thread (multiples of 16 columns) and each thread calls a single-threaded sgemm on its slice, so the
  // backend's `threads` are the only threads (see blas_single_threaded). Its blocking and FMA order depend on m and on
  // the slicing, so the bits depend on the batch and the thread count: that is the point of Mode::Fast.
  void blas_gemm(const float* x, const Weight& w, float* y, int64_t m) {
    const float* wf = fp32_of(w);
    const int64_t n = w.rows, k = w.cols;
    const int64_t units = (n + 15) / 16;
    const int parts = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(opt_.threads, units)));
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
    for (int part = 0; part < parts; ++part) {
      const int64_t j0 = std::min(n, units * part / parts * 16), j1 = std::min(n, units * (part + 1) / parts * 16);
      if (j1 <= j0) continue;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(j1 - j0),
                  static_cast<int>(k), 1.0f, x, static_cast<int>(k), wf + j0 * k, static_cast<int>(k), 0.0f, y + j0,
                  static_cast<int>(n));
    }
  }

  // OpenBLAS's own thread count is process-wide (openblas_set_num_threads; OpenBLAS 0.3.21 has no per-call
  // setting). Every CPU backend wants the same value, 1: its sgemm calls run inside its own OpenMP threads, one slice
  // each, and OpenBLAS threads beside them would oversubscribe the cores. So it is set once per process, to a constant
  // (two engines in one process never disagree about it); it overrides OPENBLAS_NUM_THREADS.
  static void blas_single_threaded() {
    static const bool once = [] {
      openblas_set_num_threads(1);
      return true;
    }();
    (void)once;
  }

  // The weight repacked for kernels/cpu/gemm.h, made on first use (an exact copy).
  const void* packed_of(const Weight& w) {
    const WeightKey key{w.data, w.dtype, w.rows, w.cols};
    auto it = packed_.find(key);
    if (it == packed_.end()) {
      void* dst = packed_arena(kc::gemm_packed_bytes(w.dtype, w.rows, w.cols));
      kc::gemm_pack(w.data, w.dtype, dst, {.n = w.rows, .k = w.cols, .threads = opt_.threads});
      it = packed_.emplace(key, dst).first;
    }
    return it->second;
  }

  // The weight packed for kernels/cpu/gemm_bf16dot.h (bf16 pairs; f32/f16 weights rounded to bf16), made on first
  // use into the same arena and map (a backend uses one of the two packings, fixed by its options, never both).
  const void* packed_bf16dot_of(const Weight& w) {
    const WeightKey key{w.data, w.dtype, w.rows, w.cols};
    auto it = packed_.find(key);
    if (it == packed_.end()) {
      void* dst = packed_arena(kc::gemm_bf16dot_packed_bytes(w.rows, w.cols));
      kc::gemm_bf16dot_pack(w.data, w.dtype, dst, {.n = w.rows, .k = w.cols, .threads = opt_.threads});
      it = packed_.emplace(key, dst).first;
    }
    return it->second;
  }

  // `bytes` of the packed-weight arena, 64-byte aligned: huge-page chunks of at least kArenaChunk bytes, filled in the
  // order the weights are first used (the forward pass's), so that consecutive GEMMs read consecutive memory.
  void* packed_arena(size_t bytes) {
    constexpr size_t kArenaChunk = size_t{64} << 20;
    bytes = (bytes + 63) / 64 * 64;
    if (arenas_.empty() || arena_used_ + bytes > arena_size_) {
      arena_size_ = std::max(kArenaChunk, bytes);
      arenas_.push_back(map_huge(arena_size_, "packed weights"));
      arena_used_ = 0;
    }
    void* p = static_cast<uint8_t*>(arenas_.back().get()) + arena_used_;
    arena_used_ += bytes;
    return p;
  }

  // The weight as fp32 [rows, cols] for BLAS (Mode::Fast), made on first use.
  const float* fp32_of(const Weight& w) {
    if (w.dtype == DType::F32) return static_cast<const float*>(w.data);
    const WeightKey key{w.data, w.dtype, w.rows, w.cols};
    auto it = fp32_.find(key);
    if (it == fp32_.end()) {
      const int64_t count = w.rows * w.cols;
      Buffer buf = map_huge(checked_product({count, 4}, "an fp32 weight"), "an fp32 weight");
      float* dst = static_cast<float*>(buf.get());
      kc::dispatch_dtype(w.dtype, [&](auto tag) {
        constexpr DType D = decltype(tag)::value;
        parallel_ranges(count, opt_.threads, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) dst[i] = kc::load_weight<D>(w.data, i);
        });
      });
      it = fp32_.emplace(key, std::move(buf)).first;
    }
    return static_cast<const float*>(it->second.get());
  }

  CpuBackendOptions opt_;
  std::vector<Buffer> buffers_;              // activations
  std::map<WeightKey, const void*> packed_;  // into arenas_
  std::vector<Buffer> arenas_;
  size_t arena_used_ = 0, arena_size_ = 0;  // of arenas_.back()
  std::map<WeightKey, Buffer> fp32_;
  KvCacheLayout kv_;
  kc::PagedKvLayout kv_layout_;
  size_t layer_floats_ = 0;  // elements of one layer's K (or V) cache: [num_blocks][block floats]
  Buffer k_cache_, v_cache_;

  // The current step.
  const StepPlan* plan_ = nullptr;
  std::vector<const int32_t*> row_blocks_;  // [n_rows] each row's sequence's block ids
  kc::PagedRows rows_;
  int64_t max_pos_ = 0;
  std::vector<float> scratch_;  // attention scratch, grown to the largest step seen
  Buffer bf16_scratch_;         // cpu_matmul bf16: x rounded to bf16 pairs, grown to the largest matmul seen
  size_t bf16_scratch_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

std::string cpu_kernel_paths() {
  return std::string("gemm f32 ") + kernels::cpu::gemm_path(DType::F32) + ", bf16 " +
         kernels::cpu::gemm_path(DType::BF16) + ", f16 " + kernels::cpu::gemm_path(DType::F16) + "; attention " +
         kernels::cpu::paged_attention_path() + "; fast-mode sgemm: OpenBLAS " + openblas_get_corename() + " kernels";
}

}  // namespace verbatim::backend

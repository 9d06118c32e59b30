// The CUDA backend: memory and ops. See cuda_backend.h for the contract and cuda_backend_impl.h for the layout.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cuda/cuda_backend_impl.h"
#include "kernels/cuda/add.cuh"
#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/gather_rows.cuh"
#include "kernels/cuda/head_rmsnorm.cuh"
#include "kernels/cuda/kv_write.cuh"
#include "kernels/cuda/paged_attention.cuh"
#include "kernels/cuda/rms_prep.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/split_columns.cuh"
#include "kernels/cuda/swiglu.cuh"
#include "util/half.h"

namespace verbatim::cuda {
namespace {

constexpr const char* kWhere = "cuda backend";
namespace ck = cuda_kernels;
// SwiGLU's epilogue: measured faster at M = 1 only (at M = 8, with the residual epilogue, slower; alone not measured).
constexpr int64_t kSwigluFuseMaxM = 1;
// attention_inputs into the attention (kFuseAttention): measured +0.5-1.5% at batch 1 and -1% at batch 64 (H200,
// qwen3-8b, 2026-12-02: each CTA's prologue then computes its rows' q heads and K/V in series); fused at 1 row only.
constexpr int64_t kAttentionFuseMaxRows = 1;

enum Op : int {
  kEmbed = 1,
  kRmsnorm,
  kAddRmsnorm,
  kAdd,
  kMatmul,
  kHeadNorm,
  kRope,
  kKvWrite,
  kAttention,
  kSwiglu,
  kGather,
  kMatmulGroup,
  kAttentionInputs,
};

size_t product(std::initializer_list<int64_t> factors, const char* what) {
  size_t total = 1;
  for (int64_t f : factors) {
    if (f < 0 || __builtin_mul_overflow(total, static_cast<size_t>(f), &total))
      fail(kWhere, std::string("size of ") + what + " overflows");
  }
  return total;
}

std::string mib(int64_t bytes) {
  return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

}  // namespace

CudaBackend::CudaBackend(const backend::CudaBackendOptions& o) : opt_(o) {
  if (opt_.max_rows < 1 || opt_.max_logits < 1) fail(kWhere, "max_rows and max_logits must be positive");
  if (opt_.split_size < 1) fail(kWhere, "split_size must be positive");
  if (opt_.split_min < 0 || opt_.split_min > opt_.split_size)
    fail(kWhere, "split_min must be in [0, split_size], got " + std::to_string(opt_.split_min));
  if (opt_.memory_budget_bytes < 0) fail(kWhere, "the memory budget must be >= 0");
  if ((opt_.fuse & ~backend::kFuseAll) != 0)
    fail(kWhere, "fuse is a mask of kFuseNorm, kFuseResidual, kFuseSwiglu and kFuseAttention (at most " +
                     std::to_string(backend::kFuseAll) + "), got " + std::to_string(opt_.fuse));
  if (opt_.shared) {
    res_ = std::dynamic_pointer_cast<CudaResources>(opt_.shared);
    if (!res_) fail(kWhere, "the shared resources were not made by make_cuda_shared_resources");
    if (res_->device() != opt_.device) fail(kWhere, "the shared resources belong to another device");
  } else {
    res_ = std::make_shared<CudaResources>(opt_.device);
  }
  check_cuda(cudaSetDevice(opt_.device), "cudaSetDevice");
  stream_ = res_->stream();
  int unified = 0;
  check_cuda(cudaDeviceGetAttribute(&unified, cudaDevAttrUnifiedAddressing, opt_.device), "cudaDeviceGetAttribute");
  if (unified == 0)  // kernels read the pinned staging of the plan and of sampling directly (fetch_words.cuh)
    fail(kWhere, "the device has no unified addressing: pinned host memory is not visible to its kernels");
  plan_slots_ = (opt_.max_rows + 1 + 3) / 4 * 4;  // + the dummy sequence of padding rows; 16-byte segments
  plan_dev_ = static_cast<int32_t*>(allocate(product({6, plan_slots_, 4}, "the plan"), "the step plan"));
  check_cuda(cudaMallocHost(reinterpret_cast<void**>(&plan_host_), product({6, plan_slots_, 4}, "the plan")),
             "cudaMallocHost(plan)");
  upload_done_ = std::make_unique<Event>();
}

CudaBackend::~CudaBackend() {
  if (capturing_) abort_capture();
  (void)cudaStreamSynchronize(stream_);
  drop_graphs();
  if (plan_host_ != nullptr) (void)cudaFreeHost(plan_host_);
  if (table_host_ != nullptr) (void)cudaFreeHost(table_host_);
  if (sample_host_ != nullptr) (void)cudaFreeHost(sample_host_);
}

void* CudaBackend::allocate(size_t bytes, const char* what, bool zero) {
  if (capturing_) fail(kWhere, std::string("internal: allocation of ") + what + " during a graph capture");
  const int64_t b = static_cast<int64_t>(std::max<size_t>(bytes, 1));
  if (opt_.memory_budget_bytes > 0 && used_bytes_ + b > opt_.memory_budget_bytes)
    fail("gpu memory budget", std::string(what) + " needs " + mib(b) + " more, " + mib(used_bytes_) + " of the " +
                                  mib(opt_.memory_budget_bytes) + " budget are in use");
  buffers_.emplace_back(static_cast<size_t>(b));
  used_bytes_ += b;
  void* p = buffers_.back().get();
  if (zero) check_cuda(cudaMemsetAsync(p, 0, static_cast<size_t>(b), stream_), "cudaMemsetAsync");
  return p;
}

backend::Weight CudaBackend::shape_of(const Tensor& t) {
  if (t.empty()) fail(kWhere, "upload of an empty tensor " + t.name);
  backend::Weight w;
  w.dtype = DType::BF16;
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

void CudaBackend::copy_to_device(const Tensor& t, void* dev) {
  const size_t count = static_cast<size_t>(t.numel());
  if (t.dtype == DType::BF16) {
    check_cuda(cudaMemcpy(dev, t.data, count * 2, cudaMemcpyHostToDevice), "cudaMemcpy(weight)");
    // From pageable memory cudaMemcpy may return before its DMA has landed, and the kernels run on stream_, which
    // is not ordered after the legacy stream: wait.
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize(weight)");
    return;
  }
  // F32 / F16 -> bf16 (round to nearest even), in chunks.
  constexpr size_t kChunk = size_t{1} << 22;
  std::vector<uint16_t> buf(std::min(count, kChunk));
  for (size_t i0 = 0; i0 < count; i0 += kChunk) {
    const size_t n = std::min(kChunk, count - i0);
    if (t.dtype == DType::F32) {
      const float* src = static_cast<const float*>(t.data) + i0;
      for (size_t i = 0; i < n; ++i) buf[i] = f32_to_bf16(src[i]);
    } else {
      const uint16_t* src = static_cast<const uint16_t*>(t.data) + i0;
      for (size_t i = 0; i < n; ++i) buf[i] = f32_to_bf16(f16_to_f32(src[i]));
    }
    check_cuda(cudaMemcpy(static_cast<uint16_t*>(dev) + i0, buf.data(), n * 2, cudaMemcpyHostToDevice),
               "cudaMemcpy(weight)");
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize(weight)");
  }
}

backend::Weight CudaBackend::upload(const Tensor& t) {
  backend::Weight w = shape_of(t);
  void* dev = allocate(product({w.rows, w.cols, 2}, "a weight"), "a weight", /*zero=*/false);
  copy_to_device(t, dev);
  w.data = dev;
  // Matrices get their GEMM now: tuning and bit verification happen at start-up, never inside a step.
  if (w.rows > 1) gemm_for(w, DType::F32);
  return w;
}

std::vector<backend::Weight> CudaBackend::upload_group(std::span<const Tensor* const> tensors) {
  std::vector<backend::Weight> out;
  int64_t rows = 0, cols = -1;
  for (const Tensor* t : tensors) {
    out.push_back(shape_of(*t));
    if (cols >= 0 && out.back().cols != cols) fail(kWhere, "upload_group: the tensors differ in width");
    cols = out.back().cols;
    rows += out.back().rows;
  }
  if (out.empty()) return out;
  char* dev = static_cast<char*>(allocate(product({rows, cols, 2}, "a weight group"), "a weight group", false));
  Group g;
  g.rows = rows;
  g.cols = cols;
  size_t offset = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    copy_to_device(*tensors[i], dev + offset);
    out[i].data = dev + offset;
    g.members.push_back(out[i].data);
    offset += static_cast<size_t>(out[i].rows * cols) * 2;
  }
  groups_[dev] = g;
  gemm_for(backend::Weight{dev, DType::BF16, rows, cols}, DType::F32);
  if (rows > group_out_cols_) {
    group_out_cols_ = rows;
    group_out_ = static_cast<float*>(
        allocate(product({opt_.max_rows, rows, 4}, "a weight group's output"), "a weight group's output"));
  }
  return out;
}

void CudaBackend::matmul_group(backend::Act x, std::span<const backend::Weight> w,
                               std::span<const backend::Weight> bias, std::span<const backend::Act> y) {
  if (w.size() != bias.size() || w.size() != y.size() || w.empty())
    fail(kWhere, "matmul_group: one bias and output per weight");
  auto it = groups_.find(w[0].data);
  bool fused = it != groups_.end() && it->second.members.size() == w.size() &&
               w.size() <= static_cast<size_t>(ck::SplitColumnsParams::kMaxParts);
  for (size_t i = 0; fused && i < w.size(); ++i)
    fused = w[i].data == it->second.members[i] && y[i].dtype == DType::F32 && y[i].cols == w[i].rows &&
            (bias[i].empty() || bias[i].cols == w[i].rows);
  if (!fused) {
    for (size_t i = 0; i < w.size(); ++i) matmul(x, w[i], bias[i], y[i], false);
    return;
  }
  const Group& g = it->second;
  const int64_t m = step_rows_;
  (void)plan();
  check_rows(x, m, g.cols, DType::BF16, "matmul_group x");
  for (size_t i = 0; i < w.size(); ++i) check_rows(y[i], m, w[i].rows, DType::F32, "matmul_group y");
  if (m == 0) return;
  Gemm& gemm = gemm_for(backend::Weight{w[0].data, DType::BF16, g.rows, g.cols}, DType::F32);
  ck::SmallMGemmParams fp = fusable(gemm, x.data, w[0].data, group_out_, m);
  // The norm that writes x, still waiting: a scaled norm for this bias-free group (prep_).
  bool scaled = prep_.active && prep_.out == x.data && prep_.rows == m && prep_.cols == g.cols;
  for (size_t i = 0; scaled && i < w.size(); ++i) scaled = bias[i].empty();
  PendingPrep pp;
  if (scaled) {
    pp = prep_;
    prep_.active = false;
  }
  if (!record({.op = kMatmulGroup,
               .p = {x.data, w[0].data, y[0].data, y[w.size() - 1].data},
               .i = static_cast<int64_t>(w.size())}))
    return;
  ck::SplitColumnsParams sp;
  sp.n_parts = static_cast<int>(w.size());
  sp.total = g.rows;
  for (size_t i = 0; i < w.size(); ++i) {
    sp.cols[i] = w[i].rows;
    sp.out[i] = static_cast<float*>(y[i].data);
    sp.bias[i] = bias[i].empty() ? nullptr : bias[i].data;
  }
  const ck::RowScale rs = scaled ? launch_prep_scaled(pp) : ck::RowScale{};
  if (fp.m > 0) {  // waits for its consumer (swiglu may take it as its epilogue)
    gemm_ = {.active = true, .p = fp, .group = true, .sp = sp, .rs = rs};
    return;
  }
  gemm.run(x.data, w[0].data, group_out_, m, stream_);
  pending_ = {.active = true, .sp = sp, .rows = m, .rs = rs};
}

Gemm& CudaBackend::gemm_for(const backend::Weight& w, DType out) {
  const auto key = std::make_tuple(static_cast<const void*>(nullptr), w.rows, w.cols, out);
  auto it = gemms_.find(key);
  if (it != gemms_.end()) return *it->second;
  if (capturing_) fail(kWhere, "internal: GEMM tuning during a graph capture");
  Gemm& g = res_->gemm(w.rows, w.cols, out == DType::F32 ? GemmOut::F32 : GemmOut::BF16, opt_.mode,
                       std::max(opt_.max_rows, opt_.max_logits), opt_.log);
  gemms_.emplace(key, &g);
  return g;
}

backend::Act CudaBackend::alloc(int64_t rows, int64_t cols, backend::ActRole role) {
  if (rows <= 0 || cols <= 0) fail(kWhere, "activation buffers need a positive shape");
  const DType dt = role == backend::ActRole::MatmulIn ? DType::BF16 : DType::F32;
  void* p = allocate(product({rows, cols, static_cast<int64_t>(dtype_size(dt))}, "an activation"), "an activation");
  if (role == backend::ActRole::MatmulOut)
    shadows_[p] = allocate(product({rows, cols, 2}, "an activation"), "a bf16 activation copy");
  if (role == backend::ActRole::Residual && cols % ck::kNormTile == 0 &&
      (rows > norm_ss_rows_ || cols / ck::kNormTile > norm_ss_cols_)) {  // the scaled norms' partials of this stream
    norm_ss_rows_ = std::max(rows, norm_ss_rows_);
    norm_ss_cols_ = std::max(cols / ck::kNormTile, norm_ss_cols_);
    norm_ss_ = static_cast<float*>(allocate(product({norm_ss_rows_, norm_ss_cols_, 4}, "norm partials"),
                                            "the norms' tile partials", /*zero=*/false));
  }
  return backend::Act{p, rows, cols, dt};
}

void* CudaBackend::shadow_of(const void* act) const {
  auto it = shadows_.find(act);
  return it == shadows_.end() ? nullptr : it->second;
}

void CudaBackend::alloc_kv_cache(const backend::KvCacheLayout& l) {
  if (l.n_layers <= 0 || l.num_blocks <= 0 || l.block_size <= 0 || l.n_kv_heads <= 0 || l.head_dim <= 0)
    fail(kWhere, "KV cache layout has a non-positive size");
  if (k_cache_ != nullptr) fail(kWhere, "the KV cache is allocated once");
  if (ck::paged_attention_tile(l.head_dim) == 0)
    fail(kWhere, "head_dim " + std::to_string(l.head_dim) + " has no CUDA attention kernel");
  kv_ = l;
  layer_elems_ = static_cast<int64_t>(product({l.num_blocks + 1, l.n_kv_heads, l.block_size, l.head_dim},
                                              "the KV "
                                              "cache"));
  const size_t bytes = product({layer_elems_, l.n_layers, 2}, "the KV cache");
  k_cache_ = static_cast<__nv_bfloat16*>(allocate(bytes, "the K cache"));
  v_cache_ = static_cast<__nv_bfloat16*>(allocate(bytes, "the V cache"));
  const int64_t capacity = static_cast<int64_t>(l.num_blocks) * l.block_size;
  const int split = attention_split_size(1);
  // The longest sequence's splits; with grown splits (split_min) also a short row's, at most split_target (8).
  max_splits_capacity_ = static_cast<int>((capacity + split - 1) / split);
  if (opt_.split_min > 0)
    max_splits_capacity_ = std::max(max_splits_capacity_, ck::PagedAttentionParams{}.split_target);
}

int CudaBackend::max_kv_blocks(const backend::KvCacheLayout& l, int n_heads) const {
  if (opt_.memory_budget_bytes <= 0) return -1;
  // Per block: K and V of every layer, plus its share of the attention workspace (every row at the longest context:
  // one more split per split_size positions), plus one block of slack for the dummy block and rounding.
  const int64_t kv_bytes = int64_t{2} * l.n_layers * l.block_size * l.n_kv_heads * l.head_dim * 2;
  const int64_t split = (opt_.split_size + l.block_size - 1) / l.block_size * l.block_size;
  const int64_t ws_per_split =
      static_cast<int64_t>(ck::paged_attention_workspace_bytes(opt_.max_rows, n_heads, l.head_dim, 2)) / 2;
  const int64_t per_block = kv_bytes + (ws_per_split * l.block_size + split - 1) / split;
  // The dummy block, two splits (or a short row's split_target with grown splits), sampling buffers.
  const int64_t short_splits = opt_.split_min > 0 ? ck::PagedAttentionParams{}.split_target : 2;
  const int64_t reserve = kv_bytes + short_splits * ws_per_split + (int64_t{64} << 20);
  const int64_t left = opt_.memory_budget_bytes - used_bytes_ - reserve;
  if (left <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(left / per_block, int64_t{1} << 24));
}

int CudaBackend::attention_split_size(int n_rows) const {
  const int bs = kv_.block_size;
  if (opt_.mode == Mode::Fast) return ck::fast_split_size(n_rows, kv_.num_blocks * bs, bs, res_->sm_count());
  return (opt_.split_size + bs - 1) / bs * bs;
}

int CudaBackend::attention_split_min(int split_size) const {
  if (opt_.mode == Mode::Fast || opt_.split_min == 0) return split_size;  // one size (fast: from the batch)
  const int bs = kv_.block_size;
  return std::min((opt_.split_min + bs - 1) / bs * bs, split_size);
}

// ---- ops ------------------------------------------------------------------------------------------------------

void CudaBackend::embed(const backend::Weight& table, backend::Act out) {
  const int64_t n = rows(out, table.cols, DType::F32, "embed out");
  if (!record({.op = kEmbed, .p = {table.data, out.data}})) return;
  const PendingEmbed e{.active = true,
                       .table = table.data,
                       .vocab = table.rows,
                       .dim = table.cols,
                       .rows = n,
                       .out = static_cast<float*>(out.data)};
  if ((opt_.fuse & backend::kFuseEmbed) != 0 && opt_.mode == Mode::Invariant) {
    embed_ = e;  // waits for the norm that reads it (cuda_backend_impl.h: PendingEmbed)
    return;
  }
  launch_embed(e);
}

void CudaBackend::launch_embed(const PendingEmbed& e) {
  ck::embedding(e.table, plan_dev_, e.rows, e.out, {.vocab = e.vocab, .dim = e.dim}, stream_);
  check_launch("embedding");
}

void CudaBackend::rmsnorm(backend::Act x, const backend::Weight& w, float eps, backend::Act out) {
  const int64_t n = rows(x, w.cols, DType::F32, "rmsnorm x");
  check_rows(out, n, w.cols, out.dtype, "rmsnorm out");
  // The embedding that writes x, still waiting (kFuseEmbed): taken before record() would settle it.
  PendingEmbed from_embed;
  if (embed_.active && embed_.out == x.data && embed_.rows == n && embed_.dim == w.cols) {
    from_embed = embed_;
    embed_.active = false;
  }
  if (!record({.op = kRmsnorm, .p = {x.data, w.data, out.data}, .f = eps})) return;
  begin_prep(nullptr, static_cast<const float*>(x.data), w, eps, out, n, PendingGemm{}, from_embed);
}

void CudaBackend::add_rmsnorm(backend::Act residual, backend::Act x, const backend::Weight& w, float eps,
                              backend::Act out) {
  const int64_t n = rows(residual, w.cols, DType::F32, "add_rmsnorm residual");
  check_rows(x, n, w.cols, DType::F32, "add_rmsnorm x");
  check_rows(out, n, w.cols, out.dtype, "add_rmsnorm out");
  // The matmul that wrote x, still pending (fusable(): Mode::Invariant): the add may become its epilogue.
  PendingGemm from_gemm;
  if (gemm_.active && !gemm_.group && gemm_.p.y == x.data && gemm_.p.m == n) {
    from_gemm = gemm_;
    gemm_.active = false;
  }
  if (!record({.op = kAddRmsnorm, .p = {residual.data, x.data, w.data, out.data}, .f = eps})) return;
  begin_prep(static_cast<float*>(residual.data), static_cast<const float*>(x.data), w, eps, out, n, from_gemm,
             PendingEmbed{});
}

void CudaBackend::add(backend::Act residual, backend::Act x) {
  const int64_t n = rows(residual, x.cols, DType::F32, "add residual");
  check_rows(x, n, residual.cols, DType::F32, "add x");
  if (!record({.op = kAdd, .p = {residual.data, x.data}})) return;
  ck::add_inplace(static_cast<float*>(residual.data), static_cast<const float*>(x.data), n * x.cols, stream_);
  check_launch("add");
}

void CudaBackend::matmul(backend::Act x, const backend::Weight& w, const backend::Weight& bias, backend::Act y,
                         bool logit_rows) {
  const int64_t m = logit_rows ? step_logits_ : step_rows_;
  (void)plan();
  check_rows(x, m, w.cols, DType::BF16, "matmul x");
  check_rows(y, m, w.rows, y.dtype, "matmul y");
  if (!bias.empty() && bias.cols != w.rows) fail(kWhere, "matmul bias length differs from the output width");
  if (!bias.empty() && y.dtype != DType::F32) fail(kWhere, "matmul with a bias needs an fp32 output");
  if (m == 0) return;
  Gemm& gemm = gemm_for(w, y.dtype);
  ck::SmallMGemmParams fp = logit_rows || !bias.empty() || y.dtype != DType::F32
                                ? ck::SmallMGemmParams{}
                                : fusable(gemm, x.data, w.data, y.data, m);
  if (!record({.op = kMatmul, .p = {x.data, w.data, bias.data, y.data}, .i = logit_rows ? 1 : 0})) return;
  if (fp.m > 0 && (opt_.fuse & (backend::kFuseResidual | backend::kFuseNorm)) != 0) {  // an add_rmsnorm may take it
    gemm_ = {.active = true, .p = fp, .group = false, .sp = {}, .rs = {}};
    return;
  }
  gemm.run(x.data, w.data, y.data, m, stream_);
  if (!bias.empty()) {
    ck::add_bias(static_cast<float*>(y.data), bias.data, m, w.rows, stream_);
    check_launch("add_bias");
  }
}

void CudaBackend::head_rmsnorm(backend::Act x, const backend::Weight& w, float eps) {
  const int64_t n = rows(x, x.cols, DType::F32, "head_rmsnorm x");
  if (x.cols % w.cols != 0) fail(kWhere, "head_rmsnorm: row width is not a multiple of the head size");
  if (!record({.op = kHeadNorm, .p = {x.data, w.data}, .f = eps})) return;
  ck::head_rmsnorm(static_cast<float*>(x.data), w.data, n, {.n_heads = x.cols / w.cols, .head_dim = w.cols, .eps = eps},
                   stream_);
  check_launch("head_rmsnorm");
}

void CudaBackend::rope(backend::Act x, int head_dim, const float* inv_freq) {
  const int64_t n = rows(x, x.cols, DType::F32, "rope x");
  if (head_dim <= 0 || head_dim % 2 != 0 || x.cols % head_dim != 0)
    fail(kWhere, "rope: head_dim must be even and divide the row width");
  void* shadow = shadow_of(x.data);
  if (shadow != nullptr) fresh_shadows_.insert(x.data);
  if (!record({.op = kRope, .p = {x.data, inv_freq}, .i = head_dim})) return;
  ck::rope(static_cast<float*>(x.data), plan_dev_ + plan_slots_, n,
           static_cast<const float*>(device_inv_freq(inv_freq, head_dim)),
           {.n_heads = static_cast<int>(x.cols / head_dim), .head_dim = head_dim}, shadow, stream_);
  check_launch("rope");
}

const void* CudaBackend::device_inv_freq(const float* host, int head_dim) {
  auto it = inv_freq_.find(host);
  if (it == inv_freq_.end()) {
    void* d = allocate(static_cast<size_t>(head_dim / 2) * 4, "RoPE frequencies", /*zero=*/false);
    check_cuda(cudaMemcpy(d, host, static_cast<size_t>(head_dim / 2) * 4, cudaMemcpyHostToDevice),
               "cudaMemcpy(inv_freq)");
    // A cudaMemcpy from pageable memory may return before its DMA has landed, and stream_ (non-blocking) is not
    // ordered after the legacy stream: wait, so that the kernel about to read it on stream_ sees it.
    check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize(inv_freq)");
    it = inv_freq_.emplace(host, d).first;
  }
  return it->second;
}

void CudaBackend::attention_inputs(int layer, backend::Act q, backend::Act k, backend::Act v,
                                   const backend::Weight& q_norm, const backend::Weight& k_norm, float eps,
                                   int head_dim, const float* inv_freq) {
  if (k_cache_ == nullptr || layer < 0 || layer >= kv_.n_layers)
    fail(kWhere, "layer " + std::to_string(layer) + " has no cache");
  launch_pending_gemm();  // a q/k/v group GEMM still waiting: its split is then pending, for the check below
  if (head_dim != kv_.head_dim || head_dim > 256 || q.cols % head_dim != 0 ||
      (!q_norm.empty() && q_norm.cols != head_dim) || (!k_norm.empty() && k_norm.cols != head_dim)) {
    settle();
    Backend::attention_inputs(layer, q, k, v, q_norm, k_norm, eps, head_dim, inv_freq);  // the separate ops
    return;
  }
  const int64_t kv_width = static_cast<int64_t>(kv_.n_kv_heads) * kv_.head_dim;
  const int64_t n = rows(q, q.cols, DType::F32, "attention_inputs q");
  check_rows(k, n, kv_width, DType::F32, "attention_inputs k");
  check_rows(v, n, kv_width, DType::F32, "attention_inputs v");
  void* shadow = shadow_of(q.data);
  if (shadow == nullptr) fail(kWhere, "attention_inputs: q is not a matmul output buffer");
  fresh_shadows_.insert(q.data);
  // Straight from the stacked q/k/v GEMM when its split is pending for exactly these buffers.
  const bool from_group = pending_.active && pending_.sp.n_parts == 3 && pending_.sp.out[0] == q.data &&
                          pending_.sp.out[1] == k.data && pending_.sp.out[2] == v.data;
  const PendingSplit pending = pending_;
  if (from_group) {
    pending_.active = false;  // consumed here, never materialized
  } else {
    settle();
  }
  if (!record({.op = kAttentionInputs, .p = {q.data, k.data, v.data, q_norm.data}, .i = layer, .f = eps})) return;
  ck::AttentionInputsParams p;
  if (from_group) {
    const ck::SplitColumnsParams& sp = pending.sp;
    p.q = group_out_;
    p.k = group_out_ + sp.cols[0];
    p.v = group_out_ + sp.cols[0] + sp.cols[1];
    p.q_ld = p.k_ld = p.v_ld = sp.total;
    p.q_bias = sp.bias[0];
    p.k_bias = sp.bias[1];
    p.v_bias = sp.bias[2];
    p.scale = pending.rs;
  } else {
    p.q = static_cast<const float*>(q.data);
    p.k = static_cast<const float*>(k.data);
    p.v = static_cast<const float*>(v.data);
    p.q_ld = q.cols;
    p.k_ld = p.v_ld = kv_width;
  }
  p.q_norm = q_norm.empty() ? nullptr : q_norm.data;
  p.k_norm = k_norm.empty() ? nullptr : k_norm.data;
  p.eps = eps;
  p.inv_freq = static_cast<const float*>(device_inv_freq(inv_freq, head_dim));
  p.positions = plan_dev_ + plan_slots_;
  p.row_block = plan_dev_ + 4 * plan_slots_;
  p.n_heads = static_cast<int>(q.cols / head_dim);
  p.n_kv_heads = kv_.n_kv_heads;
  p.head_dim = head_dim;
  p.block_size = kv_.block_size;
  p.q_out = static_cast<float*>(q.data);
  p.q_bf16 = shadow;
  p.k_cache = k_cache_ + layer * layer_elems_;
  p.v_cache = v_cache_ + layer * layer_elems_;
  if ((opt_.fuse & backend::kFuseAttention) != 0 && step_rows_per_seq_ == 1 && n <= kAttentionFuseMaxRows) {
    inputs_ = {.active = true, .p = p, .rows = n, .q = q.data};
    return;
  }
  ck::attention_inputs(p, n, stream_);
  check_launch("attention_inputs");
}

void CudaBackend::kv_write(int layer, backend::Act k, backend::Act v) {
  if (k_cache_ == nullptr || layer < 0 || layer >= kv_.n_layers)
    fail(kWhere, "layer " + std::to_string(layer) + " has no cache");
  const int64_t width = static_cast<int64_t>(kv_.n_kv_heads) * kv_.head_dim;
  const int64_t n = rows(k, width, DType::F32, "kv_write k");
  check_rows(v, n, width, DType::F32, "kv_write v");
  if (!record({.op = kKvWrite, .p = {k.data, v.data}, .i = layer})) return;
  ck::kv_write(static_cast<const float*>(k.data), static_cast<const float*>(v.data), plan_dev_ + 4 * plan_slots_,
               plan_dev_ + plan_slots_, n, k_cache_ + layer * layer_elems_, v_cache_ + layer * layer_elems_,
               {.n_kv_heads = kv_.n_kv_heads, .head_dim = kv_.head_dim, .block_size = kv_.block_size}, stream_);
  check_launch("kv_write");
}

void CudaBackend::attention(int layer, backend::Act q, int n_heads, backend::Act out) {
  if (k_cache_ == nullptr || layer < 0 || layer >= kv_.n_layers)
    fail(kWhere, "layer " + std::to_string(layer) + " has no cache");
  if (n_heads <= 0 || n_heads % kv_.n_kv_heads != 0)
    fail(kWhere, "attention: n_heads is not a multiple of the cache's KV heads");
  const int64_t width = static_cast<int64_t>(n_heads) * kv_.head_dim;
  const int64_t n = rows(q, width, DType::F32, "attention q");
  check_rows(out, n, width, DType::BF16, "attention out");
  if (fresh_shadows_.count(q.data) == 0) fail(kWhere, "attention: q was not rotated by rope in this step");
  if (attn_workspace_ == nullptr) {
    // Sized once for the worst step: every row at the longest context the cache holds.
    attn_workspace_bytes_ =
        std::max<size_t>(ck::paged_attention_workspace_bytes(std::max(opt_.max_rows, 1), n_heads, kv_.head_dim,
                                                             std::max(max_splits_capacity_, 2)),
                         256);
    attn_workspace_ = allocate(attn_workspace_bytes_, "the attention workspace", /*zero=*/false);
  }
  if (ck::paged_attention_workspace_bytes(static_cast<int>(n), n_heads, kv_.head_dim, step_max_splits_) >
      attn_workspace_bytes_)
    fail(kWhere, "attention workspace too small for this step (n_heads changed?)");
  ck::PagedAttentionParams p;
  p.q = static_cast<const __nv_bfloat16*>(shadow_of(q.data));
  p.out = static_cast<__nv_bfloat16*>(out.data);
  p.k_cache = k_cache_ + layer * layer_elems_;
  p.v_cache = v_cache_ + layer * layer_elems_;
  p.positions = plan_dev_ + plan_slots_;
  p.row_seq = plan_dev_ + 2 * plan_slots_;
  p.seq_table_begin = plan_dev_ + 5 * plan_slots_;
  p.block_table = table_dev_;
  p.n_rows = static_cast<int>(n);
  p.n_heads = n_heads;
  p.n_kv_heads = kv_.n_kv_heads;
  p.head_dim = kv_.head_dim;
  p.block_size = kv_.block_size;
  p.scale = 1.0f / std::sqrt(static_cast<float>(kv_.head_dim));
  p.split_size = step_split_size_;
  p.split_min = step_split_min_;
  p.max_splits = step_max_splits_;
  p.workspace = static_cast<float*>(attn_workspace_);
  p.rows_per_seq_hint = step_rows_per_seq_;
  // The attention_inputs that rotated q, still waiting (kFuseAttention): taken into this launch where it serves them.
  const bool fuse_inputs =
      inputs_.active && inputs_.q == q.data && inputs_.rows == n && ck::paged_attention_fuses_inputs(p, inputs_.p);
  if (fuse_inputs) inputs_.active = false;
  if (!record({.op = kAttention, .p = {q.data, out.data}, .i = layer * 4096 + n_heads})) return;
  if (fuse_inputs) {
    ck::paged_attention_with_inputs(p, inputs_.p, stream_);
    ++fused_attention_launches_;
  } else {
    ck::paged_attention(p, stream_);
  }
  check_launch("paged_attention");
}

void CudaBackend::swiglu(backend::Act gate, backend::Act up, backend::Act out) {
  const int64_t n = rows(gate, gate.cols, DType::F32, "swiglu gate");
  check_rows(up, n, gate.cols, DType::F32, "swiglu up");
  check_rows(out, n, gate.cols, out.dtype, "swiglu out");
  // The gate/up group GEMM still waiting for exactly these buffers: SwiGLU becomes its epilogue.
  ck::SmallMGemmParams gp = gemm_.p;
  gp.swiglu_out = out.data;
  gp.row_ss = gemm_.rs.ss;
  gp.row_n = gemm_.rs.n;
  gp.row_eps = gemm_.rs.eps;
  const bool epilogue = (opt_.fuse & backend::kFuseSwiglu) != 0 && gemm_.active && gemm_.group &&
                        gemm_.sp.n_parts == 2 && gemm_.sp.out[0] == gate.data && gemm_.sp.out[1] == up.data &&
                        gemm_.sp.bias[0] == nullptr && gemm_.sp.bias[1] == nullptr && gemm_.sp.cols[0] == gate.cols &&
                        gemm_.sp.cols[1] == gate.cols && gemm_.p.m == n && n <= kSwigluFuseMaxM &&
                        out.dtype == DType::BF16 && ck::gemm_small_m_supported(gp);
  if (epilogue) {
    gemm_.active = false;
    if (!record({.op = kSwiglu, .p = {gate.data, up.data, out.data}})) return;
    launch_small_m(gp);
    return;
  }
  launch_pending_gemm();  // its split is then pending, for the check below
  const bool from_group = pending_.active && pending_.sp.n_parts == 2 && pending_.sp.out[0] == gate.data &&
                          pending_.sp.out[1] == up.data && pending_.sp.bias[0] == nullptr &&
                          pending_.sp.bias[1] == nullptr && pending_.sp.cols[0] == gate.cols &&
                          pending_.sp.cols[1] == gate.cols;
  const int64_t ld = pending_.sp.total;
  const ck::RowScale rs = pending_.rs;
  if (from_group) {
    pending_.active = false;  // consumed here, never materialized
  } else {
    settle();
  }
  if (!record({.op = kSwiglu, .p = {gate.data, up.data, out.data}})) return;
  if (from_group) {
    ck::swiglu_rows(group_out_, group_out_ + gate.cols, ld, n, gate.cols, out.data, out.dtype, stream_, rs);
    check_launch("swiglu_rows");
    return;
  }
  ck::swiglu(static_cast<const float*>(gate.data), static_cast<const float*>(up.data), out.data, out.dtype,
             n * gate.cols, stream_);
  check_launch("swiglu");
}

void CudaBackend::gather_logit_rows(backend::Act x, backend::Act out) {
  rows(x, out.cols, x.dtype, "gather_logit_rows x");
  check_rows(out, step_logits_, x.cols, x.dtype, "gather_logit_rows out");
  if ((x.cols * static_cast<int64_t>(dtype_size(x.dtype))) % 4 != 0)
    fail(kWhere, "gather_logit_rows: rows must be a multiple of 4 bytes");
  if (!record({.op = kGather, .p = {x.data, out.data}})) return;
  ck::gather_rows(x.data, plan_dev_ + 3 * plan_slots_, step_logits_, x.cols * static_cast<int64_t>(dtype_size(x.dtype)),
                  out.data, stream_);
  check_launch("gather_rows");
}

void CudaBackend::read_logits(backend::Act x, float* host) {
  const int64_t n = plan().n_logits();
  check_rows(x, n, x.cols, DType::F32, "read_logits x");
  flush();
  if (n == 0) return;
  check_cuda(
      cudaMemcpyAsync(host, x.data, static_cast<size_t>(n * x.cols) * sizeof(float), cudaMemcpyDeviceToHost, stream_),
      "cudaMemcpyAsync(logits)");
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

// ---- checks -----------------------------------------------------------------------------------------------------

const StepPlan& CudaBackend::plan() const {
  if (plan_ == nullptr) fail(kWhere, "op called outside begin_step / end_step");
  return *plan_;
}

void CudaBackend::check_rows(backend::Act a, int64_t n, int64_t cols, DType dtype, const char* what) const {
  if (a.data == nullptr || a.cols != cols || n > a.rows || a.dtype != dtype)
    fail(kWhere, std::string(what) + ": buffer [" + std::to_string(a.rows) + ", " + std::to_string(a.cols) + "] " +
                     dtype_name(a.dtype) + " cannot hold " + std::to_string(n) + " rows of " + std::to_string(cols) +
                     " " + dtype_name(dtype));
}

int64_t CudaBackend::rows(backend::Act a, int64_t cols, DType dtype, const char* what) const {
  (void)plan();
  check_rows(a, step_rows_, cols, dtype, what);
  return step_rows_;
}

}  // namespace verbatim::cuda

namespace verbatim::backend {

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options);
}

}  // namespace verbatim::backend

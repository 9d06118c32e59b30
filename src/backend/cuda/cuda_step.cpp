// The CUDA backend's step: the plan's upload (a kernel's fetch from pinned staging), and CUDA graphs for decode-only
// steps (cuda_backend.h).
//
// A graph is captured the first time a (rows bucket, attention split size, split bound) key is seen, after at least
// one eager step (so that every lazy allocation and GEMM tuning is done: nothing in a capture allocates). While
// capturing, every op records its signature (op, buffers, scalars); a replay launches the graph in begin_step, right
// behind the plan's upload, and then checks that the forward pass calls the same ops on the same buffers in the same
// order and enqueues nothing (by the first point where results leave the device, read_logits or sample, or at
// end_step): the GPU runs the step while the host walks the model (docs/performance.md, 2026-12-04: +0.3-0.5%). The
// plan's data always reaches fixed device buffers before the graph runs (fetch_words.cuh: one plain launch reading
// the pinned staging, not copy-engine transfers, docs/performance.md 2026-12-04), so one graph serves every step of
// its key. A fed row's token (async scheduling) reaches its buffer the same way, from the sampling of the step before
// (fetch_words.cuh), so a fed step replays the same graph.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "backend/cuda/cuda_backend_impl.h"
#include "kernels/cuda/fetch_words.cuh"
#include "kernels/cuda/paged_attention.cuh"

namespace verbatim::cuda {
namespace {

constexpr const char* kWhere = "cuda backend";
constexpr int64_t kMaxGraphRows = 64;

int64_t bucket_of(int64_t n) {
  int64_t b = 1;
  while (b < n) b *= 2;
  return b;
}

}  // namespace

bool CudaBackend::OpSig::operator==(const OpSig& o) const {
  return op == o.op && std::equal(p, p + 4, o.p) && i == o.i && std::memcmp(&f, &o.f, sizeof f) == 0;
}

void CudaBackend::drop_graphs() {
  for (auto& [key, g] : graphs_)
    if (g.exec != nullptr) (void)cudaGraphExecDestroy(g.exec);
  graphs_.clear();
  graph_ = nullptr;
}

void CudaBackend::abort_capture() {
  cudaGraph_t g = nullptr;
  (void)cudaStreamEndCapture(stream_, &g);
  if (g != nullptr) (void)cudaGraphDestroy(g);
  (void)cudaGetLastError();
  capturing_ = false;
  if (graph_ != nullptr) {
    for (auto it = graphs_.begin(); it != graphs_.end(); ++it)
      if (&it->second == graph_) {
        graphs_.erase(it);
        break;
      }
  }
  graph_ = nullptr;
}

void CudaBackend::begin_step(const StepPlan& plan) {
  if (k_cache_ == nullptr) fail(kWhere, "begin_step before alloc_kv_cache");
  // The calling thread's device (a server may step the engine from another thread than the one that made it).
  check_cuda(cudaSetDevice(opt_.device), "cudaSetDevice");
  if (capturing_) abort_capture();  // an error ended the previous step inside a capture
  const int n = plan.n_rows();
  const int nl = plan.n_logits();
  const int ns = static_cast<int>(plan.seqs.size());
  if (n > opt_.max_rows)
    fail(kWhere, "step of " + std::to_string(n) + " rows: more than max_rows " + std::to_string(opt_.max_rows) +
                     " (the verified GEMM range)");
  if (nl > opt_.max_logits)
    fail(kWhere, "step of " + std::to_string(nl) + " logit rows: more than " + std::to_string(opt_.max_logits));

  // Decode-only (every sequence one row, every row with logits): a graph of the padded bucket.
  bool decode_only = n > 0 && nl == n && ns == n;
  int rows_per_seq = 0;
  for (const StepPlan::Seq& s : plan.seqs) {
    rows_per_seq = std::max(rows_per_seq, s.n_rows);
    if (s.n_rows != 1) decode_only = false;
  }
  const int64_t graph_limit = std::min<int64_t>({kMaxGraphRows, opt_.max_rows, opt_.max_logits});
  const bool use_graph = opt_.graphs && warmed_up_ && decode_only && n <= graph_limit;
  const int64_t rows_b = use_graph ? bucket_of(n) : n;
  const int64_t logits_b = use_graph ? rows_b : nl;

  // Host staging (pinned): wait until the previous upload has left it.
  check_cuda(cudaEventSynchronize(upload_done_->get()), "cudaEventSynchronize");
  int32_t* tokens = plan_host_;
  int32_t* positions = plan_host_ + plan_slots_;
  int32_t* row_seq = plan_host_ + 2 * plan_slots_;
  int32_t* logit_rows = plan_host_ + 3 * plan_slots_;
  int32_t* row_block = plan_host_ + 4 * plan_slots_;
  int32_t* seq_begin = plan_host_ + 5 * plan_slots_;
  const int32_t dummy_block = kv_.num_blocks;
  const int64_t table_len = static_cast<int64_t>(plan.block_table.size());
  // Fed rows (async scheduling) are staged as -(result + 1): fetch_words puts the token the latest sample_async wrote
  // to feed_dev_ there, on the device, so the host never waits for it.
  const bool fed = plan.has_fed();
  if (fed && feed_n_ == 0) fail(kWhere, "a fed step plan with no sample_async before it");
  for (int r = 0; r < n; ++r) {
    const StepPlan::Seq& s = plan.seqs[plan.row_seq[r]];
    tokens[r] = plan.tokens[r];
    if (fed && plan.fed[r] >= 0) {
      if (plan.fed[r] >= feed_n_)
        fail(kWhere, "fed row " + std::to_string(r) + " names result " + std::to_string(plan.fed[r]) + " of " +
                         std::to_string(feed_n_));
      tokens[r] = -(plan.fed[r] + 1);
    }
    positions[r] = plan.positions[r];
    row_seq[r] = plan.row_seq[r];
    row_block[r] = plan.block_table[s.table_begin + plan.positions[r] / kv_.block_size];
  }
  for (int64_t r = n; r < rows_b; ++r) {  // padding rows: token 0 at position 0 of the dummy sequence
    tokens[r] = 0;
    positions[r] = 0;
    row_seq[r] = ns;
    row_block[r] = dummy_block;
  }
  for (int i = 0; i < nl; ++i) logit_rows[i] = plan.logit_rows[i];
  for (int64_t i = nl; i < logits_b; ++i) logit_rows[i] = static_cast<int32_t>(i);
  for (int s = 0; s < ns; ++s) seq_begin[s] = plan.seqs[s].table_begin;
  seq_begin[ns] = static_cast<int32_t>(table_len);  // the dummy sequence: one entry, the dummy block

  if (table_len + 1 > table_cap_) {
    // Grow the block table (the graphs hold its old address: drop them).
    check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    drop_graphs();
    table_cap_ = (std::max<int64_t>(2 * table_cap_, std::max<int64_t>(table_len + 1, 1024)) + 3) / 4 * 4;
    table_dev_ = static_cast<int32_t*>(allocate(static_cast<size_t>(table_cap_) * 4, "the block table"));
    if (table_host_ != nullptr) check_cuda(cudaFreeHost(table_host_), "cudaFreeHost(block table)");
    table_host_ = nullptr;
    check_cuda(cudaMallocHost(reinterpret_cast<void**>(&table_host_), static_cast<size_t>(table_cap_) * 4),
               "cudaMallocHost(block table)");
  }
  std::copy(plan.block_table.begin(), plan.block_table.end(), table_host_);
  table_host_[table_len] = dummy_block;
  // One launch moves what the step's kernels read (fetch_words.cuh): the used part of each plan segment and the
  // table. A plain launch: it starts once every earlier kernel has finished with the previous plan.
  const int64_t used = std::max<int64_t>({rows_b, logits_b, ns + 1});
  cuda_kernels::fetch_words({.src = plan_host_,
                             .dst = plan_dev_,
                             .segments = 6,
                             .seg_vecs = (used + 3) / 4,
                             .stride_vecs = plan_slots_ / 4,
                             .tail_src = table_host_,
                             .tail_dst = table_dev_,
                             .tail_vecs = (table_len + 1 + 3) / 4,
                             .feed = fed ? feed_dev_ : nullptr,
                             .feed_n = fed ? feed_n_ : 0},
                            stream_);
  upload_done_->record(stream_);

  plan_ = &plan;
  step_rows_ = rows_b;
  step_logits_ = logits_b;
  step_rows_per_seq_ = use_graph ? 1 : rows_per_seq;
  step_split_size_ = attention_split_size(static_cast<int>(n));
  step_split_min_ = attention_split_min(step_split_size_);
  const int split_target = cuda_kernels::PagedAttentionParams{}.split_target;
  // The most splits of any row (not monotone in the position: a row's split size grows with it).
  int needed = 1;
  for (int64_t r = 0; r < n; ++r)
    needed = std::max(needed, cuda_kernels::paged_attention_splits(plan.positions[r], step_split_size_, step_split_min_,
                                                                   split_target));
  if (use_graph) {
    int bound = 1;
    while (bound < needed) bound *= 2;
    step_max_splits_ = std::min(bound, std::max(max_splits_capacity_, needed));
  } else {
    step_max_splits_ = needed;
  }
  fresh_shadows_.clear();
  pending_.active = false;
  embed_.active = false;

  step_mode_ = StepMode::Eager;
  graph_ = nullptr;
  if (use_graph) {
    const auto key = std::make_tuple(rows_b, step_split_size_, step_max_splits_);
    auto it = graphs_.find(key);
    if (it != graphs_.end()) {
      graph_ = &it->second;
      replay_cursor_ = 0;
      step_mode_ = StepMode::Replay;
      // Launched now, behind the plan's upload: the GPU runs the step while the host walks the model's ops, which
      // replay only checks against the captured ones (record()). A step that calls other ops fails loudly there; the
      // graph then wrote only this step's own outputs and KV positions, and no result of the failed step is returned.
      check_cuda(cudaGraphLaunch(graph_->exec, stream_), "cudaGraphLaunch");
      ++graph_replays_;
    } else {
      graph_ = &graphs_[key];
      check_cuda(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
      capturing_ = true;
      step_mode_ = StepMode::Capture;
    }
  }
}

bool CudaBackend::record(const OpSig& sig) {
  if (step_mode_ == StepMode::Eager || step_mode_ == StepMode::Capture) settle();  // a deferred split goes first
  switch (step_mode_) {
    case StepMode::Eager:
      return true;
    case StepMode::Capture:
      graph_->ops.push_back(sig);
      return true;
    case StepMode::Replay:
      if (replay_cursor_ >= graph_->ops.size() || !(graph_->ops[replay_cursor_] == sig))
        fail(kWhere, "graph replay: the step calls op " + std::to_string(sig.op) + " where the captured graph has " +
                         (replay_cursor_ < graph_->ops.size() ? "op " + std::to_string(graph_->ops[replay_cursor_].op)
                                                              : std::string("no more ops")));
      ++replay_cursor_;
      return false;
    case StepMode::None:
      break;
  }
  fail(kWhere, "op called outside begin_step / end_step");
}

void CudaBackend::flush() {
  if (step_mode_ == StepMode::Eager || step_mode_ == StepMode::Capture) settle();
  if (step_mode_ == StepMode::Capture) {
    cudaGraph_t g = nullptr;
    capturing_ = false;
    check_cuda(cudaStreamEndCapture(stream_, &g), "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
    (void)cudaGraphDestroy(g);
    check_cuda(e, "cudaGraphInstantiate");
    graph_->exec = exec;
    ++graph_captures_;
    if (opt_.log)
      std::fprintf(stderr, "cuda backend: captured a decode graph of %lld rows, %d splits of %d (%zu ops)\n",
                   static_cast<long long>(step_rows_), step_max_splits_, step_split_size_, graph_->ops.size());
    check_cuda(cudaGraphLaunch(exec, stream_), "cudaGraphLaunch");
  } else if (step_mode_ == StepMode::Replay) {
    if (replay_cursor_ != graph_->ops.size())
      fail(kWhere, "graph replay: the step ended after " + std::to_string(replay_cursor_) + " of the graph's " +
                       std::to_string(graph_->ops.size()) + " ops");
  } else if (step_mode_ == StepMode::Eager) {
    warmed_up_ = true;
  }
  step_mode_ = StepMode::None;
}

void CudaBackend::end_step() {
  if (step_mode_ != StepMode::None) flush();
  plan_ = nullptr;
}

}  // namespace verbatim::cuda

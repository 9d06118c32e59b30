// The CUDA backend's deferred ops (cuda_backend_impl.h: PendingGemm, PendingSplit, PendingInputs, PendingPrep): which
// small-M GEMMs take the short kernels around them as epilogues, the scaled and plain norms, and settle(), which
// launches whatever still waits. See cuda_backend.cpp for the ops that set them.
#include "backend/cuda/cuda_backend_impl.h"
#include "kernels/cuda/attention_inputs.cuh"
#include "kernels/cuda/rms_prep.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/split_columns.cuh"

namespace verbatim::cuda {
namespace {
namespace ck = cuda_kernels;
}  // namespace

ck::SmallMGemmParams CudaBackend::fusable(Gemm& g, const void* x, const void* w, void* y, int64_t m) const {
  ck::SmallMGemmParams p{.x = x, .w = w, .y = y, .m = m, .n = g.n(), .k = g.k(), .out_f32 = g.out() == GemmOut::F32};
  if (opt_.fuse == 0 || opt_.mode != Mode::Invariant || m < 1 || m > ck::kSmallMMaxM || !g.own_kernel_at(m) ||
      g.k() % 64 != 0 || !ck::gemm_small_m_supported(p))
    p.m = 0;
  return p;
}

void CudaBackend::launch_small_m(const ck::SmallMGemmParams& p) {
  ck::gemm_small_m(p, stream_);
  check_launch("gemm_small_m (fused)");
  if (p.residual != nullptr || p.swiglu_out != nullptr) ++fused_launches_;
}

void CudaBackend::launch_pending_gemm() {
  if (!gemm_.active) return;
  gemm_.active = false;
  launch_small_m(gemm_.p);
  if (gemm_.group) pending_ = {.active = true, .sp = gemm_.sp, .rows = gemm_.p.m, .rs = gemm_.rs};
}

void CudaBackend::settle() {
  if (embed_.active) {
    embed_.active = false;
    launch_embed(embed_);
  }
  if (prep_.active) launch_prep_plain();
  if (inputs_.active) {
    inputs_.active = false;
    ck::attention_inputs(inputs_.p, inputs_.rows, stream_);
    check_launch("attention_inputs");
  }
  launch_pending_gemm();
  if (!pending_.active) return;
  pending_.active = false;
  ck::split_columns(group_out_, pending_.rows, pending_.sp, stream_, pending_.rs);
  check_launch("split_columns");
}

void CudaBackend::begin_prep(float* residual, const float* x, const backend::Weight& w, float eps, backend::Act out,
                             int64_t rows, const PendingGemm& gemm, const PendingEmbed& embed) {
  prep_ = {.active = true,
           .residual = residual,
           .x = x,
           .w = w.data,
           .eps = eps,
           .out = out.data,
           .out_dtype = out.dtype,
           .rows = rows,
           .cols = w.cols,
           .gemm = gemm,
           .embed = embed};
  const PendingPrep& pp = prep_;
  const bool can_wait = opt_.mode == Mode::Invariant && pp.out_dtype == DType::BF16 && pp.cols > 0 &&
                        pp.cols % ck::kNormTile == 0 && pp.rows <= norm_ss_rows_ &&
                        pp.cols / ck::kNormTile <= norm_ss_cols_ && pp.rows <= 65535;
  if (!can_wait) launch_prep_plain();  // the plain norm now
}

void CudaBackend::launch_prep_plain() {
  const PendingPrep pp = prep_;
  prep_.active = false;
  if (pp.embed.active) launch_embed(pp.embed);  // the norm's input first
  const DType out = pp.out_dtype;
  if (pp.gemm.active) {
    ck::SmallMGemmParams gp = pp.gemm.p;
    gp.residual = pp.residual;
    if (pp.residual != nullptr && (opt_.fuse & backend::kFuseResidual) != 0 && ck::gemm_small_m_supported(gp)) {
      launch_small_m(gp);  // the add as its epilogue; then the norm of the new residual alone
      ck::add_rmsnorm(nullptr, pp.residual, pp.w, pp.out, out, pp.rows, {.n = pp.cols, .eps = pp.eps}, stream_);
      check_launch("rmsnorm");
      return;
    }
    launch_small_m(pp.gemm.p);
  }
  ck::add_rmsnorm(pp.residual, pp.x, pp.w, pp.out, out, pp.rows, {.n = pp.cols, .eps = pp.eps}, stream_);
  check_launch("add_rmsnorm");
}

ck::RowScale CudaBackend::launch_prep_scaled(const PendingPrep& pp) {
  const ck::RowScale rs{.ss = norm_ss_, .n = pp.cols, .eps = pp.eps};
  if (pp.embed.active) {  // layer 0's norm: the rows gathered from the table, the embedding's output written too
    ck::rms_prep({.w = pp.w,
                  .u = pp.out,
                  .ss = norm_ss_,
                  .n = pp.cols,
                  .table = pp.embed.table,
                  .tokens = plan_dev_,
                  .vocab = pp.embed.vocab,
                  .x_out = pp.embed.out},
                 pp.rows, stream_);
    check_launch("rms_prep (embedding)");
    ++fused_embedding_launches_;
    return rs;
  }
  if (pp.gemm.active) {
    ck::SmallMGemmParams gp = pp.gemm.p;
    gp.residual = pp.residual;
    gp.prep_w = pp.w;
    gp.prep_out = pp.out;
    gp.prep_ss = norm_ss_;
    if (pp.residual != nullptr && (opt_.fuse & backend::kFuseNorm) != 0 && ck::gemm_small_m_supported(gp)) {
      launch_small_m(gp);  // the add, U and the tile partials as its epilogue
      return rs;
    }
    launch_small_m(pp.gemm.p);
  }
  ck::rms_prep({.residual = pp.residual, .x = pp.x, .w = pp.w, .u = pp.out, .ss = norm_ss_, .n = pp.cols}, pp.rows,
               stream_);
  check_launch("rms_prep");
  return rs;
}

}  // namespace verbatim::cuda

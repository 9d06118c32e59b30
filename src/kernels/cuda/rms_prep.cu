#include <string>

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rms_prep.cuh"
#include "kernels/cuda/row_math.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kTilesPerPass = kThreads / 8;  // 8 lanes per tile
constexpr int kPasses = 8;  // passes whose loads go out together: rows of up to 4096 columns in one round

__global__ void __launch_bounds__(kThreads) rms_prep_kernel(RmsPrepParams p) {
  pdl_allow_dependents();  // pdl.cuh: the next kernel may start
  const int64_t r = blockIdx.x, tiles = p.n / kNormTile;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int g = lane & 7;
  const auto* w = static_cast<const __nv_bfloat16*>(p.w);
  auto* u = static_cast<__nv_bfloat16*>(p.u) + r * p.n;
  float* res = p.residual != nullptr ? p.residual + r * p.n : nullptr;
  const float* x = p.x != nullptr ? p.x + r * p.n : nullptr;
  const bool add = res != nullptr && x != nullptr;
  const float* src = res != nullptr ? res : x;
  // Gather: the row is the embedding of the row's token (tokens come from the step plan, which no kernel of the step
  // writes); out-of-range tokens give zeros, as the embedding kernel.
  const __nv_bfloat16* trow = nullptr;
  float* xo = nullptr;
  if (p.table != nullptr) {
    const int32_t tok = p.tokens[r];
    if (tok >= 0 && tok < p.vocab) trow = static_cast<const __nv_bfloat16*>(p.table) + static_cast<int64_t>(tok) * p.n;
    xo = p.x_out + r * p.n;
  }
  auto load_h = [&](int64_t c) {
    if (p.table != nullptr) return trow != nullptr ? __bfloat162float(trow[c]) : 0.0f;
    return src[c];
  };
  // Pass q of a round: tile t = t0 + 32 q + lane / 8 of warp w (t0 = 4 w + round), pair g = lane % 8 of it.
  auto tile_of = [&](int64_t t0, int q) { return t0 + int64_t{kTilesPerPass} * q + lane / 8; };
  // The norm weight of the first round, which no kernel writes, before the wait.
  float w0[kPasses], w1[kPasses];
#pragma unroll
  for (int q = 0; q < kPasses; ++q) {
    const int64_t t = tile_of(4 * warp, q);
    w0[q] = t < tiles ? __bfloat162float(w[kNormTile * t + g]) : 0.0f;
    w1[q] = t < tiles ? __bfloat162float(w[kNormTile * t + g + 8]) : 0.0f;
  }
  pdl_wait();  // everything the kernels ahead wrote is visible now
  // Whole warps iterate together (the butterfly's shuffles); lanes past the row's tiles square zeros.
  for (int64_t t0 = 4 * warp; t0 < tiles; t0 += int64_t{kPasses} * kTilesPerPass) {
    float h0[kPasses], h1[kPasses], x0[kPasses], x1[kPasses];
#pragma unroll
    for (int q = 0; q < kPasses; ++q) {  // every load of the round first
      const int64_t t = tile_of(t0, q), c0 = kNormTile * t + g;
      const bool ok = t < tiles;
      h0[q] = ok ? load_h(c0) : 0.0f, h1[q] = ok ? load_h(c0 + 8) : 0.0f;
      x0[q] = ok && add ? x[c0] : 0.0f, x1[q] = ok && add ? x[c0 + 8] : 0.0f;
      if (t0 != 4 * warp) {
        w0[q] = ok ? __bfloat162float(w[c0]) : 0.0f;
        w1[q] = ok ? __bfloat162float(w[c0 + 8]) : 0.0f;
      }
    }
#pragma unroll
    for (int q = 0; q < kPasses; ++q) {
      const int64_t t = tile_of(t0, q), c0 = kNormTile * t + g;
      const bool ok = t < tiles;
      if (add) h0[q] = __fadd_rn(h0[q], x0[q]), h1[q] = __fadd_rn(h1[q], x1[q]);
      if (ok) {
        if (add) res[c0] = h0[q], res[c0 + 8] = h1[q];
        if (xo != nullptr) xo[c0] = h0[q], xo[c0 + 8] = h1[q];
        u[c0] = __float2bfloat16_rn(__fmul_rn(w0[q], h0[q]));
        u[c0 + 8] = __float2bfloat16_rn(__fmul_rn(w1[q], h1[q]));
      }
      const float a = detail::tile_butterfly<0>(detail::tile_pair_sq(h0[q], h1[q]));
      if (ok && g == 0) p.ss[r * tiles + t] = a;
    }
  }
}

}  // namespace

void rms_prep(const RmsPrepParams& p, int64_t rows, cudaStream_t stream) {
  if (p.table != nullptr &&
      (p.tokens == nullptr || p.x_out == nullptr || p.vocab <= 0 || p.residual != nullptr || p.x != nullptr))
    fail("cuda rms_prep", "an embedding table needs the tokens, x_out and the vocabulary, and no residual or x");
  if (p.n <= 0 || p.n % kNormTile != 0 || (p.residual == nullptr && p.x == nullptr && p.table == nullptr) ||
      p.w == nullptr || p.u == nullptr || p.ss == nullptr)
    fail("cuda rms_prep", "needs a row width that is a positive multiple of 16 (got " + std::to_string(p.n) +
                              "), a residual or x, the weight and both outputs");
  if (rows <= 0) return;
  launch_pdl(rms_prep_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, p);
}

}  // namespace verbatim::cuda_kernels

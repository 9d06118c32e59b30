#include <string>

#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rms_prep.cuh"
#include "kernels/cuda/row_math.cuh"
#include "util/error.h"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kTilesPerPass = kThreads / 8;  // 8 lanes per tile

__global__ void __launch_bounds__(kThreads) rms_prep_kernel(RmsPrepParams p) {
  pdl_allow_dependents();  // pdl.cuh: the next kernel may start
  const int64_t r = blockIdx.x, tiles = p.n / kNormTile;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  const int g = lane & 7;
  const auto* w = static_cast<const __nv_bfloat16*>(p.w);
  auto* u = static_cast<__nv_bfloat16*>(p.u) + r * p.n;
  float* res = p.residual != nullptr ? p.residual + r * p.n : nullptr;
  const float* x = p.x != nullptr ? p.x + r * p.n : nullptr;
  pdl_wait();  // everything the kernels ahead wrote is visible now
  // Whole warps iterate together (the butterfly's shuffles); lanes past the row's tiles square zeros.
  for (int64_t t0 = 4 * warp; t0 < tiles; t0 += kTilesPerPass) {
    const int64_t t = t0 + lane / 8;
    const bool ok = t < tiles;
    const int64_t c0 = kNormTile * t + g, c1 = c0 + 8;
    float h0 = 0.0f, h1 = 0.0f;
    if (ok) {
      if (res != nullptr && x != nullptr) {
        h0 = __fadd_rn(res[c0], x[c0]);
        h1 = __fadd_rn(res[c1], x[c1]);
        res[c0] = h0, res[c1] = h1;
      } else {
        const float* src = res != nullptr ? res : x;
        h0 = src[c0], h1 = src[c1];
      }
      u[c0] = __float2bfloat16_rn(__fmul_rn(__bfloat162float(w[c0]), h0));
      u[c1] = __float2bfloat16_rn(__fmul_rn(__bfloat162float(w[c1]), h1));
    }
    const float a = detail::tile_butterfly<0>(detail::tile_pair_sq(h0, h1));
    if (ok && g == 0) p.ss[r * tiles + t] = a;
  }
}

}  // namespace

void rms_prep(const RmsPrepParams& p, int64_t rows, cudaStream_t stream) {
  if (p.n <= 0 || p.n % kNormTile != 0 || (p.residual == nullptr && p.x == nullptr) || p.w == nullptr ||
      p.u == nullptr || p.ss == nullptr)
    fail("cuda rms_prep", "needs a row width that is a positive multiple of 16 (got " + std::to_string(p.n) +
                              "), a residual or x, the weight and both outputs");
  if (rows <= 0) return;
  launch_pdl(rms_prep_kernel, static_cast<unsigned>(rows), kThreads, 0, stream, p);
}

}  // namespace verbatim::cuda_kernels

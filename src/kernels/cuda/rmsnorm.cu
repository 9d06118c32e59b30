#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/row_math.cuh"

namespace verbatim::cuda_kernels {
namespace {

constexpr int kThreads = 32 * detail::kRmsChains;  // one row per block: warp c runs chain c of every lane
constexpr int kPreGroups = 4;                      // groups of 4 weights per thread loaded before pdl_wait (n <= 4096)

// The row's sum of squares in row_math.cuh's order (warp c computes chain c of each lane; warp 0 then combines the
// chains of its lane); the residual add (where given) happens in the same pass, each thread over the groups it owns,
// so the values squared are the new residual's.
template <typename Out>
__global__ void __launch_bounds__(kThreads)
    add_rmsnorm_kernel(float* __restrict__ residual, const float* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                       Out* __restrict__ out, RmsNormParams p) {
  pdl_allow_dependents();  // pdl.cuh: the next kernel may start
  __shared__ float part[detail::kRmsChains][32];
  __shared__ float inv_shared;
  const int64_t r = blockIdx.x;
  const int c = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t n = p.n, groups = n / 4;
  // The weight of this thread's first kPreGroups groups, read while the kernel ahead is still running (no kernel
  // writes it): its latency is then off the critical path, which is the row's two passes.
  float4 wpre[kPreGroups];
#pragma unroll
  for (int k = 0; k < kPreGroups; ++k) {
    const int64_t g = lane + 32 * c + static_cast<int64_t>(k) * kThreads;  // as g0 below
    wpre[k] = g < groups ? make_float4(__bfloat162float(w[4 * g]), __bfloat162float(w[4 * g + 1]),
                                       __bfloat162float(w[4 * g + 2]), __bfloat162float(w[4 * g + 3]))
                         : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  }
  pdl_wait();  // everything the kernels ahead wrote is visible now
  const float* xr = x + r * n;
  float* res = residual != nullptr ? residual + r * n : nullptr;
  const float* src = res != nullptr ? res : xr;  // each thread re-reads only what it wrote itself
  const bool vec4 = detail::row_vec4(xr, n) && (res == nullptr || detail::row_vec4(res, n));
  // Pass 1 over this thread's groups in increasing g (the sum of squares' order): the first kPreGroups unrolled,
  // their values kept in registers for pass 2, the rest (rows past 4096) re-read there.
  auto add_group = [&](int64_t g) {
    float4 v = detail::load_group(xr, g, vec4);
    if (res != nullptr) {
      const float4 a = detail::load_group(res, g, vec4);
      v = make_float4(__fadd_rn(a.x, v.x), __fadd_rn(a.y, v.y), __fadd_rn(a.z, v.z), __fadd_rn(a.w, v.w));
      if (vec4) {
        reinterpret_cast<float4*>(res)[g] = v;
      } else {
        res[4 * g] = v.x, res[4 * g + 1] = v.y, res[4 * g + 2] = v.z, res[4 * g + 3] = v.w;
      }
    }
    return v;
  };
  const int64_t g0 = lane + 32 * c;
  float ss = 0.0f;
  float4 vpre[kPreGroups];
#pragma unroll
  for (int k = 0; k < kPreGroups; ++k) {
    const int64_t g = g0 + static_cast<int64_t>(k) * kThreads;
    if (g < groups) {
      vpre[k] = add_group(g);
      ss = detail::sumsq_group(ss, vpre[k]);
    }
  }
  for (int64_t g = g0 + int64_t{kPreGroups} * kThreads; g < groups; g += kThreads)
    ss = detail::sumsq_group(ss, add_group(g));
  const bool tail = c == 0 && lane < n % 4;
  const int64_t ti = 4 * groups + lane;
  if (tail && res != nullptr) res[ti] = __fadd_rn(res[ti], xr[ti]);
  part[c][lane] = ss;
  __syncthreads();
  if (c == 0) {
    float chain[detail::kRmsChains];
#pragma unroll
    for (int k = 0; k < detail::kRmsChains; ++k) chain[k] = part[k][lane];
    const float total = detail::warp_sum(detail::rms_lane_partial(chain, src, n, lane));
    if (lane == 0) inv_shared = detail::inv_rms(total, n, p.eps);
  }
  __syncthreads();
  const float inv = inv_shared;
  Out* o = out + r * n;
  auto store_group = [&](int64_t g, float4 v, float4 wg) {
    detail::store_f(o, 4 * g, detail::rms_apply(v.x, inv, wg.x));
    detail::store_f(o, 4 * g + 1, detail::rms_apply(v.y, inv, wg.y));
    detail::store_f(o, 4 * g + 2, detail::rms_apply(v.z, inv, wg.z));
    detail::store_f(o, 4 * g + 3, detail::rms_apply(v.w, inv, wg.w));
  };
#pragma unroll
  for (int k = 0; k < kPreGroups; ++k) {
    const int64_t g = g0 + static_cast<int64_t>(k) * kThreads;
    if (g < groups) store_group(g, vpre[k], wpre[k]);
  }
  for (int64_t g = g0 + int64_t{kPreGroups} * kThreads; g < groups; g += kThreads) {
    store_group(g, detail::load_group(src, g, vec4),
                make_float4(__bfloat162float(w[4 * g]), __bfloat162float(w[4 * g + 1]), __bfloat162float(w[4 * g + 2]),
                            __bfloat162float(w[4 * g + 3])));
  }
  if (tail) detail::store_f(o, ti, detail::rms_apply(src[ti], inv, __bfloat162float(w[ti])));
}

}  // namespace

void add_rmsnorm(float* residual, const float* x, const void* w, void* out, DType out_dtype, int64_t rows,
                 const RmsNormParams& p, cudaStream_t stream) {
  if (rows <= 0) return;
  const auto* wb = static_cast<const __nv_bfloat16*>(w);
  const auto blocks = static_cast<unsigned>(rows);
  if (out_dtype == DType::BF16) {
    launch_pdl(add_rmsnorm_kernel<__nv_bfloat16>, blocks, kThreads, 0, stream, residual, x, wb,
               static_cast<__nv_bfloat16*>(out), p);
  } else {
    launch_pdl(add_rmsnorm_kernel<float>, blocks, kThreads, 0, stream, residual, x, wb, static_cast<float*>(out), p);
  }
}

}  // namespace verbatim::cuda_kernels

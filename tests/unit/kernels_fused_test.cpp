// The fused row kernels of the CPU backend against the reference kernels they fuse. Tolerance: none — each computes
// the reference's expressions in the reference's order, so results are asserted BITWISE equal, for 1..3 threads.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/add.h"
#include "kernels/cpu/add_rmsnorm.h"
#include "kernels/cpu/rmsnorm.h"
#include "kernels/cpu/rope.h"
#include "kernels/cpu/rope_rows.h"
#include "util/half.h"

namespace verbatim::kernels::cpu {
namespace {

std::vector<float> random_vec(size_t n, std::mt19937_64& rng, float scale) {
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(KernelsFused, AddRmsNormEqualsAddThenRmsNorm) {
  std::mt19937_64 rng(11);
  for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    for (int64_t n : {1, 7, 64, 333}) {
      const int64_t rows = 9;
      const std::vector<float> x = random_vec(rows * n, rng, 4.0f), res0 = random_vec(rows * n, rng, 4.0f);
      const std::vector<float> wf = random_vec(n, rng, 2.0f);
      std::vector<uint16_t> wh(n);
      for (int64_t i = 0; i < n; ++i) wh[i] = dtype == DType::BF16 ? f32_to_bf16(wf[i]) : uint16_t(0x3c00 + i % 512);
      const void* w = dtype == DType::F32 ? static_cast<const void*>(wf.data()) : wh.data();
      const RmsNormParams p{.n = n, .eps = 1e-6f};

      std::vector<float> res_want = res0, y_want(rows * n);
      add_inplace(res_want.data(), x.data(), rows * n);
      rmsnorm(res_want.data(), w, dtype, y_want.data(), rows, p);
      for (int threads : {1, 2, 3}) {
        std::vector<float> res = res0, y(rows * n);
        add_rmsnorm(res.data(), x.data(), w, dtype, y.data(), rows, p, threads);
        EXPECT_TRUE(same_bits(res, res_want)) << dtype_name(dtype) << " n " << n << " threads " << threads;
        EXPECT_TRUE(same_bits(y, y_want)) << dtype_name(dtype) << " n " << n << " threads " << threads;
      }
    }
  }
}

TEST(KernelsFused, RopeRowsEqualsRope) {
  std::mt19937_64 rng(12);
  for (int head_dim : {2, 8, 64, 130}) {
    const int n_heads = 3;
    const int64_t rows = 11;
    const std::vector<float> inv_freq = rope_inv_freq(head_dim, 10000.0f);
    std::vector<int32_t> pos(rows);
    for (int64_t r = 0; r < rows; ++r) pos[r] = static_cast<int32_t>(rng() % 40000);
    pos[0] = 0;
    const std::vector<float> x0 = random_vec(rows * n_heads * head_dim, rng, 3.0f);
    std::vector<float> want = x0;
    rope(want.data(), pos.data(), rows, inv_freq.data(), {.n_heads = n_heads, .head_dim = head_dim});
    for (int threads : {1, 2, 3}) {
      std::vector<float> got = x0;
      rope_rows(got.data(), pos.data(), rows, inv_freq.data(), {.n_heads = n_heads, .head_dim = head_dim}, threads);
      EXPECT_TRUE(same_bits(got, want)) << "head_dim " << head_dim << " threads " << threads;
    }
  }
}

}  // namespace
}  // namespace verbatim::kernels::cpu

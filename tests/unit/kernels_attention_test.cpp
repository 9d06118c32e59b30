// Attention of one query over a KV cache with GQA, against a naive double-precision computation. Tolerance: outputs
// are convex combinations of v rows, so the error bound is 1e-5 times max |v|.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/attention.h"

namespace verbatim::kernels::cpu {
namespace {

std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, const AttentionParams& p) {
  std::vector<double> out(static_cast<size_t>(p.n_heads) * p.head_dim, 0.0);
  const int group = p.n_heads / p.n_kv_heads;
  for (int h = 0; h < p.n_heads; ++h) {
    const int kvh = h / group;
    std::vector<double> s(p.n_ctx);
    double max = -1e300;
    for (int64_t t = 0; t < p.n_ctx; ++t) {
      double dot = 0.0;
      for (int i = 0; i < p.head_dim; ++i)
        dot += static_cast<double>(q[h * p.head_dim + i]) * k[t * p.kv_stride + kvh * p.head_dim + i];
      s[t] = dot / std::sqrt(static_cast<double>(p.head_dim));
      max = std::max(max, s[t]);
    }
    double sum = 0.0;
    for (double& x : s) sum += x = std::exp(x - max);
    for (int64_t t = 0; t < p.n_ctx; ++t)
      for (int i = 0; i < p.head_dim; ++i)
        out[h * p.head_dim + i] += s[t] / sum * v[t * p.kv_stride + kvh * p.head_dim + i];
  }
  return out;
}

struct Inputs {
  std::vector<float> q, k, v;
};

Inputs random_inputs(uint64_t seed, const AttentionParams& p, float scale) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  Inputs in;
  in.q.resize(static_cast<size_t>(p.n_heads) * p.head_dim);
  in.k.resize(static_cast<size_t>(p.n_ctx) * p.kv_stride);
  in.v.resize(in.k.size());
  for (float& x : in.q) x = dist(rng);
  for (float& x : in.k) x = dist(rng);
  for (float& x : in.v) x = dist(rng);
  return in;
}

TEST(KernelsAttention, GqaMatchesDoubleWithPaddedStride) {
  for (int n_ctx : {1, 2, 37, 300}) {
    // 8 query heads over 2 KV heads; each cache row padded to 40 floats (32 used).
    const AttentionParams p{.n_heads = 8, .n_kv_heads = 2, .head_dim = 16, .n_ctx = n_ctx, .kv_stride = 40};
    const Inputs in = random_inputs(1000 + n_ctx, p, 2.0f);
    std::vector<float> scores(n_ctx), out(p.n_heads * p.head_dim);
    attention(in.q.data(), in.k.data(), in.v.data(), scores.data(), out.data(), p);
    const std::vector<double> ref = naive_attention(in.q, in.k, in.v, p);
    for (size_t i = 0; i < out.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-5 * 2.0) << "n_ctx " << n_ctx << " i " << i;
  }
}

TEST(KernelsAttention, SinglePositionReturnsItsValueExactly) {
  const AttentionParams p{.n_heads = 4, .n_kv_heads = 4, .head_dim = 8, .n_ctx = 1, .kv_stride = 32};
  const Inputs in = random_inputs(77, p, 5.0f);
  std::vector<float> scores(1), out(32);
  attention(in.q.data(), in.k.data(), in.v.data(), scores.data(), out.data(), p);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[i], in.v[i]);
}

TEST(KernelsAttention, QueryHeadReadsItsGroupsKvHead) {
  // 4 query heads, 2 KV heads: heads 0,1 read KV head 0 (v = 1), heads 2,3 read KV head 1 (v = 2 + t).
  const AttentionParams p{.n_heads = 4, .n_kv_heads = 2, .head_dim = 2, .n_ctx = 3, .kv_stride = 4};
  std::vector<float> q(8, 0.0f), k(12, 0.0f), v(12);
  for (int t = 0; t < 3; ++t) {
    v[t * 4 + 0] = v[t * 4 + 1] = 1.0f;
    v[t * 4 + 2] = v[t * 4 + 3] = 2.0f + t;
  }
  std::vector<float> scores(3), out(8);
  attention(q.data(), k.data(), v.data(), scores.data(), out.data(), p);  // all scores 0: uniform weights
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out[i], 1.0f);
  for (int i = 4; i < 8; ++i) EXPECT_FLOAT_EQ(out[i], 3.0f);
}

TEST(KernelsAttention, LargeScoresDoNotOverflow) {
  const AttentionParams p{.n_heads = 1, .n_kv_heads = 1, .head_dim = 4, .n_ctx = 2, .kv_stride = 4};
  std::vector<float> q = {100, 100, 100, 100}, k = {100, 100, 100, 100, -100, -100, -100, -100};
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8}, scores(2), out(4);
  attention(q.data(), k.data(), v.data(), scores.data(), out.data(), p);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], v[i]);  // the second position's weight underflows to 0
}

}  // namespace
}  // namespace verbatim::kernels::cpu

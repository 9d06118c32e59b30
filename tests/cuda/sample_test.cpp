// Sampling on the GPU (kernels/cuda/sample.cuh) against the engine's host sampler (engine/sampler.h) on fresh random
// logits (seed printed; VERBATIM_TEST_SEED reproduces): greedy, temperature, top-k, top-p, min-p and their mixes,
// vocabularies of 96, 5000 and 151936 tokens, peaked and flat rows, ties, -inf/NaN/+inf entries.
//   - the token equals the host sampler's (the two differ only in summation orders: a draw landing within ~1e-15 of
//     a cumulative boundary could split them, which random data does not hit);
//   - logprob and top-n logprobs within 1e-6 of the host's (lse summed in a tree vs sequentially), top-n ids equal;
//   - token_logprobs == the sampler's logprob, bit for bit (the scorer);
//   - a row's result is the same bits alone and in a batch of other rows.
// Skips loudly without a GPU.
#include "kernels/cuda/sample.cuh"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "backend/cuda/cuda_util.h"
#include "engine/sampler.h"

namespace verbatim {
namespace {

namespace ck = cuda_kernels;
using cuda::DeviceBuffer;

uint64_t test_seed() {
  static const uint64_t seed = [] {
    if (const char* s = std::getenv("VERBATIM_TEST_SEED")) return std::strtoull(s, nullptr, 10);
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 1000000007ull;
  }();
  return seed;
}

struct Case {
  SamplingParams params;
  uint64_t token_index = 0;
};

std::vector<ck::SampleRowResult> run_gpu(const std::vector<float>& logits, int64_t vocab,
                                         const std::vector<Case>& cases, const std::vector<int>& rows) {
  std::vector<ck::SampleRowSpec> specs(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const SamplingParams& p = cases[i].params;
    specs[i] = {.row = rows[i],
                .temperature = p.temperature,
                .top_k = p.top_k,
                .top_p = p.top_p,
                .min_p = p.min_p,
                .top_logprobs = p.top_logprobs,
                .seed = p.seed,
                .token_index = cases[i].token_index};
  }
  DeviceBuffer dl(logits.size() * 4), ds(specs.size() * sizeof(ck::SampleRowSpec)),
      dr(specs.size() * sizeof(ck::SampleRowResult)),
      dw(ck::sample_workspace_bytes(static_cast<int>(specs.size()), vocab)), dt(specs.size() * 4);
  cuda::check_cuda(cudaMemcpy(dl.get(), logits.data(), logits.size() * 4, cudaMemcpyHostToDevice), "upload");
  cuda::check_cuda(cudaMemcpy(ds.get(), specs.data(), specs.size() * sizeof(ck::SampleRowSpec), cudaMemcpyHostToDevice),
                   "upload");
  ck::sample_rows(dl.as<float>(), vocab, ds.as<ck::SampleRowSpec>(), dr.as<ck::SampleRowResult>(),
                  static_cast<int>(specs.size()), dw.get(), nullptr, dt.as<int32_t>());
  cuda::check_launch("sample_rows");
  std::vector<ck::SampleRowResult> out(specs.size());
  cuda::check_cuda(cudaMemcpy(out.data(), dr.get(), out.size() * sizeof(ck::SampleRowResult), cudaMemcpyDeviceToHost),
                   "download");
  // The tokens array (what a fed step reads) holds each result's token.
  std::vector<int32_t> tokens(specs.size());
  cuda::check_cuda(cudaMemcpy(tokens.data(), dt.get(), tokens.size() * 4, cudaMemcpyDeviceToHost), "download");
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(tokens[i], out[i].token) << "tokens[" << i << "]";
  return out;
}

std::vector<float> gpu_logprobs(const std::vector<float>& logits, int64_t vocab, const std::vector<int32_t>& rows,
                                const std::vector<int32_t>& tokens) {
  DeviceBuffer dl(logits.size() * 4), drows(rows.size() * 4), dtok(tokens.size() * 4), dout(rows.size() * 4),
      dw(ck::sample_workspace_bytes(static_cast<int>(rows.size()), vocab));
  cuda::check_cuda(cudaMemcpy(dl.get(), logits.data(), logits.size() * 4, cudaMemcpyHostToDevice), "upload");
  cuda::check_cuda(cudaMemcpy(drows.get(), rows.data(), rows.size() * 4, cudaMemcpyHostToDevice), "upload");
  cuda::check_cuda(cudaMemcpy(dtok.get(), tokens.data(), tokens.size() * 4, cudaMemcpyHostToDevice), "upload");
  ck::token_logprobs(dl.as<float>(), vocab, drows.as<int32_t>(), dtok.as<int32_t>(), dout.as<float>(),
                     static_cast<int>(rows.size()), dw.get(), nullptr);
  std::vector<float> out(rows.size());
  cuda::check_cuda(cudaMemcpy(out.data(), dout.get(), out.size() * 4, cudaMemcpyDeviceToHost), "download");
  return out;
}

TEST(CudaSample, MatchesHostSamplerAndScorer) {
  if (cuda::device_count_or_zero() == 0)
    GTEST_SKIP() << "*** NO CUDA GPU FOUND: the CUDA sampling tests are SKIPPED, nothing was run ***";
  std::printf("[ seed ] %llu\n", static_cast<unsigned long long>(test_seed()));
  std::mt19937_64 rng(test_seed());
  for (int64_t vocab : {96, 5000, 151936}) {
    const int n_rows = vocab > 10000 ? 12 : 40;
    std::vector<float> logits(static_cast<size_t>(n_rows) * vocab);
    for (int r = 0; r < n_rows; ++r) {
      // Peaked (scale 8), medium (2) or flat (0.3) rows; some ties and special values.
      const float scale = r % 3 == 0 ? 8.0f : r % 3 == 1 ? 2.0f : 0.3f;
      std::normal_distribution<float> d(0.0f, scale);
      float* row = logits.data() + static_cast<size_t>(r) * vocab;
      for (int64_t i = 0; i < vocab; ++i) row[i] = d(rng);
      if (r % 5 == 0) row[rng() % vocab] = row[rng() % vocab];  // a tie
      if (r % 7 == 0) {
        row[rng() % vocab] = -std::numeric_limits<float>::infinity();
        row[rng() % vocab] = std::numeric_limits<float>::quiet_NaN();
      }
      if (r % 11 == 3) row[rng() % vocab] = std::numeric_limits<float>::infinity();
    }
    std::vector<Case> cases;
    std::vector<int> rows;
    for (int r = 0; r < n_rows; ++r) {
      Case c;
      switch (r % 8) {
        case 0:
          c.params.temperature = 0.0f;
          break;
        case 1:
          c.params.temperature = 1.0f;
          break;
        case 2:
          c.params.temperature = 0.7f;
          c.params.top_k = 40;
          break;
        case 3:
          c.params.temperature = 1.0f;
          c.params.top_p = 0.9f;
          break;
        case 4:
          c.params.temperature = 1.3f;
          c.params.min_p = 0.05f;
          break;
        case 5:
          c.params.temperature = 0.8f;
          c.params.top_k = 2000;
          c.params.top_p = 0.95f;
          c.params.min_p = 0.01f;
          break;
        case 6:
          c.params.temperature = 1.0f;
          c.params.top_k = 1;
          break;
        default:
          c.params.temperature = 2.0f;
          c.params.top_p = 0.999f;
          break;
      }
      c.params.seed = rng();
      c.params.top_logprobs = static_cast<int>(r % 4 == 0 ? 20 : r % 3);
      c.token_index = rng() % 1000;
      cases.push_back(c);
      rows.push_back(r);
    }
    const auto got = run_gpu(logits, vocab, cases, rows);
    std::vector<int32_t> lp_rows, lp_tokens;
    for (int r = 0; r < n_rows; ++r) {
      const std::span<const float> row(logits.data() + static_cast<size_t>(r) * vocab, vocab);
      const SampledToken want = sample(row, cases[r].params, cases[r].token_index);
      SCOPED_TRACE("vocab " + std::to_string(vocab) + " row " + std::to_string(r));
      ASSERT_EQ(got[r].token, want.token);
      EXPECT_NEAR(got[r].logprob, want.logprob, 1e-6);
      ASSERT_EQ(got[r].n_top, static_cast<int>(want.top.size()));
      for (int j = 0; j < got[r].n_top; ++j) {
        EXPECT_EQ(got[r].top_id[j], want.top[j].first) << "top " << j;
        EXPECT_NEAR(got[r].top_logprob[j], want.top[j].second, 1e-6) << "top " << j;
      }
      lp_rows.push_back(r);
      lp_tokens.push_back(got[r].token);
    }
    // The scorer gives the sampler's logprob, bit for bit.
    const auto scored = gpu_logprobs(logits, vocab, lp_rows, lp_tokens);
    for (int r = 0; r < n_rows; ++r)
      EXPECT_EQ(std::memcmp(&scored[r], &got[r].logprob, 4), 0) << "vocab " << vocab << " row " << r;
    // Row invariance: each row alone gives the bits it had in the batch.
    for (int r = 0; r < n_rows; r += 3) {
      const auto alone = run_gpu(logits, vocab, {cases[r]}, {r});
      EXPECT_EQ(alone[0].token, got[r].token);
      EXPECT_EQ(std::memcmp(&alone[0].logprob, &got[r].logprob, 4), 0);
      for (int j = 0; j < got[r].n_top; ++j)
        EXPECT_EQ(std::memcmp(&alone[0].top_logprob[j], &got[r].top_logprob[j], 4), 0);
    }
  }
}

TEST(CudaSample, RowWithoutFiniteLogits) {
  if (cuda::device_count_or_zero() == 0)
    GTEST_SKIP() << "*** NO CUDA GPU FOUND: the CUDA sampling tests are SKIPPED, nothing was run ***";
  std::vector<float> logits(50, -std::numeric_limits<float>::infinity());
  logits[3] = std::numeric_limits<float>::quiet_NaN();
  Case c;
  c.params.temperature = 1.0f;
  EXPECT_EQ(run_gpu(logits, 50, {c}, {0})[0].token, -1);
  EXPECT_TRUE(std::isnan(gpu_logprobs(logits, 50, {0}, {3})[0]));
}

}  // namespace
}  // namespace verbatim

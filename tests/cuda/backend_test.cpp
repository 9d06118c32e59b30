// The CUDA backend end to end, on tiny random models of each flavour (Llama GQA, Qwen2 with q/k/v bias, Qwen3 with
// q/k norm), bf16 weights on both sides:
//  - LlamaForward on CUDA vs LlamaForward on the CPU backend (the oracle): every logit within 3e-2 of the row's largest
//    |logit| (bf16 matmul inputs and a bf16 KV cache on the GPU; fp32 everywhere on the CPU);
//  - a row's logits are bitwise the same in a one-shot prefill, in random chunks and as decode steps, and beside
//    other sequences;
//  - the engine's greedy and seeded outputs (tokens, logprobs) are bitwise the same with CUDA graphs on and off and
//    with async scheduling on and off (with stop tokens and a cancel while a fed step runs), for a batch of requests
//    of different lengths;
//  - the decode-step fusions (residual + scaled-norm prep, residual and SwiGLU epilogues) change no logit bit;
//  - a norm not read by a stacked GEMM is the plain RMSNorm in an fp32 output too (invariant and fast mode);
//  - errors: a step with more rows than the verified GEMM range is refused.
// Skips loudly without a GPU.
#include "backend/backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_backend_impl.h"
#include "engine/engine.h"
#include "kernels/cpu/add_rmsnorm.h"
#include "model/llama_forward.h"
#include "unit/forward_tiny_model.h"
#include "util/error.h"
#include "util/half.h"

namespace verbatim {
namespace {

#define REQUIRE_GPU()                                                                                   \
  do {                                                                                                  \
    if (!backend::cuda_device_available())                                                              \
      GTEST_SKIP() << "*** NO CUDA GPU FOUND: the CUDA backend tests are SKIPPED, nothing was run ***"; \
  } while (0)

std::vector<testing::TinySpec> flavours() {
  testing::TinySpec llama;
  llama.label = "llama_gqa";
  llama.vocab_size = 96;
  llama.max_seq_len = 256;
  llama.tied = false;
  llama.dtype = DType::BF16;
  testing::TinySpec qwen2 = llama;
  qwen2.label = "qwen2_bias";
  qwen2.arch = Arch::Qwen2;
  qwen2.qkv_bias = true;
  testing::TinySpec qwen3 = llama;
  qwen3.label = "qwen3_qknorm";
  qwen3.arch = Arch::Qwen3;
  qwen3.qk_norm = true;
  qwen3.head_dim = 16;
  qwen3.tied = true;
  return {llama, qwen2, qwen3};
}

std::vector<int32_t> random_tokens(std::mt19937_64& rng, int n, int vocab) {
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % vocab);
  return t;
}

// Logits of every position of `tokens` as one sequence, run in chunks of the given lengths (decode = all 1s).
std::vector<float> run_chunks(LlamaForward& f, const std::vector<int32_t>& tokens, const std::vector<int>& chunks,
                              int block_size, int first_block = 0) {
  const int vocab = f.config().vocab_size;
  std::vector<int32_t> blocks;
  for (int b = 0; b * block_size < static_cast<int>(tokens.size()); ++b) blocks.push_back(first_block + b);
  std::vector<float> all(tokens.size() * vocab);
  int pos = 0;
  for (int len : chunks) {
    StepPlan plan;
    const int nb = (pos + len + block_size - 1) / block_size;
    plan.add_seq(std::span<const int32_t>(tokens.data() + pos, len), pos, std::span<const int32_t>(blocks.data(), nb),
                 StepPlan::Logits::All);
    f.execute(plan, all.data() + static_cast<size_t>(pos) * vocab);
    pos += len;
  }
  return all;
}

class CudaBackendFlavour : public ::testing::TestWithParam<int> {};

TEST_P(CudaBackendFlavour, ForwardMatchesCpuOracleAndIsRowInvariant) {
  REQUIRE_GPU();
  const testing::TinySpec spec = flavours()[GetParam()];
  auto model = testing::make_tiny_model(spec);
  std::mt19937_64 rng(1234 + GetParam());
  const int n = 40, bs = 8;
  const std::vector<int32_t> tokens = random_tokens(rng, n, spec.vocab_size);
  const ForwardOptions fo{.num_blocks = 64, .block_size = bs, .max_rows = 64, .max_logits = 64};

  auto cpu = backend::make_cpu_backend({});
  LlamaForward fcpu(*model, *cpu, fo);
  const std::vector<float> want = run_chunks(fcpu, tokens, {n}, bs);

  backend::CudaBackendOptions co;
  co.max_rows = 64;
  co.max_logits = 64;
  auto gpu = backend::make_cuda_backend(co);
  LlamaForward fgpu(*model, *gpu, fo);
  const std::vector<float> oneshot = run_chunks(fgpu, tokens, {n}, bs);
  const int vocab = spec.vocab_size;
  for (int p = 0; p < n; ++p) {
    double scale = 0;
    for (int i = 0; i < vocab; ++i) scale = std::max(scale, std::fabs(static_cast<double>(want[p * vocab + i])));
    for (int i = 0; i < vocab; ++i)
      ASSERT_NEAR(oneshot[p * vocab + i], want[p * vocab + i], 3e-2 * scale) << spec.label << " pos " << p;
  }
  // Chunked and decode: the same bits (other cache blocks: the cache content of a block is what the row wrote).
  const std::vector<float> chunked = run_chunks(fgpu, tokens, {7, 1, 16, 3, 13}, bs, 8);
  EXPECT_EQ(std::memcmp(chunked.data(), oneshot.data(), oneshot.size() * 4), 0) << spec.label << ": chunked";
  std::vector<int> ones(n, 1);
  const std::vector<float> decoded = run_chunks(fgpu, tokens, ones, bs, 16);
  EXPECT_EQ(std::memcmp(decoded.data(), oneshot.data(), oneshot.size() * 4), 0) << spec.label << ": decode steps";

  // Beside another sequence in the same step: the target's rows keep their bits.
  StepPlan plan;
  std::vector<int32_t> other = random_tokens(rng, 23, vocab), ob = {40, 41, 42}, tb;
  for (int b = 0; b < n / bs; ++b) tb.push_back(24 + b);
  plan.add_seq(other, 0, ob, StepPlan::Logits::All);
  plan.add_seq(tokens, 0, tb, StepPlan::Logits::All);
  std::vector<float> both((other.size() + n) * vocab);
  fgpu.execute(plan, both.data());
  EXPECT_EQ(std::memcmp(both.data() + other.size() * vocab, oneshot.data(), oneshot.size() * 4), 0)
      << spec.label << ": beside another sequence";

  // More rows than verified: refused.
  StepPlan big;
  std::vector<int32_t> many = random_tokens(rng, 65, vocab), mb;
  for (int b = 0; b * bs < 65; ++b) mb.push_back(b);
  big.add_seq(many, 0, mb, StepPlan::Logits::Last);
  EXPECT_THROW(fgpu.execute(big, both.data()), Error);
}

// Decode steps of 3 sequences (padded to the graph bucket of 4 rows) and then of 1: the graph backend captures and
// replays graphs, and every logit equals the eager backend's bit for bit.
TEST_P(CudaBackendFlavour, DecodeGraphsReplayAndMatchEager) {
  REQUIRE_GPU();
  const testing::TinySpec spec = flavours()[GetParam()];
  auto model = testing::make_tiny_model(spec);
  std::mt19937_64 rng(7 + GetParam());
  const int bs = 8, vocab = spec.vocab_size;
  const ForwardOptions fo{.num_blocks = 64, .block_size = bs, .max_rows = 64, .max_logits = 64};
  backend::CudaBackendOptions on, off;
  on.max_rows = off.max_rows = 64;
  off.graphs = false;
  auto gon = backend::make_cuda_backend(on), goff = backend::make_cuda_backend(off);
  LlamaForward fon(*model, *gon, fo), foff(*model, *goff, fo);
  std::vector<std::vector<int32_t>> seqs;
  for (int s = 0; s < 3; ++s) seqs.push_back(random_tokens(rng, 30, vocab));
  auto step = [&](int first, int n, int pos, bool prefill) {
    StepPlan plan;
    for (int s = first; s < first + n; ++s) {
      std::vector<int32_t> blocks;
      for (int b = 0; b <= pos / bs; ++b) blocks.push_back(s * 8 + b);
      if (prefill)
        plan.add_seq(std::span<const int32_t>(seqs[s].data(), pos + 1), 0, blocks, StepPlan::Logits::Last);
      else
        plan.add_seq(std::span<const int32_t>(seqs[s].data() + pos, 1), pos, blocks, StepPlan::Logits::Last);
    }
    std::vector<float> a(static_cast<size_t>(n) * vocab), b(a.size());
    fon.execute(plan, a.data());
    foff.execute(plan, b.data());
    return std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
  };
  EXPECT_TRUE(step(0, 3, 9, true)) << "prefill";
  for (int pos = 10; pos < 20; ++pos) EXPECT_TRUE(step(0, 3, pos, false)) << "3 rows, pos " << pos;
  for (int pos = 20; pos < 29; ++pos) EXPECT_TRUE(step(2, 1, pos, false)) << "1 row, pos " << pos;
  auto* cuda_on = dynamic_cast<cuda::CudaBackend*>(gon.get());
  ASSERT_NE(cuda_on, nullptr);
  EXPECT_GE(cuda_on->graph_captures(), 2);
  EXPECT_GE(cuda_on->graph_replays(), 10);
  EXPECT_EQ(dynamic_cast<cuda::CudaBackend*>(goff.get())->graph_captures(), 0);
}

// Greedy and seeded outputs with graphs on == off and async scheduling on == off, bitwise, for a batch of requests of
// different lengths.
TEST_P(CudaBackendFlavour, GraphsOnEqualGraphsOff) {
  REQUIRE_GPU();
  const testing::TinySpec spec = flavours()[GetParam()];
  auto model = testing::make_tiny_model(spec);
  std::mt19937_64 rng(99 + GetParam());
  std::vector<std::vector<int32_t>> prompts;
  std::vector<RequestParams> params;
  for (int i = 0; i < 11; ++i) {
    prompts.push_back(random_tokens(rng, 1 + static_cast<int>(rng() % 30), spec.vocab_size));
    RequestParams p;
    p.max_tokens = 5 + static_cast<int>(rng() % 20);
    p.ignore_eos = true;
    p.sampling.temperature = i % 2 ? 0.0f : 0.8f;
    p.sampling.top_k = i % 3 == 0 ? 20 : 0;
    p.sampling.top_p = 0.9f;
    p.sampling.seed = rng();
    p.sampling.top_logprobs = i % 4;
    params.push_back(p);
  }
  auto shared = backend::make_cuda_shared_resources(0);
  // stop_at: per request, a token that ends it (-1: none); cancel_at: a step after which request 0 is cancelled.
  auto run = [&](bool graphs, bool async, const std::vector<int32_t>& stop_at, int cancel_at, EngineStats* stats) {
    EngineOptions o;
    o.backend = "cuda";
    o.num_blocks = 256;
    o.block_size = 8;
    o.max_batch_tokens = 64;
    o.cuda_graphs = graphs;
    o.async_scheduling = async;
    o.backend_shared = shared;
    Engine e(*model, nullptr, o);
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < prompts.size(); ++i) {
      RequestParams p = params[i];
      if (!stop_at.empty() && stop_at[i] >= 0) p.stop_token_ids = {stop_at[i]};
      ids.push_back(e.submit(prompts[i], p));
    }
    for (int step = 0; e.step(); ++step)
      if (step == cancel_at) e.cancel(ids[0]);
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    if (stats != nullptr) *stats = e.stats();
    std::vector<RequestOutput> outs;
    for (uint64_t id : ids) outs.push_back(*e.take_output(id));
    return outs;
  };
  auto expect_same = [&](const std::vector<RequestOutput>& a, const std::vector<RequestOutput>& b, const char* what,
                         size_t from) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = from; i < a.size(); ++i) {
      EXPECT_EQ(a[i].tokens, b[i].tokens) << spec.label << " " << what << " request " << i;
      ASSERT_EQ(a[i].logprobs.size(), b[i].logprobs.size());
      EXPECT_EQ(std::memcmp(a[i].logprobs.data(), b[i].logprobs.data(), a[i].logprobs.size() * 4), 0)
          << spec.label << " " << what << " request " << i << " logprobs";
      EXPECT_EQ(a[i].top_logprobs, b[i].top_logprobs) << spec.label << " " << what << " request " << i;
      EXPECT_EQ(a[i].finish_reason, b[i].finish_reason) << spec.label << " " << what << " request " << i;
    }
  };
  EngineStats st;
  const auto off = run(false, false, {}, -1, &st);
  EXPECT_EQ(st.fed_steps, 0u);
  expect_same(off, run(true, false, {}, -1, nullptr), "graphs on", 0);
  // Async scheduling (fed steps, the fed tokens put in place on the device), with graphs off and on.
  for (const bool graphs : {false, true}) {
    expect_same(off, run(graphs, true, {}, -1, &st), graphs ? "async, graphs on" : "async, graphs off", 0);
    EXPECT_GT(st.fed_steps, 0u) << "no step was fed";
    EXPECT_EQ(st.dropped_rows, 0u);
  }
  // Stop tokens landing while the next step already runs, and a cancel: the same outputs as the synchronous engine.
  std::vector<int32_t> stop_at(prompts.size(), -1);
  for (size_t i = 1; i < prompts.size(); i += 2) stop_at[i] = off[i].tokens[off[i].tokens.size() / 2];
  const auto stopped = run(true, false, stop_at, 6, nullptr);
  const auto stopped_async = run(true, true, stop_at, 6, &st);
  expect_same(stopped, stopped_async, "stop tokens, async", 1);  // request 0 is cancelled at different tokens
  EXPECT_GT(st.dropped_rows, 0u) << "no fed row was dropped";
  EXPECT_EQ(stopped_async[0].finish_reason, FinishReason::Cancelled);
}

INSTANTIATE_TEST_SUITE_P(Flavours, CudaBackendFlavour, ::testing::Values(0, 1, 2),
                         [](const auto& info) { return flavours()[info.param].label; });

// The decode-step fusions (CudaBackendOptions::fuse: norms, residual adds and SwiGLU folded into the small-M GEMMs,
// attention_inputs into the attention, the embedding into layer 0's norm) change no bit. Models whose widths the fused
// kernels serve (multiples of 64, head_dim 64 for the tensor-core attention), Llama (2 query heads per KV head) and
// Qwen3 (q/k norm), run with fusion on (graphs on) and off (graphs off) through prefills of 11-14 rows and decode steps
// of 1-4 rows: every logit is the same, and the fused kernels did run.
TEST(CudaBackendFusion, FusedEqualsUnfusedBitwise) {
  REQUIRE_GPU();
  for (const bool qwen3 : {false, true}) {
    testing::TinySpec spec;
    spec.label = qwen3 ? "qwen3_fusable" : "llama_fusable";
    spec.arch = qwen3 ? Arch::Qwen3 : Arch::Llama;
    spec.qk_norm = qwen3;
    spec.dim = 128;
    spec.hidden_dim = 192;
    spec.n_heads = qwen3 ? 4 : 2;  // Llama: head_dim = dim / n_heads
    spec.n_kv_heads = qwen3 ? 2 : 1;
    spec.head_dim = 64;
    spec.vocab_size = 96;
    spec.max_seq_len = 256;
    spec.tied = false;
    spec.dtype = DType::BF16;
    auto model = testing::make_tiny_model(spec);
    std::mt19937_64 rng(31 + qwen3);
    const int bs = 8, vocab = spec.vocab_size;
    const ForwardOptions fo{.num_blocks = 64, .block_size = bs, .max_rows = 64, .max_logits = 64};
    backend::CudaBackendOptions on, off;
    on.max_rows = off.max_rows = 64;
    on.fuse = backend::kFuseAll;  // every fusion, not only the default's
    off.fuse = 0;
    off.graphs = false;
    auto gon = backend::make_cuda_backend(on), goff = backend::make_cuda_backend(off);
    LlamaForward fon(*model, *gon, fo), foff(*model, *goff, fo);
    std::vector<std::vector<int32_t>> seqs;
    for (int s = 0; s < 4; ++s) seqs.push_back(random_tokens(rng, 40, vocab));
    // Rows [first, first + n) of the step: sequence s at position pos (decode) or its prefix [0, pos] (prefill).
    auto step = [&](int first, int n, int pos, bool prefill) {
      StepPlan plan;
      for (int s = first; s < first + n; ++s) {
        std::vector<int32_t> blocks;
        for (int b = 0; b <= pos / bs; ++b) blocks.push_back(s * 8 + b);
        if (prefill)
          plan.add_seq(std::span<const int32_t>(seqs[s].data(), pos + 1), 0, blocks, StepPlan::Logits::All);
        else
          plan.add_seq(std::span<const int32_t>(seqs[s].data() + pos, 1), pos, blocks, StepPlan::Logits::Last);
      }
      std::vector<float> a(static_cast<size_t>(prefill ? n * (pos + 1) : n) * vocab), b(a.size());
      fon.execute(plan, a.data());
      foff.execute(plan, b.data());
      return std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
    };
    for (int s = 0; s < 4; ++s) EXPECT_TRUE(step(s, 1, 10 + s, true)) << spec.label << ": prefill of sequence " << s;
    for (int pos = 14; pos < 30; ++pos) {
      const int n = 1 + pos % 4;
      EXPECT_TRUE(step(0, n, pos, false)) << spec.label << ": " << n << " rows, pos " << pos;
    }
    auto* cuda_on = dynamic_cast<cuda::CudaBackend*>(gon.get());
    auto* cuda_off = dynamic_cast<cuda::CudaBackend*>(goff.get());
    ASSERT_NE(cuda_on, nullptr);
    ASSERT_NE(cuda_off, nullptr);
    std::printf("%s: %lld fused GEMM launches, %lld fused attention launches (fuse on), %lld graph replays\n",
                spec.label.c_str(), static_cast<long long>(cuda_on->fused_launches()),
                static_cast<long long>(cuda_on->fused_attention_launches()),
                static_cast<long long>(cuda_on->graph_replays()));
    EXPECT_GT(cuda_on->fused_launches(), 0) << spec.label << ": no GEMM bucket ran the fused kernels";
    EXPECT_GT(cuda_on->fused_attention_launches(), 0) << spec.label << ": no decode step fused its attention inputs";
    EXPECT_EQ(cuda_off->fused_launches(), 0);
    EXPECT_EQ(cuda_off->fused_attention_launches(), 0);
    // A bias-free q/k/v (both models): layer 0's norm is a scaled one, which gathers the embedding itself.
    EXPECT_GT(cuda_on->fused_embedding_launches(), 0) << spec.label << ": the embedding was never folded";
    EXPECT_EQ(cuda_off->fused_embedding_launches(), 0);
  }
}

TEST(CudaBackendErrors, BadOptionsAndBuffers) {
  REQUIRE_GPU();
  backend::CudaBackendOptions o;
  o.max_rows = 0;
  EXPECT_THROW(backend::make_cuda_backend(o), Error);
  o.max_rows = 8;
  o.fuse = backend::kFuseAll + 1;  // not a mask of the fusions
  EXPECT_THROW(backend::make_cuda_backend(o), Error);
  o.fuse = backend::kFuseAll;
  o.memory_budget_bytes = 1 << 20;  // 1 MiB: the KV cache below does not fit
  auto be = backend::make_cuda_backend(o);
  EXPECT_THROW(
      be->alloc_kv_cache({.n_layers = 4, .num_blocks = 1024, .block_size = 16, .n_kv_heads = 8, .head_dim = 128}),
      Error);
}

// A norm whose output is not read by a stacked GEMM stays the plain RMSNorm in every output dtype: add_rmsnorm and
// rmsnorm into an fp32 buffer (which the llama forward never does) against the CPU kernels, in invariant mode (where
// the backend first holds a norm back for its consumer) and in fast mode.
TEST(CudaBackendOps, PlainNormIntoFp32MatchesCpu) {
  REQUIRE_GPU();
  constexpr int64_t kRows = 3, kDim = 64, kVocab = 16;
  constexpr float kEps = 1e-6f;
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f), dw(0.5f, 1.5f);
  auto bf16_tensor = [&](std::vector<uint16_t>& store, std::vector<int64_t> shape, bool weight) {
    int64_t n = 1;
    for (const int64_t s : shape) n *= s;
    store.resize(static_cast<size_t>(n));
    for (auto& v : store) v = f32_to_bf16(weight ? dw(rng) : d(rng));
    return Tensor{.name = "t", .dtype = DType::BF16, .shape = std::move(shape), .data = store.data()};
  };
  std::vector<uint16_t> s_res, s_x, s_w;
  const Tensor t_res = bf16_tensor(s_res, {kVocab, kDim}, false), t_x = bf16_tensor(s_x, {kVocab, kDim}, false),
               t_w = bf16_tensor(s_w, {kDim}, true);
  const std::vector<int32_t> tokens = {3, 11, 0}, blocks = {0};
  // The CPU side: the embedded rows, then the plain norms.
  std::vector<float> res(kRows * kDim), x(kRows * kDim), w(kDim), ref_add(kRows * kDim), ref_norm(kRows * kDim);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < kDim; ++c) {
      res[r * kDim + c] = bf16_to_f32(s_res[tokens[r] * kDim + c]);
      x[r * kDim + c] = bf16_to_f32(s_x[tokens[r] * kDim + c]);
    }
  std::vector<float> res_after = res;
  kernels::cpu::add_rmsnorm(res_after.data(), x.data(), s_w.data(), DType::BF16, ref_add.data(), kRows,
                            {.n = kDim, .eps = kEps}, 1);
  kernels::cpu::rmsnorm(res.data(), s_w.data(), DType::BF16, ref_norm.data(), kRows, {.n = kDim, .eps = kEps});
  for (const Mode mode : {Mode::Invariant, Mode::Fast}) {
    backend::CudaBackendOptions o;
    o.mode = mode;
    o.max_rows = 8;
    o.max_logits = 8;
    auto be = backend::make_cuda_backend(o);
    const backend::Weight e_res = be->upload(t_res), e_x = be->upload(t_x), nw = be->upload(t_w);
    const backend::Act a_res = be->alloc(8, kDim, backend::ActRole::Residual);
    const backend::Act a_x = be->alloc(8, kDim, backend::ActRole::MatmulOut);
    const backend::Act a_add = be->alloc(8, kDim, backend::ActRole::Logits);
    const backend::Act a_norm = be->alloc(8, kDim, backend::ActRole::Logits);
    be->alloc_kv_cache({.n_layers = 1, .num_blocks = 4, .block_size = 16, .n_kv_heads = 1, .head_dim = 64});
    StepPlan plan;
    plan.add_seq(tokens, 0, blocks, StepPlan::Logits::All);
    std::vector<float> got_norm(kRows * kDim), got_add(kRows * kDim);
    be->begin_step(plan);
    be->embed(e_res, a_res);
    be->embed(e_x, a_x);
    be->rmsnorm(a_res, nw, kEps, a_norm);
    be->add_rmsnorm(a_res, a_x, nw, kEps, a_add);
    be->read_logits(a_norm, got_norm.data());
    be->read_logits(a_add, got_add.data());
    be->end_step();
    const char* what = mode == Mode::Invariant ? "invariant" : "fast";
    for (size_t i = 0; i < got_add.size(); ++i) {
      ASSERT_NEAR(got_norm[i], ref_norm[i], 1e-5f * (1.0f + std::fabs(ref_norm[i]))) << what << " rmsnorm " << i;
      ASSERT_NEAR(got_add[i], ref_add[i], 1e-5f * (1.0f + std::fabs(ref_add[i]))) << what << " add_rmsnorm " << i;
    }
  }
}

// A memory budget sizes the KV cache from what the weights leave, and a budget too small is a clear Error.
TEST(CudaBackendErrors, MemoryBudgetSizesTheCache) {
  REQUIRE_GPU();
  const testing::TinySpec spec = flavours()[0];
  auto model = testing::make_tiny_model(spec);
  EngineOptions o;
  o.backend = "cuda";
  o.block_size = 8;
  o.max_batch_tokens = 64;
  o.gpu_memory_bytes = int64_t{256} << 20;
  Engine e(*model, nullptr, o);
  const int blocks = e.stats().kv_blocks_total;
  EXPECT_GT(blocks, 100);
  std::printf("256 MiB budget: %d KV blocks of 8 positions\n", blocks);
  RequestParams p;
  p.max_tokens = 4;
  p.sampling.temperature = 0;
  const uint64_t id = e.submit({1, 2, 3}, p);
  e.run_until_idle();
  EXPECT_EQ(e.take_output(id)->tokens.size(), 4u);
  o.gpu_memory_bytes = 1 << 16;  // 64 KiB: not even the plan buffers and weights
  try {
    Engine tiny(*model, nullptr, o);
    ADD_FAILURE() << "a 64 KiB budget was accepted";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("gpu memory budget"), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace verbatim

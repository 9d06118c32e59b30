// The invariance suite: a target request's tokens, logprobs and text are BITWISE the same whether it runs alone or
// beside 1-63 other random requests arriving at random steps, with random prefill chunk sizes, with and without
// prefix-cache hits, under forced preemption and recompute, with 1 or N threads; and the scorer's prompt logprobs of
// (prompt + completion) equal the logprobs reported while generating. Greedy and seeded sampling. Runs on synthetic
// models of each architecture flavour, on stories260K (when the shared data is present) and, with fewer and shorter
// requests (it is a 30-layer 135M model on a 2-core CPU), on the default model SmolLM2-135M-Instruct (when present).
//
// Backend: VERBATIM_TEST_BACKEND=cuda runs the whole suite on the CUDA backend (CUDA graphs on; the engines of one test
// share one set of tuned GEMMs); without a GPU those tests skip loudly. Default: cpu. On cpu, two more cases run: the
// bf16 flavour with cpu_matmul bf16 (the AVX512_BF16 bf16-dot GEMM; skipped loudly on a CPU without it), the same with
// cpu_matmul amx (the AMX tile unit; skipped loudly without it), and the llama flavour with cpu_kv bf16 (the bf16 KV
// cache).
//
// Randomness: every case draws from VERBATIM_TEST_SEED (printed; default: a fresh seed each run) so that repeated CI
// runs explore new cases; a failure prints the seed that reproduces it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/make_backend.h"
#include "engine/engine.h"
#include "kernels/cpu/gemm_amx.h"
#include "kernels/cpu/gemm_bf16dot.h"
#include "model/default_model.h"
#include "model/model.h"
#include "support/feeding_backend.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "unit/forward_tiny_model.h"

namespace verbatim {
namespace {

uint64_t suite_seed() {
  static const uint64_t seed = [] {
    if (const char* s = std::getenv("VERBATIM_TEST_SEED")) return std::strtoull(s, nullptr, 10);
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 1000000007ull;
  }();
  return seed;
}

std::string test_backend() {
  const char* b = std::getenv("VERBATIM_TEST_BACKEND");
  return b != nullptr && *b != '\0' ? b : "cpu";
}

// Why the suite cannot run on test_backend() here ("" when it can).
std::string backend_missing() {
  if (test_backend() != "cuda") return "";
  if (!backend::have_cuda_backend()) return "this build has no CUDA backend";
  if (!backend::cuda_device_present()) return "no CUDA GPU found";
  return "";
}

#define VERBATIM_REQUIRE_TEST_BACKEND()                                                         \
  do {                                                                                          \
    const std::string why = backend_missing();                                                  \
    if (!why.empty())                                                                           \
      GTEST_SKIP() << "*** VERBATIM_TEST_BACKEND=" << test_backend() << ": " << why             \
                   << ": the invariance suite is SKIPPED on this backend, nothing was run ***"; \
  } while (0)

struct Target {
  std::vector<int32_t> prompt;
  RequestParams params;
};

struct Outcome {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::string text;
  int cached_prompt_tokens = 0;
  int preemptions = 0;              // of the target
  uint64_t engine_preemptions = 0;  // of every request in the run
  uint64_t fed_steps = 0;           // async scheduling: steps enqueued before the tokens ahead were read
};

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void expect_same(const Outcome& alone, const Outcome& other, const std::string& what) {
  EXPECT_EQ(alone.tokens, other.tokens) << what << " (seed " << suite_seed() << ")";
  EXPECT_TRUE(bitwise_equal(alone.logprobs, other.logprobs))
      << what << ": logprobs differ (seed " << suite_seed() << ")";
  EXPECT_EQ(alone.text, other.text) << what << " (seed " << suite_seed() << ")";
}

// How big the cases are. The defaults suit tiny models; a real model gets fewer, shorter requests.
struct Sizes {
  int target_prompt_min = 1, target_prompt_max = 40, target_tokens = 12;
  std::vector<int> other_counts = {1, 7, 0};  // 0: a random count in [1, 63]
  int other_prompt_max = 48, other_tokens_max = 16;
  int chunked_others = 9, nocache_others = 5, thread_others = 5, threads = 3;
  int num_blocks = 512;
  int tight_blocks = 16, tight_batch_tokens = 32, tight_others = 16, tight_attempts = 4;
  int forced_others = 6;
  backend::CpuMatmul cpu_matmul = backend::CpuMatmul::Fp32;  // cpu backend: the linear layers' arithmetic
  backend::CpuKv cpu_kv = backend::CpuKv::Fp32;              // cpu backend: the KV cache's element type
  int cuda_split_size = EngineOptions{}.cuda_split_size;     // cuda backend: the attention's splits
  int cuda_split_min = EngineOptions{}.cuda_split_min;
};

class Fixture {
 public:
  Fixture(const Model& model, const Tokenizer* tok, Sizes sizes = {}) : model_(model), tok_(tok), sz_(sizes) {
    if (test_backend() != "cpu") shared_ = backend::make_shared_device_resources(test_backend());
  }

  std::vector<int32_t> random_prompt(std::mt19937_64& rng, int max_len, int min_len = 1) const {
    std::uniform_int_distribution<int> len(min_len, max_len);
    std::uniform_int_distribution<int> tok(3, model_.config.vocab_size - 1);
    std::vector<int32_t> p(len(rng));
    for (auto& t : p) t = tok(rng);
    if (model_.config.bos_id >= 0) p[0] = model_.config.bos_id;
    return p;
  }

  Target random_target(std::mt19937_64& rng, bool seeded) const {
    Target t;
    t.prompt = random_prompt(rng, sz_.target_prompt_max, sz_.target_prompt_min);
    t.params.max_tokens = sz_.target_tokens;
    t.params.ignore_eos = true;
    if (seeded) {
      t.params.sampling.temperature = 0.9f;
      t.params.sampling.top_p = 0.95f;
      t.params.sampling.top_k = 40;
      t.params.sampling.seed = rng();
    } else {
      t.params.sampling.temperature = 0.0f;
    }
    return t;
  }

  EngineOptions base_options() const {
    EngineOptions o;
    o.num_blocks = sz_.num_blocks;
    o.block_size = 8;
    o.max_batch_tokens = 64;
    o.max_logits = 64;
    o.max_running = 64;
    o.backend = test_backend();
    o.backend_shared = shared_;
    o.cpu_matmul = sz_.cpu_matmul;
    o.cpu_kv = sz_.cpu_kv;
    o.cuda_split_size = sz_.cuda_split_size;
    o.cuda_split_min = sz_.cuda_split_min;
    return o;
  }

  Outcome run(const Target& target, const EngineOptions& opt, int n_others, std::mt19937_64& rng,
              const std::vector<int32_t>* warm_prefix = nullptr, bool target_last = false) const {
    Engine engine(model_, tok_, opt);
    if (warm_prefix != nullptr) {
      RequestParams p;
      p.max_tokens = 1;
      p.sampling.temperature = 0;
      engine.submit(*warm_prefix, p);
      engine.run_until_idle();
    }
    // Others arrive at random steps in [0, 12); the target at a random step in [0, 6).
    std::uniform_int_distribution<int> arrive(0, 11), target_arrive(0, 5), max_tok(1, sz_.other_tokens_max);
    std::vector<std::pair<int, Target>> others;
    for (int i = 0; i < n_others; ++i) {
      Target o;
      o.prompt = random_prompt(rng, sz_.other_prompt_max);
      o.params.max_tokens = max_tok(rng);
      o.params.sampling.temperature = (rng() % 2) ? 0.0f : 1.0f;
      o.params.sampling.seed = rng();
      others.emplace_back(target_last ? 0 : arrive(rng), o);
    }
    // target_last: the target is the newest running request, the first to be preempted when blocks run out.
    const int t_step = target_last ? 1 : n_others > 0 ? target_arrive(rng) : 0;
    uint64_t target_id = 0;
    bool submitted = false;
    for (int step = 0; step < 100000; ++step) {
      for (auto& [when, o] : others)
        if (when == step) engine.submit(o.prompt, o.params);
      if (step == t_step) {
        target_id = engine.submit(target.prompt, target.params);
        submitted = true;
      }
      const bool ran = engine.step();
      if (!ran && submitted && step > 12) break;
    }
    std::optional<RequestOutput> out = engine.take_output(target_id);
    EXPECT_TRUE(out.has_value());
    Outcome o;
    o.engine_preemptions = engine.stats().preemptions;
    o.fed_steps = engine.stats().fed_steps;
    EXPECT_EQ(engine.stats().kv_blocks_used, 0) << "blocks still held after every request finished";
    if (!out) return o;
    o.tokens = out->tokens;
    o.logprobs = out->logprobs;
    o.text = out->text;
    o.cached_prompt_tokens = out->cached_prompt_tokens;
    o.preemptions = out->preemptions;
    return o;
  }

  void check_all(uint64_t case_seed, bool seeded) const {
    std::mt19937_64 rng(case_seed);
    const Target target = random_target(rng, seeded);
    const EngineOptions base = base_options();
    const Outcome alone = run(target, base, 0, rng);
    ASSERT_EQ(alone.tokens.size(), static_cast<size_t>(sz_.target_tokens));

    // Beside 1-63 other requests arriving at random steps.
    for (int n : sz_.other_counts) {
      const int n_others = n > 0 ? n : static_cast<int>(1 + rng() % 63);
      expect_same(alone, run(target, base, n_others, rng), "with " + std::to_string(n_others) + " others");
    }
    // Random chunked prefill, alone and loaded.
    EngineOptions chunked = base;
    chunked.chunk_seed = 1 + rng() % 1000;
    expect_same(alone, run(target, chunked, 0, rng), "random chunks");
    expect_same(alone, run(target, chunked, sz_.chunked_others, rng),
                "random chunks with " + std::to_string(sz_.chunked_others) + " others");
    // Prefix-cache hit: a previous request shares the target's prompt (all but its last token).
    if (target.prompt.size() > 2 * static_cast<size_t>(base.block_size)) {
      std::vector<int32_t> prefix(target.prompt.begin(), target.prompt.end() - 1);
      const Outcome hit = run(target, base, 0, rng, &prefix);
      EXPECT_GT(hit.cached_prompt_tokens, 0) << "the prefix cache did not hit";
      expect_same(alone, hit, "prefix-cache hit");
    }
    // Prefix cache off.
    EngineOptions nocache = base;
    nocache.prefix_caching = false;
    expect_same(alone, run(target, nocache, sz_.nocache_others, rng), "prefix cache off");
    // Forced preemption: a cache too small for everyone at once.
    EngineOptions tight = base;
    tight.num_blocks = sz_.tight_blocks;
    tight.max_batch_tokens = sz_.tight_batch_tokens;
    int target_preemptions = 0;
    for (int attempt = 0; attempt < sz_.tight_attempts && target_preemptions == 0; ++attempt) {
      const Outcome pre = run(target, tight, sz_.tight_others, rng, nullptr, /*target_last=*/attempt % 2 == 0);
      target_preemptions += pre.preemptions;
      expect_same(alone, pre, "tight KV cache (preemption)");
    }
    // Forced preemption: every 4th step the newest running request loses its blocks and is recomputed.
    EngineOptions forced = base;
    forced.preempt_interval = 4;
    const Outcome f0 = run(target, forced, 0, rng);
    EXPECT_GT(f0.preemptions, 0) << "the target was never preempted";
    expect_same(alone, f0, "forced preemption, alone");
    expect_same(alone, run(target, forced, sz_.forced_others, rng, nullptr, /*target_last=*/true),
                "forced preemption, loaded");
    // Async scheduling, the other way from base: on the CPU through the feeding test backend (the CPU backend cannot
    // feed), on CUDA (where it is on by default) off.
    EngineOptions flipped = base;
    const bool cpu = test_backend() == "cpu";
    if (cpu) {
      flipped.wrap_backend = testing::feeding_wrapper();
    } else {
      flipped.async_scheduling = !base.async_scheduling;
    }
    const std::string flip = cpu ? "async scheduling" : "async scheduling off";
    const Outcome a0 = run(target, flipped, 0, rng);
    if (cpu) EXPECT_GT(a0.fed_steps, 0u) << "no step was fed";
    if (!cpu) EXPECT_EQ(a0.fed_steps, 0u) << "steps were fed with async scheduling off";
    expect_same(alone, a0, flip + ", alone");
    const int async_others = static_cast<int>(1 + rng() % 63);
    expect_same(alone, run(target, flipped, async_others, rng),
                flip + " with " + std::to_string(async_others) + " others");
    EngineOptions flipped_chunked = flipped;
    flipped_chunked.chunk_seed = chunked.chunk_seed;
    expect_same(alone, run(target, flipped_chunked, sz_.chunked_others, rng), flip + ", random chunks, loaded");
    EngineOptions flipped_tight = flipped;
    flipped_tight.num_blocks = tight.num_blocks;
    flipped_tight.max_batch_tokens = tight.max_batch_tokens;
    expect_same(alone, run(target, flipped_tight, sz_.tight_others, rng, nullptr, /*target_last=*/true),
                flip + ", tight KV cache (preemption)");
    EngineOptions flipped_forced = flipped;
    flipped_forced.preempt_interval = forced.preempt_interval;
    expect_same(alone, run(target, flipped_forced, sz_.forced_others, rng, nullptr, /*target_last=*/true),
                flip + ", forced preemption, loaded");
    // Threads.
    EngineOptions threads = base;
    threads.threads = sz_.threads;
    expect_same(alone, run(target, threads, sz_.thread_others, rng), std::to_string(sz_.threads) + " threads");
    // The scorer: prompt logprobs of (prompt + completion) equal the generation logprobs, bitwise.
    Engine scorer(model_, tok_, base);
    std::vector<int32_t> seq = target.prompt;
    seq.insert(seq.end(), alone.tokens.begin(), alone.tokens.end());
    const std::vector<float> scored = scorer.score(seq);
    std::vector<float> tail(scored.begin() + target.prompt.size(), scored.end());
    EXPECT_TRUE(bitwise_equal(alone.logprobs, tail)) << "scorer != sampler logprobs (seed " << suite_seed() << ")";
  }

 private:
  const Model& model_;
  const Tokenizer* tok_;
  std::shared_ptr<backend::SharedResources> shared_;
  Sizes sz_;
};

struct Flavour {
  const char* name;
  testing::TinySpec spec;
};

std::vector<Flavour> flavours() {
  testing::TinySpec llama;
  llama.label = "llama_gqa";
  llama.vocab_size = 96;
  llama.max_seq_len = 256;
  llama.tied = false;
  testing::TinySpec qwen2 = llama;
  qwen2.label = "qwen2_bias";
  qwen2.arch = Arch::Qwen2;
  qwen2.qkv_bias = true;
  qwen2.dtype = DType::BF16;
  testing::TinySpec qwen3 = llama;
  qwen3.label = "qwen3_qknorm";
  qwen3.arch = Arch::Qwen3;
  qwen3.qk_norm = true;
  qwen3.head_dim = 16;
  qwen3.tied = true;
  return {{"llama_gqa", llama}, {"qwen2_bias_bf16", qwen2}, {"qwen3_qknorm", qwen3}};
}

class SyntheticInvariance : public ::testing::TestWithParam<int> {};

TEST_P(SyntheticInvariance, GreedyAndSeededBitwiseUnderLoad) {
  VERBATIM_REQUIRE_TEST_BACKEND();
  const Flavour f = flavours()[GetParam()];
  auto model = testing::make_tiny_model(f.spec);
  Fixture fx(*model, nullptr);
  std::printf("[ invariance ] %s on %s, seed %llu\n", f.name, test_backend().c_str(),
              static_cast<unsigned long long>(suite_seed()));
  fx.check_all(suite_seed() * 31 + GetParam(), /*seeded=*/false);
  fx.check_all(suite_seed() * 37 + GetParam(), /*seeded=*/true);
}

INSTANTIATE_TEST_SUITE_P(Flavours, SyntheticInvariance, ::testing::Values(0, 1, 2),
                         [](const auto& info) { return std::string(flavours()[info.param].name); });

// One option case of the suite: flavour `f` with sizes `sz` (3 others and a random count, fewer than the flavour cases:
// CI time), greedy and seeded, the case named `what` in the log.
void check_option_case(const Flavour& f, Sizes sz, const std::string& what, uint64_t greedy_salt,
                       uint64_t seeded_salt) {
  auto model = testing::make_tiny_model(f.spec);
  sz.other_counts = {3, 0};
  Fixture fx(*model, nullptr, sz);
  std::printf("[ invariance ] %s with %s, seed %llu\n", f.name, what.c_str(),
              static_cast<unsigned long long>(suite_seed()));
  fx.check_all(suite_seed() * greedy_salt, /*seeded=*/false);
  fx.check_all(suite_seed() * seeded_salt, /*seeded=*/true);
}

// The bf16-operand GEMMs keep every promise of the suite too: their bits differ from the fp32 path's (and from each
// other's), but never with the batch, chunking, cache hits, preemption or threads. One flavour (bf16 weights, qkv
// bias).
void check_cpu_matmul_case(backend::CpuMatmul matmul, uint64_t greedy_salt, uint64_t seeded_salt) {
  Sizes sz;
  sz.cpu_matmul = matmul;
  check_option_case(flavours()[1], sz, std::string("cpu_matmul ") + backend::cpu_matmul_name(matmul), greedy_salt,
                    seeded_salt);
}

// cpu_matmul bf16: the AVX512_BF16 bf16-dot GEMM.
TEST(SyntheticInvarianceBf16Dot, GreedyAndSeededBitwiseUnderLoad) {
  if (test_backend() != "cpu") GTEST_SKIP() << "cpu_matmul applies to the cpu backend only";
  if (!kernels::cpu::gemm_bf16dot_available())
    GTEST_SKIP() << "*** this CPU has no AVX512_BF16: the cpu_matmul bf16 invariance case is SKIPPED, nothing was "
                    "run ***";
  check_cpu_matmul_case(backend::CpuMatmul::Bf16, 41, 43);
}

// cpu_matmul amx: the AMX tile unit (tiles of 1 .. 16 rows, whatever the batch).
TEST(SyntheticInvarianceAmx, GreedyAndSeededBitwiseUnderLoad) {
  if (test_backend() != "cpu") GTEST_SKIP() << "cpu_matmul applies to the cpu backend only";
  if (!kernels::cpu::gemm_amx_available())
    GTEST_SKIP() << "*** this CPU (or OS) has no AMX-BF16 tile unit: the cpu_matmul amx invariance case is SKIPPED, "
                    "nothing was run ***";
  check_cpu_matmul_case(backend::CpuMatmul::Amx, 47, 53);
}

// Grown attention splits on CUDA (cuda_split_min): a row's split size follows its own position, so a prompt's rows
// and its decode rows cross sizes (here 8-position splits below position 64, 16 from there: up to 8 splits a row,
// merged) and the promises still hold bitwise. One flavour (qwen3, q/k norm), greedy and seeded.
TEST(SyntheticInvarianceGrownSplits, GreedyAndSeededBitwiseUnderLoad) {
  if (test_backend() != "cuda") GTEST_SKIP() << "cuda_split_min applies to the cuda backend only";
  Sizes sz;
  sz.cuda_split_size = 64;
  sz.cuda_split_min = 8;
  sz.target_prompt_min = 40;  // the target's rows cross position 64, where its split size goes from 8 to 16
  sz.target_prompt_max = 90;
  check_option_case(flavours()[2], sz, "cuda splits grown from 8 to 64", 59, 61);
}

// The bf16 KV cache (cpu_kv bf16) too: K and V rounded to bf16 when stored change the bits, never with the batch,
// chunking, cache hits, preemption or threads. Another flavour than the bf16-dot case (GQA, fp32 weights). Runs on any
// CPU.
TEST(SyntheticInvarianceBf16Kv, GreedyAndSeededBitwiseUnderLoad) {
  if (test_backend() != "cpu") GTEST_SKIP() << "cpu_kv applies to the cpu backend only";
  Sizes sz;
  sz.cpu_kv = backend::CpuKv::Bf16;
  check_option_case(flavours()[0], sz, "cpu_kv bf16", 47, 53);
}

TEST(Stories260KInvariance, GreedyAndSeededBitwiseUnderLoad) {
  VERBATIM_REQUIRE_TEST_BACKEND();
  VERBATIM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  VERBATIM_REQUIRE_SHARED(tokp, "models/stories260K/tok512.bin");
  auto model = Model::load(bin);
  auto tok = load_tokenizer(tokp);
  Fixture fx(*model, tok.get());
  std::printf("[ invariance ] stories260K on %s, seed %llu\n", test_backend().c_str(),
              static_cast<unsigned long long>(suite_seed()));
  fx.check_all(suite_seed() * 41, /*seeded=*/false);
  fx.check_all(suite_seed() * 43, /*seeded=*/true);
}

// The default model, SmolLM2-135M-Instruct (Q4_1 GGUF dequantized to fp32; 30 layers, GQA, tied embeddings): every
// scenario of the suite, greedy, with few short requests so that it stays within a minute or two on 2 cores.
TEST(SmolLM2Invariance, GreedyBitwiseUnderLoad) {
  VERBATIM_REQUIRE_TEST_BACKEND();
  const std::optional<std::string> path = default_model_path();
  if (!path) GTEST_SKIP() << "the default model " << kDefaultModelFile << " is absent (scripts/setup.sh fetches it)";
  auto model = Model::load(*path);
  auto tok = load_tokenizer(model->tokenizer_path);
  Sizes sz;
  sz.target_prompt_min = 18;  // > 2 blocks of 8, for the prefix-cache hit
  sz.target_prompt_max = 24;
  sz.target_tokens = 5;
  sz.other_counts = {1, 4, 0};  // 0: a random count in [1, 63]
  sz.other_prompt_max = 10;
  sz.other_tokens_max = 4;
  sz.chunked_others = 3;
  sz.nocache_others = 2;
  sz.thread_others = 2;
  sz.threads = 2;
  sz.num_blocks = 64;
  sz.tight_blocks = 6;
  sz.tight_batch_tokens = 16;
  sz.tight_others = 4;
  sz.tight_attempts = 2;
  sz.forced_others = 2;
  Fixture fx(*model, tok.get(), sz);
  std::printf("[ invariance ] SmolLM2-135M on %s, seed %llu\n", test_backend().c_str(),
              static_cast<unsigned long long>(suite_seed()));
  fx.check_all(suite_seed() * 47, /*seeded=*/false);
}

}  // namespace
}  // namespace verbatim

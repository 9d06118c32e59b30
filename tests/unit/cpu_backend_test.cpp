// The CPU backend under LlamaForward, on tiny random models of three flavours (Llama with GQA, Qwen2 with q/k/v bias
// and multi-query attention, Qwen3 with q/k norm), f32 and bf16 weights, with shapes that leave ragged GEMM panels.
//
// Mode::Invariant: every logit must be a pure function of the sequence's own tokens. Asserted BITWISE:
//   - against LlamaReference (the backend's kernels compute the reference's operations in its order; the weaker
//     promise would be rel 1e-4, but the design gives equality, so equality is what is checked)
//   - one-shot prefill == random prefill chunks == token-by-token decode, at every position
//   - the same sequence beside 1..5 other random sequences (prefilling, decoding, finishing, starting) in its steps
//   - threads 1 == 2 == 3; block tables drawn in another order; block sizes 1, 3, 16
// Mode::Fast: within 1e-4 times max |logit| (+ 1e-5) of LlamaReference (its divergence is shown by the benchmarks).
#include "backend/cpu/cpu_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "forward_tiny_model.h"
#include "kernels/cpu/gemm_amx.h"
#include "kernels/cpu/gemm_bf16dot.h"
#include "model/llama.h"
#include "model/llama_forward.h"
#include "support/test_support.h"
#include "util/error.h"

namespace verbatim {
namespace {

using testing::make_tiny_model;
using testing::TinySpec;
using Logits = std::vector<std::vector<float>>;  // [position][vocab]

std::vector<TinySpec> flavours() {
  std::vector<TinySpec> v;
  TinySpec llama;  // GQA 6:2, dim 48, hidden 80, vocab 100: panels of 16 cut every width but 48
  llama.label = "llama_gqa";
  llama.dim = 48;
  llama.n_heads = 6;
  llama.n_kv_heads = 2;
  llama.head_dim = 8;
  llama.hidden_dim = 80;
  llama.vocab_size = 100;
  llama.seed = 11;
  v.push_back(llama);

  TinySpec qwen2;  // q/k/v bias, one KV head, untied lm_head
  qwen2.label = "qwen2_bias_mqa";
  qwen2.arch = Arch::Qwen2;
  qwen2.qkv_bias = true;
  qwen2.n_kv_heads = 1;
  qwen2.tied = false;
  qwen2.vocab_size = 77;
  qwen2.rope_theta = 1000000.0f;
  qwen2.seed = 12;
  v.push_back(qwen2);

  TinySpec qwen3;  // q/k norm, head_dim 16 != dim / n_heads
  qwen3.label = "qwen3_qk_norm";
  qwen3.arch = Arch::Qwen3;
  qwen3.qk_norm = true;
  qwen3.head_dim = 16;
  qwen3.n_layers = 3;
  qwen3.seed = 13;
  v.push_back(qwen3);
  return v;
}

std::vector<int32_t> random_tokens(std::mt19937_64& rng, int n, int vocab) {
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return t;
}

bool same_bits(const Logits& a, const Logits& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0)
      return false;
  return true;
}

// First position where two logit sequences differ, for messages.
std::string first_difference(const Logits& a, const Logits& b) {
  for (size_t p = 0; p < std::min(a.size(), b.size()); ++p)
    for (size_t i = 0; i < std::min(a[p].size(), b[p].size()); ++i)
      if (std::memcmp(&a[p][i], &b[p][i], sizeof(float)) != 0)
        return "pos " + std::to_string(p) + " logit " + std::to_string(i) + ": " + std::to_string(a[p][i]) + " vs " +
               std::to_string(b[p][i]);
  return a.size() == b.size() ? "none" : "lengths differ";
}

// A sequence being run: its tokens, how many are done, its blocks and the logits of every position done.
struct Seq {
  explicit Seq(std::vector<int32_t> t) : tokens(std::move(t)) {}
  std::vector<int32_t> tokens;
  int done = 0;
  std::vector<int32_t> blocks;
  Logits logits;
  bool finished() const { return done == static_cast<int>(tokens.size()); }
};

// LlamaForward on a CPU backend, with a pool of KV blocks handed out in a seeded random order (and returned when a
// sequence finishes, so later sequences reuse blocks holding stale data).
class Runner {
 public:
  Runner(const Model& model, Mode mode, int threads, int block_size, uint64_t block_seed,
         backend::CpuMatmul matmul = backend::CpuMatmul::Fp32, backend::CpuKv kv = backend::CpuKv::Fp32)
      : backend_(backend::make_cpu_backend({.mode = mode, .threads = threads, .matmul = matmul, .kv = kv})),
        fwd_(model, *backend_, {.num_blocks = kBlocks, .block_size = block_size, .max_rows = 256, .max_logits = 256}),
        block_size_(block_size),
        vocab_(model.config.vocab_size) {
    free_.resize(kBlocks);
    std::iota(free_.begin(), free_.end(), 0);
    std::mt19937_64 rng(block_seed);
    std::shuffle(free_.begin(), free_.end(), rng);
  }

  // One step: each (seq, n) runs the seq's next n tokens; the logits of all of them are kept.
  void step(const std::vector<std::pair<Seq*, int>>& work) {
    StepPlan plan;
    for (const auto& [s, n] : work) {
      const int end = s->done + n;
      while (static_cast<int>(s->blocks.size()) * block_size_ < end) {
        s->blocks.push_back(free_.back());
        free_.pop_back();
      }
      plan.add_seq(std::span<const int32_t>(s->tokens.data() + s->done, n), s->done, s->blocks, StepPlan::Logits::All);
    }
    std::vector<float> logits(static_cast<size_t>(plan.n_logits()) * vocab_);
    fwd_.execute(plan, logits.data());
    size_t row = 0;
    for (const auto& [s, n] : work) {
      for (int i = 0; i < n; ++i, ++row)
        s->logits.emplace_back(logits.begin() + row * vocab_, logits.begin() + (row + 1) * vocab_);
      s->done += n;
      if (s->finished()) {  // give the blocks back (front of the pool: reused last... or first, by seed)
        free_.insert(free_.begin(), s->blocks.begin(), s->blocks.end());
        s->blocks.clear();
      }
    }
  }

  // Runs one sequence alone in chunks of the given sizes (summing to its length).
  Logits run_alone(const std::vector<int32_t>& tokens, const std::vector<int>& chunks) {
    Seq s(tokens);
    for (int n : chunks) step({{&s, n}});
    return s.logits;
  }

 private:
  static constexpr int kBlocks = 512;
  std::unique_ptr<backend::Backend> backend_;
  LlamaForward fwd_;
  int block_size_;
  int vocab_;
  std::vector<int32_t> free_;
};

Logits reference_logits(const Model& model, const std::vector<int32_t>& tokens) {
  LlamaReference ref(model);
  Logits out;
  for (size_t p = 0; p < tokens.size(); ++p) {
    std::span<const float> l = ref.forward(tokens[p], static_cast<int>(p));
    out.emplace_back(l.begin(), l.end());
  }
  return out;
}

std::vector<int> random_chunks(std::mt19937_64& rng, int total, int max_chunk) {
  std::vector<int> c;
  while (total > 0) {
    const int n = std::min(total, 1 + static_cast<int>(rng() % max_chunk));
    c.push_back(n);
    total -= n;
  }
  return c;
}

struct Case {
  TinySpec spec;
  DType dtype;
};
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.spec.label;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  for (const TinySpec& s : flavours())
    for (DType d : {DType::F32, DType::BF16}) {
      Case c{s, d};
      c.spec.dtype = d;
      c.spec.label += d == DType::F32 ? "_f32" : "_bf16";
      v.push_back(c);
    }
  return v;
}

class CpuBackendForward : public ::testing::TestWithParam<Case> {};

TEST_P(CpuBackendForward, InvariantEqualsReferenceBitwise) {
  const TinySpec spec = GetParam().spec;
  auto model = make_tiny_model(spec);
  std::mt19937_64 rng(spec.seed * 101);
  const std::vector<int32_t> tokens = random_tokens(rng, 40, spec.vocab_size);
  const Logits want = reference_logits(*model, tokens);
  Runner runner(*model, Mode::Invariant, 2, 16, 1);
  const Logits got = runner.run_alone(tokens, {40});
  EXPECT_TRUE(same_bits(got, want)) << spec.label << ": " << first_difference(got, want);
}

TEST_P(CpuBackendForward, ChunkingNeverChangesBits) {
  const TinySpec spec = GetParam().spec;
  auto model = make_tiny_model(spec);
  std::mt19937_64 rng(spec.seed * 103);
  const std::vector<int32_t> tokens = random_tokens(rng, 37, spec.vocab_size);
  Runner runner(*model, Mode::Invariant, 2, 4, 2);
  const Logits one_shot = runner.run_alone(tokens, {37});
  const Logits decode = runner.run_alone(tokens, std::vector<int>(37, 1));
  EXPECT_TRUE(same_bits(decode, one_shot)) << "token by token: " << first_difference(decode, one_shot);
  for (int trial = 0; trial < 4; ++trial) {
    const std::vector<int> chunks = random_chunks(rng, 37, 12);
    const Logits chunked = runner.run_alone(tokens, chunks);
    EXPECT_TRUE(same_bits(chunked, one_shot))
        << "chunks trial " << trial << ": " << first_difference(chunked, one_shot);
  }
}

TEST_P(CpuBackendForward, OtherSequencesNeverChangeBits) {
  const TinySpec spec = GetParam().spec;
  auto model = make_tiny_model(spec);
  std::mt19937_64 rng(spec.seed * 107);
  const std::vector<int32_t> tokens = random_tokens(rng, 33, spec.vocab_size);
  Runner runner(*model, Mode::Invariant, 2, 4, 3);
  const Logits alone = runner.run_alone(tokens, std::vector<int>(33, 1));
  for (int trial = 0; trial < 3; ++trial) {
    Seq target(tokens);
    std::vector<Seq> others;  // stable storage: reserve so pointers survive
    others.reserve(200);
    std::vector<Seq*> active;
    while (!target.finished()) {
      // Keep 1..5 other sequences in flight; finished ones leave, new ones of random length arrive.
      const int want = 1 + static_cast<int>(rng() % 5);
      while (static_cast<int>(active.size()) < want) {
        others.push_back(Seq(random_tokens(rng, 1 + static_cast<int>(rng() % 30), spec.vocab_size)));
        active.push_back(&others.back());
      }
      std::vector<std::pair<Seq*, int>> work;
      for (Seq* o : active) {
        const int left = static_cast<int>(o->tokens.size()) - o->done;
        work.push_back({o, o->done == 0 ? std::min(left, 1 + static_cast<int>(rng() % 9)) : 1});
      }
      const int left = static_cast<int>(target.tokens.size()) - target.done;
      const int n = std::min(left, rng() % 3 == 0 ? 1 + static_cast<int>(rng() % 6) : 1);
      work.insert(work.begin() + static_cast<long>(rng() % (work.size() + 1)), {&target, n});
      runner.step(work);
      active.erase(std::remove_if(active.begin(), active.end(), [](Seq* s) { return s->finished(); }), active.end());
    }
    EXPECT_TRUE(same_bits(target.logits, alone)) << "trial " << trial << ": " << first_difference(target.logits, alone);
  }
}

TEST_P(CpuBackendForward, ThreadsBlockTablesAndBlockSizesNeverChangeBits) {
  const TinySpec spec = GetParam().spec;
  auto model = make_tiny_model(spec);
  std::mt19937_64 rng(spec.seed * 109);
  const std::vector<int32_t> tokens = random_tokens(rng, 30, spec.vocab_size);
  const std::vector<int> chunks = random_chunks(rng, 30, 8);
  Runner base(*model, Mode::Invariant, 1, 16, 4);
  const Logits want = base.run_alone(tokens, chunks);
  for (int threads : {2, 3}) {
    Runner r(*model, Mode::Invariant, threads, 16, 4);
    const Logits got = r.run_alone(tokens, chunks);
    EXPECT_TRUE(same_bits(got, want)) << "threads " << threads << ": " << first_difference(got, want);
  }
  for (int block_size : {1, 3, 16}) {
    Runner r(*model, Mode::Invariant, 2, block_size, 77 + block_size);
    const Logits got = r.run_alone(tokens, chunks);
    EXPECT_TRUE(same_bits(got, want)) << "block size " << block_size << ": " << first_difference(got, want);
  }
}

TEST_P(CpuBackendForward, FastStaysWithinToleranceOfReference) {
  const TinySpec spec = GetParam().spec;
  auto model = make_tiny_model(spec);
  std::mt19937_64 rng(spec.seed * 113);
  for (int threads : {1, 2, 4}) {
    Runner runner(*model, Mode::Fast, threads, 4, 5);
    std::vector<Seq> seqs;
    for (int i = 0; i < 4; ++i) seqs.push_back(Seq(random_tokens(rng, 10 + 7 * i, spec.vocab_size)));
    // Prefill chunks of all, then decode all together (m > 1: library GEMM), the last ones decoding alone (m = 1,
    // split-KV attention when threads > 1).
    bool any = true;
    while (any) {
      std::vector<std::pair<Seq*, int>> work;
      for (Seq& s : seqs)
        if (!s.finished())
          work.push_back({&s, std::min(static_cast<int>(s.tokens.size()) - s.done, s.done == 0 ? 6 : 1)});
      any = !work.empty();
      if (any) runner.step(work);
    }
    int positions = 0, differing = 0;  // reported, not asserted: the divergence that Mode::Invariant prevents
    for (const Seq& s : seqs) {
      const Logits want = reference_logits(*model, s.tokens);
      for (size_t p = 0; p < want.size(); ++p) {
        ++positions;
        differing += std::memcmp(s.logits[p].data(), want[p].data(), want[p].size() * sizeof(float)) != 0;
        float scale = 0.0f;
        for (float x : want[p]) scale = std::max(scale, std::abs(x));
        for (size_t i = 0; i < want[p].size(); ++i)
          ASSERT_NEAR(s.logits[p][i], want[p][i], 1e-4 * scale + 1e-5)
              << spec.label << " threads " << threads << " pos " << p << " logit " << i;
      }
    }
    std::printf("fast mode, %s, %d threads: %d of %d positions differ bitwise from the reference\n", spec.label.c_str(),
                threads, differing, positions);
  }
}

// cpu_matmul bf16 / amx (bf16 operands: the AVX512_BF16 bf16-dot GEMM, the AMX one): a sequence's logits are bitwise
// the same token by token and prefilled in chunks beside other sequences, on 1 and 3 threads; they differ from the fp32
// reference's (the path is really taken) but stay near them (activations rounded to bf16: a relative error of ~2^-9
// per rounding).
void check_bf16_operands_invariant_and_near_reference(const TinySpec& spec, backend::CpuMatmul matmul) {
  auto model = make_tiny_model(spec);
  std::mt19937_64 rng(spec.seed * 127);
  const std::vector<int32_t> tokens = random_tokens(rng, 29, spec.vocab_size);
  Runner alone_runner(*model, Mode::Invariant, 1, 4, 6, matmul);
  const Logits alone = alone_runner.run_alone(tokens, std::vector<int>(29, 1));
  Runner runner(*model, Mode::Invariant, 3, 4, 7, matmul);
  Seq target(tokens);
  std::vector<Seq> others;
  others.reserve(8);
  for (int i = 0; i < 3; ++i) others.push_back(Seq(random_tokens(rng, 5 + 9 * i, spec.vocab_size)));
  const std::vector<int> chunks = random_chunks(rng, 29, 7);
  for (int n : chunks) {
    std::vector<std::pair<Seq*, int>> work = {{&target, n}};
    for (Seq& o : others)
      if (!o.finished()) work.push_back({&o, std::min(3, static_cast<int>(o.tokens.size()) - o.done)});
    runner.step(work);
  }
  EXPECT_TRUE(same_bits(target.logits, alone)) << first_difference(target.logits, alone);
  const Logits want = reference_logits(*model, tokens);
  int differing = 0;
  double worst = 0.0;
  for (size_t p = 0; p < want.size(); ++p) {
    differing += std::memcmp(alone[p].data(), want[p].data(), want[p].size() * sizeof(float)) != 0;
    float scale = 0.0f;
    for (float x : want[p]) scale = std::max(scale, std::abs(x));
    for (size_t i = 0; i < want[p].size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(alone[p][i]) - want[p][i]) / (scale + 1e-6));
      ASSERT_NEAR(alone[p][i], want[p][i], 3e-2 * scale + 1e-4) << spec.label << " pos " << p << " logit " << i;
    }
  }
  std::printf(
      "cpu_matmul %s, %s: %d of %zu positions differ from the fp32 reference, worst |diff| / max|logit| = "
      "%.2e\n",
      backend::cpu_matmul_name(matmul), spec.label.c_str(), differing, want.size(), worst);
  EXPECT_GT(differing, 0);
}

TEST_P(CpuBackendForward, Bf16DotIsInvariantAndNearReference) {
  if (!kernels::cpu::gemm_bf16dot_available()) GTEST_SKIP() << "this CPU has no AVX512_BF16 (cpu_matmul bf16)";
  check_bf16_operands_invariant_and_near_reference(GetParam().spec, backend::CpuMatmul::Bf16);
}

TEST_P(CpuBackendForward, AmxIsInvariantAndNearReference) {
  if (!kernels::cpu::gemm_amx_available())
    GTEST_SKIP() << "this CPU (or OS) has no AMX-BF16 tile unit (cpu_matmul amx): not tested here";
  check_bf16_operands_invariant_and_near_reference(GetParam().spec, backend::CpuMatmul::Amx);
  // The tile unit really ran: its logits are not the bf16-dot GEMM's (same operands, other rounding).
  if (kernels::cpu::gemm_bf16dot_available()) {
    auto model = make_tiny_model(GetParam().spec);
    std::mt19937_64 rng(GetParam().spec.seed * 131);
    const std::vector<int32_t> tokens = random_tokens(rng, 29, GetParam().spec.vocab_size);
    Runner amx(*model, Mode::Invariant, 1, 4, 6, backend::CpuMatmul::Amx);
    Runner dot(*model, Mode::Invariant, 1, 4, 6, backend::CpuMatmul::Bf16);
    const Logits a = amx.run_alone(tokens, std::vector<int>(29, 1)), d = dot.run_alone(tokens, std::vector<int>(29, 1));
    int differing = 0;
    for (size_t p = 0; p < a.size(); ++p)
      differing += std::memcmp(a[p].data(), d[p].data(), a[p].size() * sizeof(float)) != 0;
    std::printf("cpu_matmul amx vs bf16, %s: %d of %zu positions differ\n", GetParam().spec.label.c_str(), differing,
                a.size());
    EXPECT_GT(differing, 0);
  }
}

// cpu_kv bf16 (K and V stored rounded to bf16): the same promises as cpu_matmul bf16 above — bitwise the same token by
// token and prefilled in chunks beside other sequences, on 1 and 3 threads, in both modes' invariant path; different
// from the fp32 reference (the rounding is really applied) but near it. Runs on any CPU.
TEST_P(CpuBackendForward, Bf16KvIsInvariantAndNearReference) {
  const TinySpec spec = GetParam().spec;
  auto model = make_tiny_model(spec);
  std::mt19937_64 rng(spec.seed * 131);
  const std::vector<int32_t> tokens = random_tokens(rng, 29, spec.vocab_size);
  Runner alone_runner(*model, Mode::Invariant, 1, 4, 6, backend::CpuMatmul::Fp32, backend::CpuKv::Bf16);
  const Logits alone = alone_runner.run_alone(tokens, std::vector<int>(29, 1));
  Runner runner(*model, Mode::Invariant, 3, 4, 7, backend::CpuMatmul::Fp32, backend::CpuKv::Bf16);
  Seq target(tokens);
  std::vector<Seq> others;
  others.reserve(8);
  for (int i = 0; i < 3; ++i) others.push_back(Seq(random_tokens(rng, 5 + 9 * i, spec.vocab_size)));
  for (int n : random_chunks(rng, 29, 7)) {
    std::vector<std::pair<Seq*, int>> work = {{&target, n}};
    for (Seq& o : others)
      if (!o.finished()) work.push_back({&o, std::min(3, static_cast<int>(o.tokens.size()) - o.done)});
    runner.step(work);
  }
  EXPECT_TRUE(same_bits(target.logits, alone)) << first_difference(target.logits, alone);
  const Logits want = reference_logits(*model, tokens);
  int differing = 0;
  double worst = 0.0;
  for (size_t p = 0; p < want.size(); ++p) {
    differing += std::memcmp(alone[p].data(), want[p].data(), want[p].size() * sizeof(float)) != 0;
    float scale = 0.0f;
    for (float x : want[p]) scale = std::max(scale, std::abs(x));
    for (size_t i = 0; i < want[p].size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(alone[p][i]) - want[p][i]) / (scale + 1e-6));
      ASSERT_NEAR(alone[p][i], want[p][i], 3e-2 * scale + 1e-4) << spec.label << " pos " << p << " logit " << i;
    }
  }
  std::printf("cpu_kv bf16, %s: %d of %zu positions differ from the fp32 reference, worst |diff| / max|logit| = %.2e\n",
              spec.label.c_str(), differing, want.size(), worst);
  EXPECT_GT(differing, 0);
}

INSTANTIATE_TEST_SUITE_P(Flavours, CpuBackendForward, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.spec.label; });

// A real trained model (llama2.c stories260K: GQA 8:4, head_dim 8): greedy decoding of 60 tokens from BOS, one
// sequence alone (token by token) and the same prompt prefilled in chunks beside two other sequences, against
// LlamaReference's logits, all bitwise.
TEST(CpuBackendRealModel, Stories260KGreedyIsBitwiseReference) {
  VERBATIM_REQUIRE_SHARED(path, "models/stories260K/stories260K.bin");
  auto model = Model::load(path);
  std::vector<int32_t> tokens = {1};  // BOS, then the reference's greedy choices
  LlamaReference ref(*model);
  Logits want;
  for (int pos = 0; pos < 60; ++pos) {
    std::span<const float> l = ref.forward(tokens[pos], pos);
    want.emplace_back(l.begin(), l.end());
    tokens.push_back(static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin()));
  }
  tokens.pop_back();
  Runner alone(*model, Mode::Invariant, 1, 16, 6);
  const Logits decoded = alone.run_alone(tokens, std::vector<int>(60, 1));
  EXPECT_TRUE(same_bits(decoded, want)) << first_difference(decoded, want);

  Runner busy(*model, Mode::Invariant, 2, 16, 7);
  std::mt19937_64 rng(5);
  Seq target(tokens), a(random_tokens(rng, 50, model->config.vocab_size)), b(random_tokens(rng, 9, 512));
  busy.step({{&a, 20}, {&target, 25}, {&b, 9}});
  busy.step({{&target, 35}, {&a, 30}});
  EXPECT_TRUE(same_bits(target.logits, want)) << first_difference(target.logits, want);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CpuBackend, ModesOptionsAndShapeErrors) {
  EXPECT_EQ(parse_mode("invariant"), Mode::Invariant);
  EXPECT_EQ(parse_mode("fast"), Mode::Fast);
  EXPECT_STREQ(mode_name(Mode::Fast), "fast");
  EXPECT_NE(error_of([] { parse_mode("quick"); }).find("quick"), std::string::npos);
  EXPECT_NE(error_of([] { backend::make_cpu_backend({.threads = 0}); }).find("threads"), std::string::npos);
  EXPECT_EQ(backend::parse_cpu_matmul("fp32"), backend::CpuMatmul::Fp32);
  EXPECT_EQ(backend::parse_cpu_matmul("bf16"), backend::CpuMatmul::Bf16);
  EXPECT_STREQ(backend::cpu_matmul_name(backend::CpuMatmul::Bf16), "bf16");
  EXPECT_EQ(backend::parse_cpu_matmul("amx"), backend::CpuMatmul::Amx);
  EXPECT_STREQ(backend::cpu_matmul_name(backend::CpuMatmul::Amx), "amx");
  EXPECT_NE(error_of([] { backend::parse_cpu_matmul("int8"); }).find("cpu_matmul"), std::string::npos);
  EXPECT_EQ(backend::parse_cpu_kv("fp32"), backend::CpuKv::Fp32);
  EXPECT_EQ(backend::parse_cpu_kv("bf16"), backend::CpuKv::Bf16);
  EXPECT_STREQ(backend::cpu_kv_name(backend::CpuKv::Bf16), "bf16");
  EXPECT_STREQ(backend::cpu_kv_name(backend::CpuKv::Fp32), "fp32");
  EXPECT_NE(error_of([] { backend::parse_cpu_kv("fp8"); }).find("cpu_kv"), std::string::npos);
  EXPECT_EQ(backend::make_cpu_backend({.kv = backend::CpuKv::Bf16})->kv_element_bytes(), 2);
  // Without AVX512_BF16 the bf16 option fails at creation, naming the feature; with it, the backend starts.
  const std::string bf16_error = error_of([] { backend::make_cpu_backend({.matmul = backend::CpuMatmul::Bf16}); });
  if (kernels::cpu::gemm_bf16dot_available()) {
    EXPECT_EQ(bf16_error, "");
  } else {
    EXPECT_NE(bf16_error.find("AVX512_BF16"), std::string::npos) << bf16_error;
  }
  // Likewise amx without the AMX tile unit (or the OS's permission for it), naming both.
  const std::string amx_error = error_of([] { backend::make_cpu_backend({.matmul = backend::CpuMatmul::Amx}); });
  if (kernels::cpu::gemm_amx_available()) {
    EXPECT_EQ(amx_error, "");
  } else {
    EXPECT_NE(amx_error.find("amx_bf16"), std::string::npos) << amx_error;
    EXPECT_NE(amx_error.find("ARCH_REQ_XCOMP_PERM"), std::string::npos) << amx_error;
  }
  std::printf("cpu kernel paths: %s\n", backend::cpu_kernel_paths().c_str());

  auto be = backend::make_cpu_backend({});
  EXPECT_EQ(be->name(), "cpu");
  EXPECT_EQ(be->kv_element_bytes(), 4);
  StepPlan plan;
  const std::vector<int32_t> toks = {1, 2, 3}, blocks = {0};
  plan.add_seq(toks, 0, blocks, StepPlan::Logits::Last);
  EXPECT_NE(error_of([&] { be->begin_step(plan); }).find("alloc_kv_cache"), std::string::npos);
  be->alloc_kv_cache({.n_layers = 1, .num_blocks = 2, .block_size = 4, .n_kv_heads = 1, .head_dim = 4});
  const std::vector<float> w(12 * 8, 0.5f);
  Tensor t{.name = "w", .dtype = DType::F32, .shape = {12, 8}, .data = w.data()};
  const backend::Weight wt = be->upload(t);
  EXPECT_EQ(wt.rows, 12);
  EXPECT_EQ(wt.cols, 8);
  backend::Act x = be->alloc(2, 8, backend::ActRole::MatmulOut), y = be->alloc(4, 12, backend::ActRole::MatmulOut),
               wrong = be->alloc(4, 11, backend::ActRole::MatmulOut);
  EXPECT_NE(error_of([&] { be->matmul(x, wt, {}, y); }).find("outside begin_step"), std::string::npos);
  be->begin_step(plan);
  EXPECT_NE(error_of([&] { be->matmul(x, wt, {}, y); }).find("matmul x"), std::string::npos);  // 2 rows < 3
  backend::Act x3 = be->alloc(3, 8, backend::ActRole::MatmulOut);
  EXPECT_NE(error_of([&] { be->matmul(x3, wt, {}, wrong); }).find("matmul y"), std::string::npos);
  be->matmul(x3, wt, {}, y);
  const float* yd = static_cast<const float*>(y.data);
  EXPECT_EQ(yd[0], 0.0f);  // zeroed activations times 0.5
  EXPECT_NE(error_of([&] { be->attention(1, x3, 1, y); }).find("layer 1"), std::string::npos);
  be->end_step();
}

}  // namespace
}  // namespace verbatim

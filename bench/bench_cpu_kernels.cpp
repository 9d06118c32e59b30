// Micro benchmarks of the CPU kernels, invariant vs fast:
//   StreamRead        the machine's streaming-read bandwidth (AVX2 loads of 4 streams over 512 MiB): a matvec's bound
//   Matvec            m = 1, weights cold (rotating over >= 256 MiB of copies, as in a real decode step):
//                     GB/s of weights read, vs StreamRead; bf16 at llama2-110m shapes
//   Gemm              m = 16, 64: GFLOP/s of the invariant kernel (bf16 and f32 weights) vs OpenBLAS sgemm (f32)
//   GemmBf16Operands  m = 1, 16, 32, 64: the bf16-dot GEMM (cpu_matmul bf16) vs the AMX one (cpu_matmul amx), GB/s,
//   GFLOP/s Attention         one decode row per sequence, invariant vs split-KV, at a few context lengths
//   AttentionBf16Kv   the invariant one over a bf16 cache (cpu_kv bf16)
//   DecodeStep        a whole LlamaForward decode step of a random bf16 llama2-110m, B sequences of one row each:
//                     tokens/s, invariant vs fast
// Arguments are {..., threads}; run with --benchmark_counters_tabular=true. Rates are per wall-clock second; on a busy
// machine, --cpu_time makes them per second of the calling thread's CPU time instead (meaningful for 1 thread only).
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_amx.h"
#include "kernels/cpu/gemm_bf16dot.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/paged_attention_split.h"
#include "model/llama_forward.h"
#include "model/model.h"
#include "util/half.h"

namespace {

using verbatim::DType;
namespace kc = verbatim::kernels::cpu;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t[], FreeDeleter>;

Buffer aligned(size_t bytes) {
  return Buffer(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
}

// As aligned, in 2 MiB-aligned memory with transparent huge pages asked for (as the CPU backend's weight arena).
Buffer aligned_huge(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t size = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, size);
  madvise(p, size, MADV_HUGEPAGE);  // a hint: failure leaves small pages
  return Buffer(static_cast<uint8_t*>(p));
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// f32 -> f16 by truncating the mantissa (values here are in [-1, 1]; tiny ones flush to zero).
uint16_t f32_to_f16_truncate(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int exp = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp) << 10) | ((bits >> 13) & 0x3ffu));
}

// W [n, k] as dtype, from random floats.
std::vector<uint8_t> random_weight(DType dtype, int64_t n, int64_t k, uint64_t seed) {
  const std::vector<float> f = random_floats(static_cast<size_t>(n * k), seed);
  std::vector<uint8_t> out(f.size() * verbatim::dtype_size(dtype));
  if (dtype == DType::F32) {
    std::memcpy(out.data(), f.data(), out.size());
  } else {
    uint16_t* h = reinterpret_cast<uint16_t*>(out.data());
    for (size_t i = 0; i < f.size(); ++i) {
      if (dtype == DType::BF16) {
        h[i] = verbatim::f32_to_bf16(f[i]);
      } else {
        h[i] = f32_to_f16_truncate(f[i]);
      }
    }
  }
  return out;
}

// ---- Streaming read ----------------------------------------------------------------------------------------------

// Sums n floats read as 4 streams at once (the 4 quarters of the range, in lockstep), as a 1-row matvec reads
// 4 weight panels at once: several streams keep more misses in flight than one.
__attribute__((target("avx2"))) float sum_range(const float* p, int64_t n) {
  const int64_t q = n / 4 / 8 * 8;
  const float* s0 = p;
  const float* s1 = p + q;
  const float* s2 = p + 2 * q;
  const float* s3 = p + 3 * q;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < q; i += 8) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(s0 + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(s1 + i));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(s2 + i));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(s3 + i));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

void StreamRead(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t n = int64_t{512} << 20 >> 2;  // 512 MiB of floats
  Buffer buf = aligned(static_cast<size_t>(n) * 4);
  float* p = reinterpret_cast<float*>(buf.get());
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) p[i] = 1.0f;  // first touch by the thread that reads it
  for (auto _ : state) {
    float total = 0.0f;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
    for (int t = 0; t < threads; ++t) {
      const int64_t i0 = n * t / threads / 32 * 32, i1 = n * (t + 1) / threads / 32 * 32;  // 4 x 8 floats
      total += sum_range(p + i0, i1 - i0);
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(n) * 4, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- GEMM ---------------------------------------------------------------------------------------------------------

// Enough packed copies of one weight to total >= 256 MiB, so that each call reads its weights from memory.
struct ColdWeights {
  std::vector<Buffer> copies;
  size_t bytes = 0;
  ColdWeights(DType dtype, int64_t n, int64_t k, bool cold) {
    const std::vector<uint8_t> w = random_weight(dtype, n, k, 7);
    bytes = kc::gemm_packed_bytes(dtype, n, k);
    const size_t count = cold ? std::max<size_t>(2, (size_t{256} << 20) / bytes + 1) : 1;
    for (size_t i = 0; i < count; ++i) {
      copies.push_back(aligned(bytes));
      kc::gemm_pack(w.data(), dtype, copies.back().get(), {.n = n, .k = k, .threads = 1});
    }
  }
};

DType dtype_arg(int64_t v) {
  return v == 0 ? DType::F32 : v == 1 ? DType::BF16 : DType::F16;
}

// Args: {dtype (0 f32, 1 bf16, 2 f16), m, n, k, threads}
void GemmInvariant(benchmark::State& state) {
  const DType dtype = dtype_arg(state.range(0));
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  const int threads = static_cast<int>(state.range(4));
  ColdWeights w(dtype, n, k, /*cold=*/true);
  const std::vector<float> x = random_floats(static_cast<size_t>(m * k), 1);
  std::vector<float> y(static_cast<size_t>(m * n));
  size_t i = 0;
  for (auto _ : state) {
    kc::gemm(x.data(), w.copies[i].get(), dtype, y.data(), {.m = m, .n = n, .k = k, .threads = threads});
    i = (i + 1) % w.copies.size();
    benchmark::ClobberMemory();
  }
  const double weight_bytes = static_cast<double>(n * k) * verbatim::dtype_size(dtype);
  state.counters["GB/s"] = benchmark::Counter(weight_bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Args: {kernel (0 bf16-dot, 1 amx), m, n, k, threads}: the two GEMMs on bf16 operands (cpu_matmul bf16 and amx),
// bf16 weights packed once per copy (cold: >= 256 MiB of copies, so every call reads its weights from memory).
void GemmBf16Operands(benchmark::State& state) {
  const bool amx = state.range(0) == 1;
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  const int threads = static_cast<int>(state.range(4));
  if (amx ? !kc::gemm_amx_available() : !kc::gemm_bf16dot_available()) {
    state.SkipWithError(amx ? "no AMX-BF16 here" : "no AVX512_BF16 here");
    return;
  }
  const std::vector<uint8_t> wb = random_weight(DType::BF16, n, k, 7);
  const size_t bytes = kc::gemm_bf16dot_packed_bytes(n, k);
  std::vector<Buffer> copies;
  for (size_t c = 0; c < std::max<size_t>(2, (size_t{256} << 20) / bytes + 1); ++c) {
    copies.push_back(aligned_huge(bytes));
    kc::gemm_bf16dot_pack(wb.data(), DType::BF16, copies.back().get(), {.n = n, .k = k, .threads = 1});
  }
  const std::vector<float> x = random_floats(static_cast<size_t>(m * k), 1);
  std::vector<float> y(static_cast<size_t>(m * n));
  Buffer scratch = aligned(std::max(kc::gemm_amx_scratch_bytes(m, k), kc::gemm_bf16dot_scratch_bytes(m, k)));
  const kc::GemmBf16DotParams p{.m = m, .n = n, .k = k, .threads = threads};
  size_t i = 0;
  for (auto _ : state) {
    if (amx) {
      kc::gemm_amx(x.data(), copies[i].get(), y.data(), scratch.get(), p);
    } else {
      kc::gemm_bf16dot(x.data(), copies[i].get(), y.data(), scratch.get(), p);
    }
    i = (i + 1) % copies.size();
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(n * k) * 2, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Args: {m, n, k, threads}: OpenBLAS sgemm on fp32 weights (what Mode::Fast runs for m > 1; sgemv for m = 1).
// OpenBLAS runs its own threads (OPENBLAS_NUM_THREADS); `threads` only labels the row.
void GemmOpenBlas(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const std::vector<uint8_t> wb = random_weight(DType::F32, n, k, 7);
  const size_t bytes = wb.size();
  const size_t count = std::max<size_t>(2, (size_t{256} << 20) / bytes + 1);
  std::vector<Buffer> copies;
  for (size_t c = 0; c < count; ++c) {
    copies.push_back(aligned(bytes));
    std::memcpy(copies.back().get(), wb.data(), bytes);
  }
  const std::vector<float> x = random_floats(static_cast<size_t>(m * k), 1);
  std::vector<float> y(static_cast<size_t>(m * n));
  size_t i = 0;
  for (auto _ : state) {
    const float* w = reinterpret_cast<const float*>(copies[i].get());
    if (m == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(n), static_cast<int>(k), 1.0f, w, static_cast<int>(k),
                  x.data(), 1, 0.0f, y.data(), 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
                  static_cast<int>(k), 1.0f, x.data(), static_cast<int>(k), w, static_cast<int>(k), 0.0f, y.data(),
                  static_cast<int>(n));
    }
    i = (i + 1) % copies.size();
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// llama2-110m (dim 768, hidden 2048, vocab 32000) shapes: [n, k] of wq/wk/wv/wo, w_gate/w_up, w_down, lm_head.
const int64_t kShapes[][2] = {{768, 768}, {2048, 768}, {768, 2048}, {32000, 768}};

void MatvecArgs(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (const auto& s : kShapes) b->Args({1, 1, s[0], s[1], threads});
  for (int threads : {1, 2}) b->Args({0, 1, 768, 768, threads});  // f32 weights for comparison
}
void GemmArgs(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (int64_t m : {16, 64})
      for (int64_t dt : {1, 0})
        for (const auto& s : {kShapes[0], kShapes[1], kShapes[2]}) b->Args({dt, m, s[0], s[1], threads});
}
void Bf16OperandArgs(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (int64_t m : {1, 16, 32, 64})
      for (int64_t kernel : {0, 1})
        for (const auto& s : kShapes) b->Args({kernel, m, s[0], s[1], threads});
}
void BlasArgs(benchmark::internal::Benchmark* b) {
  for (int64_t m : {1, 16, 64})
    for (const auto& s : {kShapes[0], kShapes[1], kShapes[2]}) b->Args({m, s[0], s[1], 0});
}

// ---- Attention ----------------------------------------------------------------------------------------------------

// Args: {rows (sequences, one decode row each), context, threads, splits (0: invariant)}. llama2-110m heads: 12 x 64.
void Attention(benchmark::State& state) {
  const int64_t n_rows = state.range(0), ctx = state.range(1);
  const int threads = static_cast<int>(state.range(2)), splits = static_cast<int>(state.range(3));
  const kc::PagedKvLayout l{.block_size = 16, .n_kv_heads = 12, .head_dim = 64};
  const int n_heads = 12;
  const int64_t blocks_per_seq = (ctx + l.block_size - 1) / l.block_size;
  const std::vector<float> k = random_floats(static_cast<size_t>(n_rows * blocks_per_seq * l.block_floats()), 3);
  const std::vector<float> v = random_floats(k.size(), 4);
  const std::vector<float> q = random_floats(static_cast<size_t>(n_rows * n_heads * l.head_dim), 5);
  std::vector<float> out(q.size());
  std::vector<int32_t> table(static_cast<size_t>(n_rows * blocks_per_seq));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  std::vector<int32_t> positions(n_rows, static_cast<int32_t>(ctx - 1));
  std::vector<const int32_t*> blocks(n_rows);
  for (int64_t r = 0; r < n_rows; ++r) blocks[r] = table.data() + r * blocks_per_seq;
  const kc::PagedRows rows{.n_rows = n_rows, .positions = positions.data(), .blocks = blocks.data()};
  const kc::SplitAttentionParams sp{.n_heads = n_heads, .kv = l, .threads = threads, .splits = std::max(1, splits)};
  std::vector<float> scratch(std::max(kc::paged_attention_scratch_floats(ctx, threads),
                                      kc::paged_attention_split_scratch_floats(n_rows, ctx, sp)));
  for (auto _ : state) {
    if (splits == 0) {
      kc::paged_attention(q.data(), k.data(), v.data(), rows, out.data(), scratch.data(), scratch.size(),
                          {.n_heads = n_heads, .kv = l, .threads = threads});
    } else {
      kc::paged_attention_split(q.data(), k.data(), v.data(), rows, out.data(), scratch.data(), scratch.size(), sp);
    }
    benchmark::ClobberMemory();
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(n_rows), benchmark::Counter::kIsIterationInvariantRate);
}
// The invariant kernel over a bf16 cache (cpu_kv bf16) of the same data rounded. Args: {rows, context, threads}.
void AttentionBf16Kv(benchmark::State& state) {
  const int64_t n_rows = state.range(0), ctx = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const kc::PagedKvLayout l{.block_size = 16, .n_kv_heads = 12, .head_dim = 64};
  const int n_heads = 12;
  const int64_t blocks_per_seq = (ctx + l.block_size - 1) / l.block_size;
  const std::vector<float> kf = random_floats(static_cast<size_t>(n_rows * blocks_per_seq * l.block_floats()), 3);
  const std::vector<float> vf = random_floats(kf.size(), 4);
  std::vector<uint16_t> k(kf.size()), v(vf.size());
  for (size_t i = 0; i < k.size(); ++i) k[i] = verbatim::f32_to_bf16(kf[i]), v[i] = verbatim::f32_to_bf16(vf[i]);
  const std::vector<float> q = random_floats(static_cast<size_t>(n_rows * n_heads * l.head_dim), 5);
  std::vector<float> out(q.size());
  std::vector<int32_t> table(static_cast<size_t>(n_rows * blocks_per_seq));
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);
  std::vector<int32_t> positions(n_rows, static_cast<int32_t>(ctx - 1));
  std::vector<const int32_t*> blocks(n_rows);
  for (int64_t r = 0; r < n_rows; ++r) blocks[r] = table.data() + r * blocks_per_seq;
  const kc::PagedRows rows{.n_rows = n_rows, .positions = positions.data(), .blocks = blocks.data()};
  std::vector<float> scratch(kc::paged_attention_scratch_floats(ctx, threads));
  for (auto _ : state) {
    kc::paged_attention(q.data(), k.data(), v.data(), rows, out.data(), scratch.data(), scratch.size(),
                        {.n_heads = n_heads, .kv = l, .threads = threads});
    benchmark::ClobberMemory();
  }
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(n_rows), benchmark::Counter::kIsIterationInvariantRate);
}

// ---- A whole decode step -------------------------------------------------------------------------------------------

// A Model with random bf16 weights of llama2-110m's shapes (stories110M: dim 768, 12 layers, 12 heads, vocab 32000).
std::unique_ptr<verbatim::Model> random_llama2_110m() {
  auto m = std::make_unique<verbatim::Model>();
  verbatim::ModelConfig& c = m->config;
  c.dim = 768;
  c.hidden_dim = 2048;
  c.n_layers = 12;
  c.n_heads = c.n_kv_heads = 12;
  c.head_dim = 64;
  c.vocab_size = 32000;
  c.max_seq_len = 1024;
  c.tie_embeddings = true;
  m->path = "<random llama2-110m>";
  uint64_t seed = 1;
  auto tensor = [&](std::vector<int64_t> shape, float scale) {
    verbatim::Tensor t;
    t.dtype = DType::BF16;
    t.shape = shape;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::mt19937_64 rng(seed++);
    std::uniform_real_distribution<float> d(-scale, scale);
    auto buf = std::make_shared<std::vector<uint16_t>>(static_cast<size_t>(n));
    for (uint16_t& h : *buf) h = verbatim::f32_to_bf16(d(rng));
    t.data = buf->data();
    m->storage.push_back(buf);
    return t;
  };
  const float a = 0.06f, b = 0.035f;  // ~sqrt(3 / 768), sqrt(3 / 2048)
  verbatim::ModelWeights& w = m->weights;
  w.tok_embeddings = tensor({c.vocab_size, c.dim}, 1.0f);
  for (int l = 0; l < c.n_layers; ++l) {
    verbatim::LayerWeights L;
    L.attn_norm = tensor({c.dim}, 1.0f);
    L.wq = tensor({c.dim, c.dim}, a);
    L.wk = tensor({c.dim, c.dim}, a);
    L.wv = tensor({c.dim, c.dim}, a);
    L.wo = tensor({c.dim, c.dim}, a);
    L.ffn_norm = tensor({c.dim}, 1.0f);
    L.w_gate = tensor({c.hidden_dim, c.dim}, a);
    L.w_up = tensor({c.hidden_dim, c.dim}, a);
    L.w_down = tensor({c.dim, c.hidden_dim}, b);
    w.layers.push_back(L);
  }
  w.final_norm = tensor({c.dim}, 1.0f);
  w.lm_head = w.tok_embeddings;
  return m;
}

// Args: {mode (0 invariant, 1 fast), B sequences, threads}. Each step decodes one row per sequence; positions cycle
// through 0 .. 63 (a sequence restarts by overwriting its cache in order), so the mean context is ~32.
void DecodeStep(benchmark::State& state) {
  static const std::unique_ptr<verbatim::Model> model = random_llama2_110m();
  const verbatim::Mode mode = state.range(0) == 0 ? verbatim::Mode::Invariant : verbatim::Mode::Fast;
  const int batch = static_cast<int>(state.range(1)), threads = static_cast<int>(state.range(2));
  constexpr int kCycle = 64, kBlockSize = 16;
  auto backend = verbatim::backend::make_cpu_backend({.mode = mode, .threads = threads});
  verbatim::LlamaForward fwd(
      *model, *backend,
      {.num_blocks = batch * kCycle / kBlockSize, .block_size = kBlockSize, .max_rows = batch, .max_logits = batch});
  std::vector<float> logits(static_cast<size_t>(batch) * model->config.vocab_size);
  int pos = 0;
  verbatim::StepPlan plan;
  auto run_step = [&] {
    plan.clear();
    for (int s = 0; s < batch; ++s) {
      std::vector<int32_t> blocks(kCycle / kBlockSize);
      for (size_t b = 0; b < blocks.size(); ++b) blocks[b] = static_cast<int32_t>(s * blocks.size() + b);
      const int32_t token = static_cast<int32_t>((pos * 31 + s * 7) % model->config.vocab_size);
      plan.add_seq(std::span<const int32_t>(&token, 1), pos, blocks, verbatim::StepPlan::Logits::Last);
    }
    fwd.execute(plan, logits.data());
    pos = (pos + 1) % kCycle;
  };
  run_step();  // packs / converts the weights
  for (auto _ : state) run_step();
  state.counters["tokens/s"] = benchmark::Counter(batch, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all(bool real_time) {
  auto timed = [&](benchmark::internal::Benchmark* b) { return real_time ? b->UseRealTime() : b; };
  timed(benchmark::RegisterBenchmark("StreamRead", StreamRead)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond));
  timed(benchmark::RegisterBenchmark("Matvec/invariant", GemmInvariant)->Apply(MatvecArgs));
  timed(benchmark::RegisterBenchmark("Gemm/invariant", GemmInvariant)->Apply(GemmArgs));
  timed(benchmark::RegisterBenchmark("Gemm/openblas", GemmOpenBlas)->Apply(BlasArgs));
  timed(benchmark::RegisterBenchmark("GemmBf16Operands", GemmBf16Operands)->Apply(Bf16OperandArgs));
  timed(benchmark::RegisterBenchmark("Attention", Attention)
            ->ArgsProduct({{1, 16}, {128, 1024}, {1, 2}, {0, 2}})
            ->Unit(benchmark::kMicrosecond));
  timed(benchmark::RegisterBenchmark("AttentionBf16Kv", AttentionBf16Kv)
            ->ArgsProduct({{1, 16}, {128, 1024}, {1, 2}})
            ->Unit(benchmark::kMicrosecond));
  timed(benchmark::RegisterBenchmark("DecodeStep", DecodeStep)
            ->ArgsProduct({{0, 1}, {1, 16}, {1, 2}})
            ->Unit(benchmark::kMillisecond));
}

}  // namespace

int main(int argc, char** argv) {
  bool real_time = true;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--cpu_time") == 0) {
      real_time = false;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  register_all(real_time);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

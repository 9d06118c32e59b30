// How fast could a batch-1 decode step be as ONE persistent kernel? The prototype of bench/persistent_proto.cuh runs
// a qwen3-8b-shaped stack of --layers layers (random bf16 weights, 385.9 MB a layer) at M = 1, and this benchmark
// prints its time per layer against the weight bytes' time at the device's copy rate, next to the same work as
// separate launches (gemm_small_m and the stand-in attention, in a CUDA graph with programmatic dependent launch, as
// the backend runs a step).
//
// Checked first, bitwise: one persistent launch against the separate launches from the same state (the residual, every
// layer's q/k/v, attention, SwiGLU and norm outputs, the new K/V): the GEMMs and epilogues are the backend's kernels'
// arithmetic. The attention is a stand-in (persistent_proto.cuh), so the result bounds what a persistent kernel could
// do with an attention of similar latency; --skip-attention removes it (o_proj waits for q/k/v) for the bound without.
//
// Timing: CUDA events around --reps steps (each a memset of the counters and the launch), after 3 warm-up steps;
// median of 5 such groups. Copy rate: cudaMemcpy device to device of 2 GiB, read + written, best of 10.
//
// Usage: bench_persistent_cuda [--layers N] [--ctx C] [--reps R] [--poll-ns NS]  (NS: the pollers' sleep, 0 - 10000)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/cuda/cuda_util.h"
#include "kernels/cuda/gemm_small_m.cuh"
#include "kernels/cuda/pdl.cuh"
#include "kernels/cuda/tensor_map.cuh"
#include "kernels/cuda/testdata.h"
#include "persistent_proto.cuh"

namespace vc = verbatim::cuda;

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

constexpr size_t kLayerBytes = size_t(proto::kQkv + proto::kHidden + 2 * proto::kInter) * proto::kHidden * 2 +
                               size_t(proto::kHidden) * proto::kInter * 2;

// Activations and caches of one run (the persistent one or the reference), from one initial state.
struct State {
  vc::DeviceBuffer residual, u, ss, qkv, attn, u2, ss2, swi, kc, vc_, flags;
  State(int layers, int ctx)
      : residual(proto::kHidden * 4),
        u(size_t(layers + 1) * proto::kHidden * 2),
        ss(size_t(layers + 1) * proto::kHidden / 16 * 4),
        qkv(size_t(layers) * proto::kQkv * 2),
        attn(size_t(layers) * proto::kHidden * 2),
        u2(size_t(layers) * proto::kHidden * 2),
        ss2(size_t(layers) * proto::kHidden / 16 * 4),
        swi(size_t(layers) * proto::kInter * 2),
        kc(size_t(layers) * proto::kKvHeads * (ctx + 1) * proto::kHeadDim * 2),
        vc_(kc.bytes()),
        flags(size_t(layers) * proto::kFlagsPerLayer * 4) {}
  proto::Params params(const proto::Params& w) {
    proto::Params p = w;
    p.residual = residual.as<float>(), p.u = u.as<proto::bf16>(), p.ss = ss.as<float>();
    p.qkv = qkv.as<proto::bf16>(), p.attn = attn.as<proto::bf16>(), p.u2 = u2.as<proto::bf16>();
    p.ss2 = ss2.as<float>(), p.swi = swi.as<proto::bf16>();
    p.k_cache = kc.as<proto::bf16>(), p.v_cache = vc_.as<proto::bf16>(), p.flags = flags.as<int>();
    return p;
  }
};

void init_state(State& s, int layers, int ctx, cudaStream_t st) {
  for (vc::DeviceBuffer* b : {&s.residual, &s.u, &s.ss, &s.qkv, &s.attn, &s.u2, &s.ss2, &s.swi})
    check(cudaMemsetAsync(b->get(), 0, b->bytes(), st), "memset");
  vc::fill_bf16(s.u.get(), 1, proto::kHidden, proto::kHidden, 11, vc::FillPattern::Uniform, st);
  std::vector<float> ones(proto::kHidden / 16, 1.0f);  // the input row's tile partials: inv_rms 4
  check(cudaMemcpyAsync(s.ss.get(), ones.data(), ones.size() * 4, cudaMemcpyHostToDevice, st), "copy");
  const int64_t rows = int64_t{layers} * proto::kKvHeads * (ctx + 1);
  vc::fill_bf16(s.kc.get(), rows, proto::kHeadDim, proto::kHeadDim, 12, vc::FillPattern::Uniform, st);
  vc::fill_bf16(s.vc_.get(), rows, proto::kHeadDim, proto::kHeadDim, 13, vc::FillPattern::Uniform, st);
  check(cudaStreamSynchronize(st), "init");
}

struct Weights {
  vc::DeviceBuffer qkv, o, gu, down, in_norm, post_norm;
  explicit Weights(int layers)
      : qkv(size_t(layers) * proto::kQkv * proto::kHidden * 2),
        o(size_t(layers) * proto::kHidden * proto::kHidden * 2),
        gu(size_t(layers) * 2 * proto::kInter * proto::kHidden * 2),
        down(size_t(layers) * proto::kHidden * proto::kInter * 2),
        in_norm(size_t(layers + 1) * proto::kHidden * 2),
        post_norm(size_t(layers) * proto::kHidden * 2) {}
};

// The same step as separate launches (the backend's kernels).
void reference_step(const proto::Params& p, const Weights& w, cudaStream_t st) {
  namespace vk = verbatim::cuda_kernels;
  const auto* wq = static_cast<const proto::bf16*>(w.qkv.get());
  const auto* wo = static_cast<const proto::bf16*>(w.o.get());
  const auto* wg = static_cast<const proto::bf16*>(w.gu.get());
  const auto* wd = static_cast<const proto::bf16*>(w.down.get());
  constexpr int64_t H = proto::kHidden, I = proto::kInter;
  for (int l = 0; l < p.layers; ++l) {
    vk::SmallMGemmParams g;
    g.m = 1, g.x = p.u + l * H, g.w = wq + l * proto::kQkv * H, g.y = p.qkv + l * proto::kQkv, g.n = proto::kQkv;
    g.k = H;
    vk::gemm_small_m(g, st);
    if (!p.skip_attention) vk::launch_pdl(proto::attention_ref_kernel, proto::kKvHeads, 128, 0, st, p, l);
    vk::SmallMGemmParams o;
    o.m = 1, o.x = p.attn + l * H, o.w = wo + l * H * H, o.n = H, o.k = H, o.out_f32 = true, o.residual = p.residual;
    o.prep_w = p.w_post_norm + l * H, o.prep_out = p.u2 + l * H, o.prep_ss = p.ss2 + l * (H / 16);
    vk::gemm_small_m(o, st);
    vk::SmallMGemmParams gu;
    gu.m = 1, gu.x = p.u2 + l * H, gu.w = wg + l * 2 * I * H, gu.n = 2 * I, gu.k = H, gu.swiglu_out = p.swi + l * I;
    gu.row_ss = p.ss2 + l * (H / 16), gu.row_n = H, gu.row_eps = proto::kEps;
    vk::gemm_small_m(gu, st);
    vk::SmallMGemmParams d;
    d.m = 1, d.x = p.swi + l * I, d.w = wd + l * H * I, d.n = H, d.k = I, d.out_f32 = true, d.residual = p.residual;
    d.prep_w = p.w_in_norm + (l + 1) * H, d.prep_out = p.u + (l + 1) * H, d.prep_ss = p.ss + (l + 1) * (H / 16);
    vk::gemm_small_m(d, st);
  }
}

template <int V, int S>
void launch_persistent(const proto::Maps& maps, const proto::Params& p, int grid, cudaStream_t st) {
  check(cudaMemsetAsync(p.flags, 0, size_t(p.layers) * proto::kFlagsPerLayer * 4, st), "memset flags");
  void* args[] = {const_cast<proto::Maps*>(&maps), const_cast<proto::Params*>(&p)};
  check(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(proto::persistent_kernel<V, S>), grid,
                                    proto::Geo<V, S>::threads, args, proto::Geo<V, S>::smem, st),
        "cooperative launch");
}

template <int V, int S>
void prepare_persistent() {
  auto* fn = proto::persistent_kernel<V, S>;
  check(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, int(proto::Geo<V, S>::smem)), "smem");
  int per_sm = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, proto::Geo<V, S>::threads, proto::Geo<V, S>::smem),
        "occupancy");
  if (per_sm < 1) {
    std::fprintf(stderr, "V=%d S=%d: does not fit on an SM\n", V, S);
    std::exit(1);
  }
}

// Words that differ between two device buffers of `words` 16-bit words.
unsigned long long diff_words(const vc::DeviceBuffer& a, const vc::DeviceBuffer& b, cudaStream_t st) {
  vc::DeviceBuffer d(sizeof(unsigned long long));
  check(cudaMemsetAsync(d.get(), 0, d.bytes(), st), "memset");
  const int64_t words = int64_t(a.bytes() / 2);
  vc::count_diff_u16(a.get(), words, b.get(), words, 1, words, d.as<unsigned long long>(), st);
  unsigned long long n = 0;
  check(cudaMemcpyAsync(&n, d.get(), sizeof n, cudaMemcpyDeviceToHost, st), "copy");
  check(cudaStreamSynchronize(st), "diff");
  return n;
}

double copy_rate_gbs(cudaStream_t st) {
  const size_t bytes = size_t{2} << 30;
  vc::DeviceBuffer a(bytes), b(bytes);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0), cudaEventCreate(&e1);
  float best = 1e30f;
  for (int i = 0; i < 10; ++i) {
    cudaEventRecord(e0, st);
    check(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, st), "copy");
    cudaEventRecord(e1, st);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    best = std::min(best, ms);
  }
  cudaEventDestroy(e0), cudaEventDestroy(e1);
  return 2.0 * bytes / (best * 1e-3) / 1e9;
}

template <typename F>
double time_steps_us(F&& step, int reps, cudaStream_t st) {
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0), cudaEventCreate(&e1);
  for (int i = 0; i < 3; ++i) step();
  std::vector<double> groups;
  for (int gi = 0; gi < 5; ++gi) {
    cudaEventRecord(e0, st);
    for (int i = 0; i < reps; ++i) step();
    cudaEventRecord(e1, st);
    check(cudaEventSynchronize(e1), "timing");
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    groups.push_back(ms * 1e3 / reps);
  }
  cudaEventDestroy(e0), cudaEventDestroy(e1);
  std::sort(groups.begin(), groups.end());
  return groups[2];
}

struct Opts {
  int layers = 36, ctx = 16, reps = 10, poll_ns = 0;
};

template <int V, int S>
void run_variant(const char* name, const proto::Maps& maps, const Weights& w, proto::Params base, const Opts& o,
                 int sms, double gbs, bool skip, cudaStream_t st) {
  prepare_persistent<V, S>();
  base.skip_attention = skip;
  State a(o.layers, o.ctx), r(o.layers, o.ctx);
  init_state(a, o.layers, o.ctx, st), init_state(r, o.layers, o.ctx, st);
  const proto::Params pa = a.params(base), pr = r.params(base);
  launch_persistent<V, S>(maps, pa, sms, st);
  reference_step(pr, w, st);
  check(cudaStreamSynchronize(st), "first step");
  const unsigned long long d = diff_words(a.residual, r.residual, st) + diff_words(a.u, r.u, st) +
                               diff_words(a.ss, r.ss, st) + diff_words(a.qkv, r.qkv, st) +
                               diff_words(a.attn, r.attn, st) + diff_words(a.u2, r.u2, st) +
                               diff_words(a.ss2, r.ss2, st) + diff_words(a.swi, r.swi, st) +
                               diff_words(a.kc, r.kc, st) + diff_words(a.vc_, r.vc_, st);
  const double us = time_steps_us([&] { launch_persistent<V, S>(maps, pa, sms, st); }, o.reps, st);
  const double bound_us = double(kLayerBytes) * o.layers / (gbs * 1e9) * 1e6;
  std::printf(
      "%-28s attention %-3s  %8.1f us/step  %6.2f us/layer  %5.1f%% of the copy rate  bits %s (%llu words differ)\n",
      name, skip ? "off" : "on", us, us / o.layers, 100.0 * bound_us / us, d == 0 ? "EQUAL" : "DIFFER", d);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> int {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--layers") {
      o.layers = next();
    } else if (a == "--ctx") {
      o.ctx = next();
    } else if (a == "--reps") {
      o.reps = next();
    } else if (a == "--poll-ns") {
      o.poll_ns = next();
    } else {
      std::fprintf(stderr, "usage: bench_persistent_cuda [--layers N] [--ctx C] [--reps R] [--poll-ns NS]\n");
      return 2;
    }
  }
  if (o.layers < 1 || o.layers > 64 || o.ctx < 0 || o.ctx + 1 > 32 * proto::kMaxCtxPerLane || o.reps < 1 ||
      o.poll_ns < 0 || o.poll_ns > 10000) {
    std::fprintf(stderr, "bench_persistent_cuda: --layers 1..64, --ctx 0..%d, --reps >= 1\n",
                 32 * proto::kMaxCtxPerLane - 1);
    return 2;
  }
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    std::printf("bench_persistent_cuda: no CUDA device, nothing measured\n");
    return 0;
  }
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, dev);
  cudaStream_t st;
  check(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "stream");
  verbatim::cuda_kernels::gemm_small_m_prepare();
  const double gbs = copy_rate_gbs(st);
  std::printf("%s, %d SMs; copy rate %.0f GB/s; %d layers x %.1f MB of weights; ctx %d; bound %.2f us/layer\n",
              prop.name, sms, gbs, o.layers, kLayerBytes / 1e6, o.ctx, kLayerBytes / (gbs * 1e3));

  Weights w(o.layers);
  constexpr int64_t H = proto::kHidden, I = proto::kInter;
  vc::fill_bf16(w.qkv.get(), int64_t{o.layers} * proto::kQkv, H, H, 1, vc::FillPattern::Uniform, st);
  vc::fill_bf16(w.o.get(), int64_t{o.layers} * H, H, H, 2, vc::FillPattern::Uniform, st);
  vc::fill_bf16(w.gu.get(), int64_t{o.layers} * 2 * I, H, H, 3, vc::FillPattern::Uniform, st);
  vc::fill_bf16(w.down.get(), int64_t{o.layers} * H, I, I, 4, vc::FillPattern::Uniform, st);
  vc::fill_bf16(w.in_norm.get(), o.layers + 1, H, H, 5, vc::FillPattern::Positive, st);
  vc::fill_bf16(w.post_norm.get(), o.layers, H, H, 6, vc::FillPattern::Positive, st);
  check(cudaStreamSynchronize(st), "fill");
  namespace vk = verbatim::cuda_kernels;
  proto::Maps maps;
  maps.qkv = vk::tensor_map(w.qkv.get(), int64_t{o.layers} * proto::kQkv, H, 16, 8);
  maps.o = vk::tensor_map(w.o.get(), int64_t{o.layers} * H, H, 16, 8);
  maps.gu = vk::tensor_map(w.gu.get(), int64_t{o.layers} * 2 * I, H, 16, 4);
  maps.down = vk::tensor_map(w.down.get(), int64_t{o.layers} * H, I, 16, 8);
  proto::Params base;
  base.layers = o.layers, base.ctx = o.ctx, base.poll_ns = static_cast<unsigned>(o.poll_ns);
  base.w_in_norm = w.in_norm.as<proto::bf16>(), base.w_post_norm = w.post_norm.as<proto::bf16>();

  // The separate launches, captured as a graph (as the backend's decode step).
  for (const bool skip : {false, true}) {
    State r(o.layers, o.ctx);
    init_state(r, o.layers, o.ctx, st);
    proto::Params pr = r.params(base);
    pr.skip_attention = skip;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    check(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal), "capture");
    reference_step(pr, w, st);
    check(cudaStreamEndCapture(st, &graph), "end capture");
    check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
    const double us = time_steps_us([&] { check(cudaGraphLaunch(exec, st), "graph launch"); }, o.reps, st);
    const double bound_us = double(kLayerBytes) * o.layers / (gbs * 1e9) * 1e6;
    std::printf("%-28s attention %-3s  %8.1f us/step  %6.2f us/layer  %5.1f%% of the copy rate\n",
                "separate launches (graph)", skip ? "off" : "on", us, us / o.layers, 100.0 * bound_us / us);
    std::fflush(stdout);
    cudaGraphExecDestroy(exec), cudaGraphDestroy(graph);
  }
  for (const bool skip : {false, true}) {
    run_variant<2, 5>("persistent V=2 S=5", maps, w, base, o, sms, gbs, skip, st);
    run_variant<3, 3>("persistent V=3 S=3", maps, w, base, o, sms, gbs, skip, st);
    run_variant<1, 11>("persistent V=1 S=11", maps, w, base, o, sms, gbs, skip, st);
  }
  cudaStreamDestroy(st);
  return 0;
}

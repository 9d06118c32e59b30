// EXPERIMENT: latency of dependent mma.sync m16n8k16 bf16->f32 chains (one warp), and of C chains interleaved.
#include <cstdio>
#include <cstdint>
#include <cuda_runtime.h>
template <int C>
__global__ void chain(const uint32_t* in, float* out, long long* cyc, int steps) {
  uint32_t a[4] = {in[0], in[1], in[2], in[3]};
  uint32_t b0 = in[4], b1 = in[5];
  float d[C][4];
  for (int c = 0; c < C; ++c) d[c][0] = d[c][1] = d[c][2] = d[c][3] = 0.f;
  __syncwarp();
  long long t0 = clock64();
  for (int s = 0; s < steps; ++s) {
#pragma unroll
    for (int c = 0; c < C; ++c)
      asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                   : "+f"(d[c][0]), "+f"(d[c][1]), "+f"(d[c][2]), "+f"(d[c][3])
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  long long t1 = clock64();
  float s = 0;
  for (int c = 0; c < C; ++c) s += d[c][0] + d[c][1] + d[c][2] + d[c][3];
  out[threadIdx.x] = s;
  if (threadIdx.x == 0) *cyc = t1 - t0;
}
template <int C>
void run(uint32_t* in, float* out, long long* cyc, int steps, int clk_khz) {
  chain<C><<<1, 32>>>(in, out, cyc, steps);
  chain<C><<<1, 32>>>(in, out, cyc, steps);
  long long h = 0;
  cudaMemcpy(&h, cyc, 8, cudaMemcpyDeviceToHost);
  printf("chains %d, steps %d: %lld cycles, %.2f cycles per dependent step, %.2f us at %d MHz\n", C, steps, h,
         double(h) / steps, double(h) / (clk_khz / 1e3), clk_khz / 1000);
}
int main() {
  uint32_t* in; float* out; long long* cyc;
  cudaMalloc(&in, 64); cudaMalloc(&out, 4096); cudaMalloc(&cyc, 8);
  cudaMemset(in, 0x3c, 64);
  int clk = 0; cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, 0);
  run<1>(in, out, cyc, 256, clk); run<1>(in, out, cyc, 768, clk); run<2>(in, out, cyc, 256, clk); run<4>(in, out, cyc, 256, clk);
  return 0;
}

#include <cuda_bf16.h>

#include "backend/cuda/cuda_util.h"
#include "kernels/cuda/testdata.h"

namespace verbatim::cuda {
namespace {

__device__ inline uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__global__ void fill_bf16_kernel(__nv_bfloat16* p, int64_t rows, int64_t cols, int64_t ld, uint64_t seed,
                                 FillPattern pattern) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols;
    const int64_t c = i - r * cols;
    const uint64_t h = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(r) * 0x100000001B3ull + c));
    const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits: exact in fp32
    float v;
    if (pattern == FillPattern::Uniform) {
      v = __fsub_rn(__fmul_rn(2.0f, u), 1.0f);
    } else {
      const int e = static_cast<int>((h >> 8) & 3u);
      v = ldexpf(__fadd_rn(0.25f, __fmul_rn(1.25f, u)), -e);
      if (pattern == FillPattern::HalfSigned && c >= cols / 2) v = -v;
    }
    p[r * ld + c] = __float2bfloat16_rn(v);
  }
}

__global__ void fill_u16_kernel(uint16_t* p, size_t count, uint16_t value) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    p[i] = value;
  }
}

__global__ void count_diff_kernel(const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, int64_t rows,
                                  int64_t row_words, unsigned long long* count) {
  const int64_t total = rows * row_words;
  unsigned long long local = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / row_words;
    const int64_t c = i - r * row_words;
    local += a[r * lda + c] != b[r * ldb + c] ? 1 : 0;
  }
  for (int off = 16; off > 0; off /= 2) local += __shfl_down_sync(0xffffffffu, local, off);
  if ((threadIdx.x & 31) == 0 && local != 0) atomicAdd(count, local);
}

unsigned grid_for(int64_t total, int threads) {
  const int64_t blocks = (total + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

}  // namespace

void fill_bf16(void* p, int64_t rows, int64_t cols, int64_t ld, uint64_t seed, FillPattern pattern,
               cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  constexpr int kThreads = 256;
  fill_bf16_kernel<<<grid_for(rows * cols, kThreads), kThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(p), rows, cols,
                                                                             ld, seed, pattern);
  check_launch("fill_bf16_kernel");
}

void fill_u16(void* p, size_t count, uint16_t value, cudaStream_t stream) {
  if (count == 0) return;
  constexpr int kThreads = 256;
  fill_u16_kernel<<<grid_for(static_cast<int64_t>(count), kThreads), kThreads, 0, stream>>>(static_cast<uint16_t*>(p),
                                                                                            count, value);
  check_launch("fill_u16_kernel");
}

void count_diff_u16(const void* a, int64_t lda, const void* b, int64_t ldb, int64_t rows, int64_t row_words,
                    unsigned long long* d_count, cudaStream_t stream) {
  if (rows <= 0 || row_words <= 0) return;
  constexpr int kThreads = 256;
  count_diff_kernel<<<grid_for(rows * row_words, kThreads), kThreads, 0, stream>>>(
      static_cast<const uint16_t*>(a), lda, static_cast<const uint16_t*>(b), ldb, rows, row_words, d_count);
  check_launch("count_diff_kernel");
}

}  // namespace verbatim::cuda

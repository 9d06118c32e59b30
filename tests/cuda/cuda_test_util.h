// Helpers shared by the CUDA GEMM tests: the loud skip where no GPU exists, fresh seeds, bitwise row comparison.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>

#include "backend/cuda/cuda_util.h"
#include "kernels/cuda/testdata.h"

// Skips the test, loudly, where no CUDA GPU exists (cudaGetDeviceCount fails or returns 0). `what` names the tests.
#define REQUIRE_GPU_FOR(what)                                                                                   \
  do {                                                                                                          \
    if (::verbatim::cuda::device_count_or_zero() == 0) {                                                        \
      std::fprintf(stderr, "\n*** NO CUDA GPU FOUND: the %s tests are SKIPPED, nothing was run ***\n\n", what); \
      GTEST_SKIP() << "NO CUDA GPU: " << what << " test skipped";                                               \
    }                                                                                                           \
  } while (0)

namespace verbatim::cuda::test {

// A seed from the OS, printed by the tests that use it (so a failure can be re-run).
inline uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// The number of 16-bit words that differ between `rows` rows of `row_words` words at a and b (device memory, row
// strides = row_words), counted on the device in `counter`; synchronizes `s`.
inline unsigned long long count_diff(const void* a, const void* b, int64_t rows, int64_t row_words,
                                     DeviceBuffer& counter, cudaStream_t s) {
  check_cuda(cudaMemsetAsync(counter.get(), 0, sizeof(unsigned long long), s), "cudaMemsetAsync");
  count_diff_u16(a, row_words, b, row_words, rows, row_words, counter.as<unsigned long long>(), s);
  unsigned long long c = 0;
  check_cuda(cudaMemcpyAsync(&c, counter.get(), sizeof(c), cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync");
  check_cuda(cudaStreamSynchronize(s), "cudaStreamSynchronize");
  return c;
}

}  // namespace verbatim::cuda::test

// Helpers shared by the CUDA GEMM tests: the loud skip where no GPU exists, and fresh seeds.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>

#include "backend/cuda/cuda_util.h"

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

}  // namespace verbatim::cuda::test

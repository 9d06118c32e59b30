// Preconditions of the CPU kernels. Kernels never see untrusted input (the model and the engine validate at the
// edges), so a failed check is a programming error: it prints the condition and aborts, in every build type. Checks
// run once per call, at entry, never inside loops.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace verbatim::kernels::cpu {

[[noreturn]] inline void kernel_check_failed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "verbatim: kernel precondition failed: %s (%s:%d)\n", condition, file, line);
  std::abort();
}

}  // namespace verbatim::kernels::cpu

#define VERBATIM_KERNEL_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::verbatim::kernels::cpu::kernel_check_failed(#cond, __FILE__, __LINE__))

// Helpers shared by the test binaries: where the shared test data lives, and skipping loudly when it is absent.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace verbatim::testing {

// The seed of a process's randomized tests: from the clock, or $VERBATIM_TEST_SEED to reproduce a run; printed (with
// how to reproduce it) at the first call.
uint64_t test_seed();

// The shared data folder: $VERBATIM_SHARED_DIR, else <source root>/../shared.
std::string shared_dir();
// The path of a file under the shared folder, or "" when it does not exist.
std::string shared_file(const std::string& relative);
// The repository's own fixtures folder: <source root>/tests/fixtures.
std::string fixtures_dir();
// A fresh empty temporary directory for this test (removed at exit is not promised).
std::string temp_dir();
// Writes bytes to a file (for malformed-input tests).
void write_file(const std::string& path, const std::string& bytes);

}  // namespace verbatim::testing

// Skips the test with a clear message when a shared file is absent; otherwise binds its path to `var`.
#define VERBATIM_REQUIRE_SHARED(var, relative)                                                          \
  const std::string var = ::verbatim::testing::shared_file(relative);                                   \
  if (var.empty())                                                                                      \
  GTEST_SKIP() << "shared test data absent: " << ::verbatim::testing::shared_dir() << "/" << (relative) \
               << " (set VERBATIM_SHARED_DIR or place ../shared beside the repo)"

#include "support/test_support.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace verbatim::testing {

uint64_t test_seed() {
  static const uint64_t seed = [] {
    uint64_t s = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) % 1000000007ull;
    if (const char* e = std::getenv("VERBATIM_TEST_SEED")) s = std::strtoull(e, nullptr, 10);
    std::printf("[ seed ] %llu (VERBATIM_TEST_SEED reproduces it)\n", static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

std::string shared_dir() {
  if (const char* env = std::getenv("VERBATIM_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return std::string(VERBATIM_SOURCE_DIR) + "/../shared";
}

std::string shared_file(const std::string& relative) {
  std::string p = shared_dir() + "/" + relative;
  return std::filesystem::exists(p) ? p : std::string();
}

std::string fixtures_dir() {
  return std::string(VERBATIM_SOURCE_DIR) + "/tests/fixtures";
}

std::string temp_dir() {
  static std::atomic<int> counter{0};
  auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = std::filesystem::temp_directory_path() /
             ("verbatim-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace verbatim::testing

// The benchmarks' command-line reading (plain mains, no CLI11): the value after flag argv[i], or exit status 2 with a
// line naming the flag when there is none.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace verbatim::bench {

// argv[i + 1] (and i moves past it).
inline std::string flag_value(int argc, char** argv, int& i) {
  if (i + 1 >= argc) {
    std::fprintf(stderr, "%s needs a value\n", argv[i]);
    std::exit(2);
  }
  return argv[++i];
}

}  // namespace verbatim::bench

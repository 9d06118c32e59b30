// A progress bar on stderr for long commands (demo, bench): redrawn in place when stderr is a terminal, a plain line
// at every tenth of the way otherwise (logs stay short), nothing when disabled.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace verbatim::cli {

class Progress {
 public:
  // enabled = false: silent. `label` leads every line.
  Progress(std::string label, int total, bool enabled = true);
  ~Progress();
  // `done` of `total`, with a short note after the count ("312/400 requests").
  void update(int done, const std::string& note = "");
  // Ends the bar (a final newline on a terminal). Idempotent.
  void finish();

  static bool stderr_is_tty();

 private:
  std::string label_;
  int total_;
  bool enabled_, tty_, open_ = false;
  int last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_{};
};

}  // namespace verbatim::cli

#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>

namespace verbatim::cli {

bool Progress::stderr_is_tty() {
  return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string label, int total, bool enabled)
    : label_(std::move(label)),
      total_(std::max(1, total)),
      enabled_(enabled),
      tty_(stderr_is_tty()),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  finish();
}

void Progress::update(int done, const std::string& note) {
  if (!enabled_) return;
  done = std::clamp(done, 0, total_);
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (tty_) {
    // At most ~20 redraws a second, and always the last one.
    if (done < total_ && open_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(static_cast<long long>(done) * kWidth / total_);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(kWidth - filled), '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %s %5.1fs", label_.c_str(), bar.c_str(),
                 static_cast<int>(100LL * done / total_), note.c_str(), elapsed);
    std::fflush(stderr);
    open_ = true;
  } else {
    const int tenth = static_cast<int>(10LL * done / total_);
    if (tenth == last_tenth_) return;
    last_tenth_ = tenth;
    std::fprintf(stderr, "%s: %3d%% %s %.1fs\n", label_.c_str(), tenth * 10, note.c_str(), elapsed);
  }
}

void Progress::finish() {
  if (open_) std::fputc('\n', stderr);
  open_ = false;
}

}  // namespace verbatim::cli

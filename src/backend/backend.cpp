#include "backend/backend.h"

#include "util/error.h"

namespace verbatim {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::Invariant:
      return "invariant";
    case Mode::Fast:
      return "fast";
  }
  return "?";
}

Mode parse_mode(const std::string& s) {
  if (s == "invariant") return Mode::Invariant;
  if (s == "fast") return Mode::Fast;
  fail("mode", "unknown mode \"" + s + "\" (expected invariant or fast)");
}

namespace backend {

void Backend::sample(Act, std::span<const SampleSpec>, std::span<SampleResult>) {
  fail(name() + " backend", "cannot sample on the device");
}

void Backend::token_logprobs(Act, std::span<const int32_t>, std::span<const int32_t>, float*) {
  fail(name() + " backend", "cannot compute logprobs on the device");
}

}  // namespace backend
}  // namespace verbatim

// A compiled PCRE2 pattern (UTF + UCP) for tokenizer pre-tokenization. Text may hold invalid UTF-8: the pattern is
// compiled with PCRE2_MATCH_INVALID_UTF, so invalid bytes never take part in a match (they end up between matches).
// The compiled code is immutable and shared; match data is created per call, so matching is thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace verbatim {

class Regex {
 public:
  // Throws Error("<where>: invalid regex ...") when the pattern does not compile.
  Regex(const std::string& pattern, const std::string& where);

  // Appends the [start, end) byte ranges of all matches, iterating like Oniguruma's find_iter in HF tokenizers:
  // after an empty match the search resumes one character further, and an empty match right where the previous
  // match ended is skipped. Throws Error if PCRE2 gives up (match or heap limit).
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::shared_ptr<const Code> code_;
};

}  // namespace verbatim

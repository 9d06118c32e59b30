#include "tokenizer/regex.h"

#include <algorithm>
#include <cstdint>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace verbatim {

struct Regex::Code {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  bool jit = false;
  ~Code() {
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

namespace {

std::string pcre2_message(int rc) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(rc, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

// Per-attempt limits, so that pathological patterns fail cleanly instead of running for minutes. Real tokenizer
// patterns stay linear but one attempt may scan (and backtrack over) a whole whitespace run, so the limit grows
// with the text: kStepsPerByte steps per byte, at least kMatchLimit.
constexpr uint32_t kMatchLimit = 10000000;
constexpr uint64_t kStepsPerByte = 16;
constexpr uint32_t kHeapLimitKiB = 64 * 1024;

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) : pattern_(pattern) {
  auto code = std::make_shared<Code>();
  int err = 0;
  PCRE2_SIZE err_off = 0;
  code->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
  if (code->code == nullptr) {
    fail(where, "invalid regex '" + pattern + "' at offset " + std::to_string(err_off) + ": " + pcre2_message(err));
  }
  code->jit = pcre2_jit_compile(code->code, PCRE2_JIT_COMPLETE) == 0;
  code->context = pcre2_match_context_create(nullptr);
  if (code->context == nullptr) throw std::bad_alloc();
  pcre2_set_match_limit(code->context, kMatchLimit);
  pcre2_set_heap_limit(code->context, kHeapLimitKiB);
  code_ = std::move(code);
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  struct MatchData {
    pcre2_match_data* md;
    ~MatchData() { pcre2_match_data_free(md); }
  } data{pcre2_match_data_create_from_pattern(code_->code, nullptr)};
  if (data.md == nullptr) throw std::bad_alloc();
  // Long texts get their own match context with a proportionally larger step limit.
  struct Context {
    pcre2_match_context* ctx = nullptr;
    ~Context() { pcre2_match_context_free(ctx); }
  } own;
  pcre2_match_context* context = code_->context;
  if (text.size() * kStepsPerByte > kMatchLimit) {
    own.ctx = pcre2_match_context_copy(code_->context);
    if (own.ctx == nullptr) throw std::bad_alloc();
    const uint64_t limit = std::min<uint64_t>(text.size() * kStepsPerByte, UINT32_MAX);
    pcre2_set_match_limit(own.ctx, static_cast<uint32_t>(limit));
    context = own.ctx;
  }
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (pos <= text.size()) {
    int rc = pcre2_match(code_->code, subject, text.size(), pos, 0, data.md, context);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {  // deep backtracking: retry with the interpreter (heap-based)
      rc = pcre2_match(code_->code, subject, text.size(), pos, PCRE2_NO_JIT, data.md, context);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("tokenizer regex '" + pattern_ + "'", "matching failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    const size_t s = ov[0], e = ov[1];
    if (s > e || e > text.size()) break;  // \K tricks can report such ranges; stop rather than misbehave
    if (s == e && have_last && last_end == e) {
      if (pos >= text.size()) break;
      pos += utf8::char_len(text, pos);
      continue;
    }
    out.emplace_back(s, e);
    have_last = true;
    last_end = e;
    pos = e;
  }
}

}  // namespace verbatim

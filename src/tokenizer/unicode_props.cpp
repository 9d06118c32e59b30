#include "tokenizer/unicode_props.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <new>
#include <vector>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace verbatim::unicode {

bool is_whitespace(uint32_t cp) {
  return u_isUWhiteSpace(static_cast<UChar32>(cp));
}

bool is_word(uint32_t cp) {
  const auto c = static_cast<UChar32>(cp);
  if (u_hasBinaryProperty(c, UCHAR_ALPHABETIC) || u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) return true;
  switch (u_charType(c)) {
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_CONNECTOR_PUNCTUATION:
      return true;
    default:
      return false;
  }
}

bool is_numeric(uint32_t cp) {
  switch (u_charType(static_cast<UChar32>(cp))) {
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return true;
    default:
      return false;
  }
}

bool is_mark(uint32_t cp) {
  const auto t = u_charType(static_cast<UChar32>(cp));
  return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK;
}

namespace {

const UNormalizer2* instance(Form form) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* n = nullptr;
  switch (form) {
    case Form::NFC:
      n = unorm2_getNFCInstance(&status);
      break;
    case Form::NFD:
      n = unorm2_getNFDInstance(&status);
      break;
    case Form::NFKC:
      n = unorm2_getNFKCInstance(&status);
      break;
    case Form::NFKD:
      n = unorm2_getNFKDInstance(&status);
      break;
  }
  if (U_FAILURE(status) || n == nullptr)
    fail("ICU", std::string("cannot load normalization data: ") + u_errorName(status));
  return n;
}

// Normalizes one valid UTF-8 run and appends it to `out`.
void normalize_valid(std::string_view run, const UNormalizer2* norm, std::string& out) {
  bool ascii = true;
  for (char c : run) ascii = ascii && static_cast<uint8_t>(c) < 0x80;
  if (ascii) {  // ASCII is invariant under every normalization form
    out.append(run);
    return;
  }
  UErrorCode status = U_ZERO_ERROR;
  std::vector<UChar> src(run.size() + 1);
  int32_t src_len = 0;
  u_strFromUTF8(src.data(), static_cast<int32_t>(src.size()), &src_len, run.data(), static_cast<int32_t>(run.size()),
                &status);
  if (U_FAILURE(status)) fail("ICU", "UTF-8 conversion failed");
  if (unorm2_spanQuickCheckYes(norm, src.data(), src_len, &status) == src_len && U_SUCCESS(status)) {
    out.append(run);
    return;
  }
  status = U_ZERO_ERROR;
  std::vector<UChar> dst(static_cast<size_t>(src_len) * 3 + 16);  // NFKD/NFD expand at most ~18x per char; retry
  int32_t n = unorm2_normalize(norm, src.data(), src_len, dst.data(), static_cast<int32_t>(dst.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    dst.resize(static_cast<size_t>(n) + 1);
    n = unorm2_normalize(norm, src.data(), src_len, dst.data(), static_cast<int32_t>(dst.size()), &status);
  }
  if (U_FAILURE(status)) fail("ICU", std::string("normalization failed: ") + u_errorName(status));
  int32_t need = 0;
  status = U_ZERO_ERROR;
  u_strToUTF8(nullptr, 0, &need, dst.data(), n, &status);
  status = U_ZERO_ERROR;
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(need));
  u_strToUTF8(out.data() + at, need, &need, dst.data(), n, &status);
  if (U_FAILURE(status) && status != U_STRING_NOT_TERMINATED_WARNING) fail("ICU", "UTF-16 conversion failed");
}

}  // namespace

std::string normalize(std::string_view s, Form form) {
  const UNormalizer2* norm = instance(form);
  std::string out;
  out.reserve(s.size());
  size_t run = 0;
  for (size_t i = 0; i < s.size();) {
    const utf8::Sequence q = utf8::classify(s, i);
    if (q.status == utf8::Status::Valid) {
      i += q.len;
      continue;
    }
    normalize_valid(s.substr(run, i - run), norm, out);
    out.append(s.substr(i, q.len));
    i += q.len;
    run = i;
  }
  normalize_valid(s.substr(run), norm, out);
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8::valid_len(s, i);
    if (n == 0) {
      out.push_back(s[i++]);
      continue;
    }
    const uint32_t cp = utf8::decode(s, i, n);
    i += n;
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    } else if (cp == 0x130) {  // the one unconditional multi-character lowercase mapping: İ -> i + U+0307
      out += "i\xCC\x87";
    } else {
      utf8::append(out, static_cast<uint32_t>(u_tolower(static_cast<UChar32>(cp))));
    }
  }
  return out;
}

}  // namespace verbatim::unicode

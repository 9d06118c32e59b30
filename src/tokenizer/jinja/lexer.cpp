#include "tokenizer/jinja/lexer.h"

#include <unicode/uchar.h>

#include <algorithm>
#include <cstdio>

#include "tokenizer/jinja/value.h"
#include "util/error.h"

namespace verbatim::jinja {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

// Length of the Python-whitespace run starting at `pos` (Unicode whitespace, as re's \s on str).
size_t space_run(std::string_view s, size_t pos) {
  size_t p = pos;
  while (p < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[p]);
    if (c < 0x80) {
      if (!is_py_space(c)) break;
      ++p;
      continue;
    }
    // decode one multi-byte character
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (p + len > s.size()) break;
    std::u32string cp = decode_utf8(s.substr(p, len));
    if (cp.size() != 1 || !is_py_space(cp[0])) break;
    p += len;
  }
  return p - pos;
}

// Python's str.rstrip() (Unicode whitespace).
std::string_view rstrip_py(std::string_view s) {
  std::u32string cps = decode_utf8(s);
  size_t n = cps.size();
  while (n > 0 && is_py_space(cps[n - 1])) --n;
  if (n == cps.size()) return s;
  size_t bytes = encode_utf8(std::u32string_view(cps).substr(0, n)).size();
  return s.substr(0, bytes);
}

bool all_space(std::string_view s) {
  return !s.empty() && space_run(s, 0) == s.size();
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) {
    // Newlines normalised to \n; one trailing newline dropped (keep_trailing_newline=False).
    src_.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\r') {
        src_ += '\n';
        if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
      } else {
        src_ += src[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    const std::string_view s = src_;
    while (pos < s.size()) {
      size_t tag = find_tag(pos);
      if (tag == std::string::npos) {
        push_data(s.substr(pos), pos);
        break;
      }
      char kind = s[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < s.size() && (s[tag + 2] == '-' || s[tag + 2] == '+') ? s[tag + 2] : 0;
      std::string_view text = s.substr(pos, tag - pos);
      // raw block?
      size_t raw_end_of_open = kind == '%' ? match_raw_open(tag) : std::string::npos;
      text = strip_before(text, sign, kind != '{', line_starting);
      push_data(text, pos);
      size_t p = tag + 2 + (sign ? 1 : 0);
      if (raw_end_of_open != std::string::npos) {
        line_starting = s[raw_end_of_open - 1] == '\n';
        pos = lex_raw(raw_end_of_open, line_starting, line_starting);
        continue;
      }
      if (kind == '#') {
        p = lex_comment(tag, p, line_starting);
      } else {
        p = lex_tag(tag, p, kind == '%', line_starting);
      }
      pos = p;
    }
    Token eof{Tok::Eof, "", 0, 0, 0, 0};
    locate(eof, s.size());
    toks_.push_back(eof);
    return std::move(toks_);
  }

 private:
  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> toks_;

  void locate(Token& t, size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    t.line = static_cast<int>(line);
    t.column = static_cast<int>(offset - line_starts_[line - 1] + 1);
  }
  [[noreturn]] void error(size_t offset, const std::string& what) const {
    Token t;
    locate(t, offset);
    throw Error("template:" + std::to_string(t.line) + ":" + std::to_string(t.column) + ": " + what);
  }

  size_t find_tag(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // `{%(-|+|)\s*raw\s*(-%}\s*|%})` at `tag`: the position after it, or npos.
  size_t match_raw_open(size_t tag) const {
    std::string_view s = src_;
    size_t p = tag + 2;
    if (p < s.size() && (s[p] == '-' || s[p] == '+')) ++p;
    p += space_run(s, p);
    if (s.substr(p, 3) != "raw") return std::string::npos;
    p += 3;
    p += space_run(s, p);
    if (s.substr(p, 3) == "-%}") return p + 3 + space_run(s, p + 3);
    if (s.substr(p, 2) == "%}") return p + 2;
    return std::string::npos;
  }

  // The data before a tag, with `-` stripping or lstrip_blocks applied.
  static std::string_view strip_before(std::string_view text, char sign, bool lstrip_kind, bool line_starting) {
    if (sign == '-') return rstrip_py(text);
    if (sign != '+' && lstrip_kind) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && all_space(text.substr(l_pos))) return text.substr(0, l_pos);
    }
    return text;
  }

  void push_data(std::string_view text, size_t offset) {
    if (text.empty()) return;
    Token t{Tok::Data, std::string(text), 0, 0, 0, 0};
    locate(t, offset);
    toks_.push_back(std::move(t));
  }

  // `(.*?)((+#}|-#}\s*|#}\n?))`
  size_t lex_comment(size_t tag, size_t p, bool& line_starting) {
    std::string_view s = src_;
    size_t q = s.find("#}", p);
    if (q == std::string::npos) error(tag, "Missing end of comment tag");
    size_t end = q + 2;
    if (q > p && s[q - 1] == '-') {
      end += space_run(s, end);
    } else if (q > p && s[q - 1] == '+') {
      // nothing
    } else if (end < s.size() && s[end] == '\n') {
      ++end;
    }
    line_starting = s[end - 1] == '\n';
    return end;
  }

  // Raw data up to `{%(-|+|)\s*endraw\s*(+%}|-%}\s*|%}\n?)`.
  size_t lex_raw(size_t p, bool line_starting, bool& line_starting_out) {
    std::string_view s = src_;
    for (size_t q = s.find("{%", p); q != std::string::npos; q = s.find("{%", q + 1)) {
      size_t r = q + 2;
      char sign = 0;
      if (r < s.size() && (s[r] == '-' || s[r] == '+')) sign = s[r++];
      r += space_run(s, r);
      if (s.substr(r, 6) != "endraw") continue;
      r += 6;
      r += space_run(s, r);
      size_t end;
      if (s.substr(r, 3) == "+%}") {
        end = r + 3;
      } else if (s.substr(r, 3) == "-%}") {
        end = r + 3 + space_run(s, r + 3);
      } else if (s.substr(r, 2) == "%}") {
        end = r + 2;
        if (end < s.size() && s[end] == '\n') ++end;
      } else {
        continue;
      }
      push_data(strip_before(s.substr(p, q - p), sign, true, line_starting), p);
      line_starting_out = s[end - 1] == '\n';
      return end;
    }
    error(p, "Missing end of raw directive");
  }

  size_t lex_tag(size_t tag, size_t p, bool block, bool& line_starting) {
    std::string_view s = src_;
    Token begin{block ? Tok::BlockBegin : Tok::VarBegin, "", 0, 0, 0, 0};
    locate(begin, tag);
    toks_.push_back(begin);
    std::vector<char> balance;
    while (true) {
      if (p >= s.size())
        error(tag, std::string("unexpected end of template, expected '") + (block ? "%}" : "}}") + "'");
      if (balance.empty()) {
        size_t end = std::string::npos;
        if (block) {
          if (s.substr(p, 3) == "+%}")
            end = p + 3;
          else if (s.substr(p, 3) == "-%}")
            end = p + 3 + space_run(s, p + 3);
          else if (s.substr(p, 2) == "%}")
            end = p + 2 + (p + 2 < s.size() && s[p + 2] == '\n' ? 1 : 0);  // trim_blocks
        } else {
          if (s.substr(p, 3) == "-}}")
            end = p + 3 + space_run(s, p + 3);
          else if (s.substr(p, 2) == "}}")
            end = p + 2;
        }
        if (end != std::string::npos) {
          Token t{block ? Tok::BlockEnd : Tok::VarEnd, "", 0, 0, 0, 0};
          locate(t, p);
          toks_.push_back(t);
          line_starting = s[end - 1] == '\n';
          return end;
        }
      }
      size_t ws = space_run(s, p);
      if (ws) {
        p += ws;
        continue;
      }
      Token t{Tok::Op, "", 0, 0, 0, 0};
      locate(t, p);
      size_t n;
      if ((n = match_float(p))) {
        t.type = Tok::Float;
        std::string digits;
        for (size_t k = p; k < p + n; ++k)
          if (s[k] != '_') digits += s[k];
        t.fval = std::strtod(digits.c_str(), nullptr);
      } else if ((n = match_integer(p, t.ival))) {
        t.type = Tok::Integer;
      } else if (is_name_start(s[p])) {
        n = 1;
        while (p + n < s.size() && is_name_char(s[p + n])) ++n;
        t.type = Tok::Name;
        t.text = std::string(s.substr(p, n));
      } else if (s[p] == '\'' || s[p] == '"') {
        n = match_string(p, t.text);
        t.type = Tok::String;
      } else {
        static const char* ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                    "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};
        n = 0;
        for (const char* op : ops) {
          size_t len = std::char_traits<char>::length(op);
          if (s.substr(p, len) == op) {
            n = len;
            t.text = op;
            break;
          }
        }
        if (!n) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "%c", s[p]);
          error(p, std::string("unexpected char '") + buf + "'");
        }
        char c = t.text[0];
        if (t.text.size() == 1 && (c == '(' || c == '[' || c == '{')) {
          balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (t.text.size() == 1 && (c == ')' || c == ']' || c == '}')) {
          if (balance.empty()) error(p, std::string("unexpected '") + c + "'");
          if (balance.back() != c) error(p, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
          balance.pop_back();
        }
      }
      toks_.push_back(std::move(t));
      p += n;
    }
  }

  // (\d+_)*\d+  — digits with single underscores between them; returns the length.
  size_t digits_run(size_t p) const {
    std::string_view s = src_;
    size_t q = p;
    if (q >= s.size() || !is_digit(s[q])) return 0;
    while (q < s.size() && is_digit(s[q])) ++q;
    while (q + 1 < s.size() && s[q] == '_' && is_digit(s[q + 1])) {
      ++q;
      while (q < s.size() && is_digit(s[q])) ++q;
    }
    return q - p;
  }

  size_t match_float(size_t p) const {
    std::string_view s = src_;
    if (p > 0 && s[p - 1] == '.') return 0;
    size_t a = digits_run(p);
    if (!a) return 0;
    size_t q = p + a;
    auto exponent = [&](size_t e) -> size_t {
      if (e < s.size() && (s[e] == 'e' || s[e] == 'E')) {
        size_t f = e + 1;
        if (f < s.size() && (s[f] == '+' || s[f] == '-')) ++f;
        size_t d = digits_run(f);
        if (d) return f + d;
      }
      return 0;
    };
    size_t frac_end = 0;
    if (q < s.size() && s[q] == '.') {
      size_t d = digits_run(q + 1);
      if (d) frac_end = q + 1 + d;
    }
    if (frac_end) {
      size_t e = exponent(frac_end);
      return (e ? e : frac_end) - p;
    }
    size_t e = exponent(q);
    return e ? e - p : 0;
  }

  size_t match_integer(size_t p, int64_t& value) const {
    std::string_view s = src_;
    auto lower = [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); };
    size_t q = p;
    int base = 10;
    std::string digits;
    if (s[q] == '0' && q + 1 < s.size() &&
        (lower(s[q + 1]) == 'b' || lower(s[q + 1]) == 'o' || lower(s[q + 1]) == 'x')) {
      char k = lower(s[q + 1]);
      base = k == 'b' ? 2 : k == 'o' ? 8 : 16;
      auto ok = [&](char c) {
        c = lower(c);
        if (base == 2) return c == '0' || c == '1';
        if (base == 8) return c >= '0' && c <= '7';
        return is_digit(c) || (c >= 'a' && c <= 'f');
      };
      size_t r = q + 2;
      while (true) {
        if (r < s.size() && ok(s[r])) {
          digits += s[r++];
        } else if (r + 1 < s.size() && s[r] == '_' && ok(s[r + 1])) {
          digits += s[r + 1];
          r += 2;
        } else {
          break;
        }
      }
      if (!digits.empty()) {
        q = r;
      } else {
        base = 10;  // "0" alone, then a name
        digits.clear();
      }
    }
    if (base == 10) {
      if (!is_digit(s[q])) return 0;
      if (s[q] == '0') {  // 0(_?0)*
        size_t r = q + 1;
        while (true) {
          if (r < s.size() && s[r] == '0')
            ++r;
          else if (r + 1 < s.size() && s[r] == '_' && s[r + 1] == '0')
            r += 2;
          else
            break;
        }
        digits = "0";
        q = r;
      } else {
        size_t r = q;
        while (true) {
          if (r < s.size() && is_digit(s[r])) {
            digits += s[r++];
          } else if (r > q && r + 1 < s.size() && s[r] == '_' && is_digit(s[r + 1])) {
            digits += s[r + 1];
            r += 2;
          } else {
            break;
          }
        }
        q = r;
      }
    }
    unsigned __int128 v = 0;
    for (char c : digits) {
      int d = is_digit(c) ? c - '0' : lower(c) - 'a' + 10;
      v = v * base + d;
      if (v > static_cast<unsigned __int128>(INT64_MAX)) error(p, "integer literal too large");
    }
    value = static_cast<int64_t>(v);
    return q - p;
  }

  // A quoted string; the value is Python's `.encode("ascii", "backslashreplace").decode("unicode-escape")`.
  size_t match_string(size_t p, std::string& value) const {
    std::string_view s = src_;
    char q = s[p];
    size_t r = p + 1;
    while (r < s.size() && s[r] != q) {
      if (s[r] == '\\') ++r;
      ++r;
    }
    if (r >= s.size()) error(p, std::string("unexpected char '") + q + "'");
    std::u32string body = decode_utf8(s.substr(p + 1, r - p - 1));
    // backslashreplace: non-ASCII characters become escape text first (a backslash before one escapes the
    // backslash of that text, exactly as in jinja2).
    std::string ascii;
    for (char32_t c : body) {
      if (c < 0x80) {
        ascii += static_cast<char>(c);
      } else {
        char buf[16];
        if (c < 0x100)
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
        else if (c < 0x10000)
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        else
          std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
        ascii += buf;
      }
    }
    value = unicode_escape(ascii, p);
    return r + 1 - p;
  }

  std::string unicode_escape(const std::string& a, size_t where) const {
    std::string out;
    auto hex = [&](size_t at, int n, char32_t& cp) {
      cp = 0;
      for (int k = 0; k < n; ++k) {
        if (at + k >= a.size()) return false;
        char c = a[at + k];
        int d = is_digit(c)              ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0) return false;
        cp = cp * 16 + d;
      }
      return true;
    };
    for (size_t i = 0; i < a.size(); ++i) {
      char c = a[i];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i + 1 >= a.size()) error(where, "\\ at end of string");
      char e = a[++i];
      char32_t cp;
      switch (e) {
        case '\n':
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
          if (!hex(i + 1, 2, cp)) error(where, "truncated \\xXX escape");
          append_utf8(out, cp);
          i += 2;
          break;
        case 'u':
          if (!hex(i + 1, 4, cp)) error(where, "truncated \\uXXXX escape");
          append_utf8(out, cp);
          i += 4;
          break;
        case 'U':
          if (!hex(i + 1, 8, cp)) error(where, "truncated \\UXXXXXXXX escape");
          if (cp > 0x10FFFF) error(where, "illegal Unicode character");
          append_utf8(out, cp);
          i += 8;
          break;
        case 'N': {
          size_t close = a.find('}', i);
          if (i + 1 >= a.size() || a[i + 1] != '{' || close == std::string::npos)
            error(where, "malformed \\N character escape");
          std::string name = a.substr(i + 2, close - i - 2);
          UErrorCode status = U_ZERO_ERROR;
          UChar32 u = u_charFromName(U_UNICODE_CHAR_NAME, name.c_str(), &status);
          if (U_FAILURE(status) || u < 0) error(where, "unknown Unicode character name");
          append_utf8(out, static_cast<char32_t>(u));
          i = close;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            cp = e - '0';
            int n = 1;
            while (n < 3 && i + 1 < a.size() && a[i + 1] >= '0' && a[i + 1] <= '7') {
              cp = cp * 8 + (a[++i] - '0');
              ++n;
            }
            append_utf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    return out;
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source) {
  return Lexer(source).run();
}

}  // namespace verbatim::jinja

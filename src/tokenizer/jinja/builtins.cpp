#include "tokenizer/jinja/builtins.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <ctime>

#include "tokenizer/jinja/args.h"
#include "util/error.h"

namespace verbatim::jinja {

ValueList iterate(Interpreter& in, const Value& v) {
  switch (v.kind) {
    case Kind::Undefined:
      return {};
    case Kind::List:
    case Kind::Tuple:
      return *v.list;
    case Kind::Dict: {
      ValueList keys;
      for (const auto& [k, val] : v.dict->items) keys.push_back(k);
      return keys;
    }
    case Kind::String: {
      ValueList chars;
      std::u32string cps = decode_utf8(v.s);
      in.charge(static_cast<int64_t>(cps.size()));
      for (char32_t c : cps) {
        std::string s;
        append_utf8(s, c);
        chars.push_back(Value::string(std::move(s)));
      }
      return chars;
    }
    default:
      throw Error(std::string("'") + type_name(v) + "' object is not iterable");
  }
}

bool contains(Interpreter& in, const Value& container, const Value& item) {
  switch (container.kind) {
    case Kind::String:
      if (item.kind != Kind::String)
        throw Error(std::string("'in <string>' requires string as left operand, not ") + type_name(item));
      return container.s.find(item.s) != std::string::npos;
    case Kind::Dict:
      return container.find(item) != nullptr;
    case Kind::Undefined:
      return false;
    case Kind::List:
    case Kind::Tuple:
      for (const auto& e : *container.list)
        if (equal(e, item)) return true;
      return false;
    default:
      (void)in;
      throw Error(std::string("argument of type '") + type_name(container) + "' is not iterable");
  }
}

Value slice(Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step) {
  auto idx = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.kind == Kind::None) return std::nullopt;
    if (v.kind == Kind::Int) return v.i;
    if (v.kind == Kind::Bool) return v.b ? 1 : 0;
    throw Error(std::string("slice ") + what + " must be an integer or None");
  };
  auto a = idx(start, "indices"), b = idx(stop, "indices"), c = idx(step, "indices");
  int64_t st = c.value_or(1);
  if (st == 0) throw Error("slice step cannot be zero");
  std::u32string cps;
  int64_t n;
  if (obj.kind == Kind::String) {
    cps = decode_utf8(obj.s);
    n = static_cast<int64_t>(cps.size());
  } else if (obj.is_sequence()) {
    n = static_cast<int64_t>(obj.list->size());
  } else {
    // jinja2: the subscript raises TypeError, which it turns into Undefined.
    return Value::undefined("'" + std::string(type_name(obj)) + " object' has no element slice");
  }
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t lo = adjust(a, st < 0 ? n - 1 : 0);
  int64_t hi = adjust(b, st < 0 ? -1 : n);
  std::vector<int64_t> picks;
  if (st > 0)
    for (int64_t i = lo; i < hi; i += st) picks.push_back(i);
  else
    for (int64_t i = lo; i > hi; i += st) picks.push_back(i);
  in.charge(static_cast<int64_t>(picks.size()));
  if (obj.kind == Kind::String) {
    std::u32string out;
    for (int64_t i : picks) out.push_back(cps[static_cast<size_t>(i)]);
    return Value::string(encode_utf8(out));
  }
  ValueList out;
  for (int64_t i : picks) out.push_back((*obj.list)[static_cast<size_t>(i)]);
  return obj.kind == Kind::List ? Value::make_list(std::move(out)) : Value::make_tuple(std::move(out));
}

// ---- string helpers ----

namespace {

std::u32string strip_set(const Value& chars) {
  if (chars.kind == Kind::None || chars.kind == Kind::Undefined) return {};
  if (chars.kind != Kind::String) throw Error("strip arg must be None or str");
  return decode_utf8(chars.s);
}

size_t cp_index(const std::string& s, size_t byte_pos) {
  return byte_pos == std::string::npos ? std::string::npos : utf8_length(std::string_view(s).substr(0, byte_pos));
}

std::string need_str(const Value& v, const char* what) {
  if (v.kind != Kind::String) throw Error(std::string(what) + " argument must be str, not " + type_name(v));
  return v.s;
}

ValueList py_split(const std::string& s, const Value& sep, int64_t maxsplit, bool from_right) {
  ValueList out;
  if (sep.kind == Kind::None || sep.kind == Kind::Undefined) {
    std::u32string cps = decode_utf8(s);
    std::vector<std::pair<size_t, size_t>> words;  // [begin, end) in code points
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_py_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      size_t j = i;
      while (j < cps.size() && !is_py_space(cps[j])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) >= words.size()) {
      for (auto [b, e] : words) out.push_back(Value::string(encode_utf8(std::u32string_view(cps).substr(b, e - b))));
      return out;
    }
    size_t m = static_cast<size_t>(maxsplit);
    if (!from_right) {
      for (size_t k = 0; k < m; ++k)
        out.push_back(Value::string(
            encode_utf8(std::u32string_view(cps).substr(words[k].first, words[k].second - words[k].first))));
      // the remainder keeps its inner whitespace, leading whitespace stripped, trailing kept
      size_t b = words[m].first;
      std::u32string rest = cps.substr(b);
      size_t e = rest.size();
      while (e > 0 && is_py_space(rest[e - 1])) --e;
      out.push_back(Value::string(encode_utf8(std::u32string_view(rest).substr(0, e))));
    } else {
      size_t first_kept = words.size() - m;
      size_t e = words[first_kept - 1].second;
      std::u32string head = cps.substr(0, e);
      size_t b = 0;
      while (b < head.size() && is_py_space(head[b])) ++b;
      out.push_back(Value::string(encode_utf8(std::u32string_view(head).substr(b))));
      for (size_t k = first_kept; k < words.size(); ++k)
        out.push_back(Value::string(
            encode_utf8(std::u32string_view(cps).substr(words[k].first, words[k].second - words[k].first))));
    }
    return out;
  }
  const std::string d = need_str(sep, "split()");
  if (d.empty()) throw Error("empty separator");
  std::vector<std::string> parts;
  if (!from_right) {
    size_t pos = 0;
    int64_t n = 0;
    while (maxsplit < 0 || n < maxsplit) {
      size_t q = s.find(d, pos);
      if (q == std::string::npos) break;
      parts.push_back(s.substr(pos, q - pos));
      pos = q + d.size();
      ++n;
    }
    parts.push_back(s.substr(pos));
  } else {
    size_t end = s.size();
    int64_t n = 0;
    std::vector<std::string> rev;
    while (maxsplit < 0 || n < maxsplit) {
      if (end < d.size()) break;
      size_t q = s.rfind(d, end - d.size());
      if (q == std::string::npos) break;
      rev.push_back(s.substr(q + d.size(), end - q - d.size()));
      end = q;
      ++n;
    }
    rev.push_back(s.substr(0, end));
    parts.assign(rev.rbegin(), rev.rend());
  }
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return out;
}

bool is_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
         c == 0x2028 || c == 0x2029;
}

template <typename Pred>
bool all_cps(const std::string& s, Pred p) {
  std::u32string cps = decode_utf8(s);
  if (cps.empty()) return false;
  for (char32_t c : cps)
    if (!p(c)) return false;
  return true;
}

std::string icu_case(const std::string& s, bool upper) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    std::string out = s;
    for (char& c : out) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return out;
  }
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  if (upper)
    u.toUpper(icu::Locale::getRoot());
  else
    u.toLower(icu::Locale::getRoot());
  std::string out;
  u.toUTF8String(out);
  return out;
}

std::string one_cp(char32_t c) {
  std::string s;
  append_utf8(s, c);
  return s;
}

// Python str.title(): cased characters after an uncased one are titlecased, the others lowercased.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : decode_utf8(s)) {
    bool cased = u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASED);
    if (cased) {
      out += prev_cased ? py_lower(one_cp(c)) : one_cp(static_cast<char32_t>(u_totitle(static_cast<UChar32>(c))));
    } else {
      append_utf8(out, c);
    }
    prev_cased = cased;
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::u32string cps = decode_utf8(s);
  if (cps.empty()) return s;
  std::string out = one_cp(static_cast<char32_t>(u_totitle(static_cast<UChar32>(cps[0]))));
  out += py_lower(encode_utf8(std::u32string_view(cps).substr(1)));
  return out;
}

std::string pad(const std::string& s, int64_t width, const Value& fill,
                int where) {  // where: -1 left, 0 center, 1 right
  std::u32string f = fill.kind == Kind::String ? decode_utf8(fill.s) : std::u32string(U" ");
  if (f.size() != 1) throw Error("The fill character must be exactly one character long");
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width > (1 << 24)) throw Error("padding width too large");
  if (width <= len) return s;
  int64_t total = width - len, left;
  if (where < 0)
    left = 0;
  else if (where > 0)
    left = total;
  else
    left = total / 2 + (total & width & 1);  // CPython's pad for center
  std::string out;
  for (int64_t k = 0; k < left; ++k) append_utf8(out, f[0]);
  out += s;
  for (int64_t k = 0; k < total - left; ++k) append_utf8(out, f[0]);
  return out;
}

Value bound(const std::string& name, std::function<Value(Interpreter&, ValueList&, KwArgs&)> fn) {
  return Value::callable(name, std::move(fn));
}

Value string_method(const Value& obj, const std::string& name) {
  const std::string self = obj.s;
  auto m = [&](auto fn) { return bound(name, fn); };
  if (name == "startswith" || name == "endswith") {
    bool starts = name == "startswith";
    return m([self, starts](Interpreter& in, ValueList& a, KwArgs& k) {
      Args p(starts ? "startswith" : "endswith", a, k, {"prefix", "start", "end"});
      Value pre = p.required(0);
      std::string s = self;
      if (!p.get(1).is_none() || !p.get(2).is_none())
        s = slice(in, Value::string(self), p.get(1), p.get(2), Value::none()).s;
      auto test = [&](const Value& x) {
        const std::string t = need_str(x, starts ? "startswith" : "endswith");
        if (t.size() > s.size()) return false;
        return starts ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
      };
      if (pre.kind == Kind::Tuple) {
        for (const auto& x : *pre.list)
          if (test(x)) return Value::boolean(true);
        return Value::boolean(false);
      }
      return Value::boolean(test(pre));
    });
  }
  if (name == "split" || name == "rsplit") {
    bool right = name == "rsplit";
    return m([self, right](Interpreter& in, ValueList& a, KwArgs& k) {
      Args p(right ? "rsplit" : "split", a, k, {"sep", "maxsplit"});
      Value ms = p.get(1, Value::integer(-1));
      if (ms.kind != Kind::Int) throw Error("maxsplit must be an integer");
      ValueList parts = py_split(self, p.get(0), ms.i, right);
      in.charge(static_cast<int64_t>(parts.size() + self.size() / 16));
      return Value::make_list(std::move(parts));
    });
  }
  if (name == "splitlines") {
    return m([self](Interpreter&, ValueList& a, KwArgs& k) {
      Args p("splitlines", a, k, {"keepends"});
      bool keep = truthy(p.get(0, Value::boolean(false)));
      std::u32string cps = decode_utf8(self);
      ValueList out;
      size_t i = 0, start = 0;
      while (i < cps.size()) {
        if (is_line_break(cps[i])) {
          size_t eol = i + 1;
          if (cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') eol = i + 2;
          out.push_back(Value::string(encode_utf8(std::u32string_view(cps).substr(start, (keep ? eol : i) - start))));
          start = i = eol;
        } else {
          ++i;
        }
      }
      if (start < cps.size()) out.push_back(Value::string(encode_utf8(std::u32string_view(cps).substr(start))));
      return Value::make_list(std::move(out));
    });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return m([self, l, r, name](Interpreter&, ValueList& a, KwArgs& k) {
      Args p(name.c_str(), a, k, {"chars"});
      return Value::string(py_strip(self, p.get(0), l, r));
    });
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" || name == "casefold" ||
      name == "swapcase") {
    return m([self, name](Interpreter&, ValueList& a, KwArgs& k) {
      Args p(name.c_str(), a, k, {});
      if (name == "upper") return Value::string(py_upper(self));
      if (name == "lower" || name == "casefold") return Value::string(py_lower(self));
      if (name == "title") return Value::string(py_title(self));
      if (name == "capitalize") return Value::string(py_capitalize(self));
      std::string out;
      for (char32_t c : decode_utf8(self)) {
        std::string one = one_cp(c);
        out += u_isupper(static_cast<UChar32>(c))   ? py_lower(one)
               : u_islower(static_cast<UChar32>(c)) ? py_upper(one)
                                                    : one;
      }
      return Value::string(out);
    });
  }
  if (name == "replace") {
    return m([self](Interpreter& in, ValueList& a, KwArgs& k) {
      Args p("replace", a, k, {"old", "new", "count"});
      const std::string old = need_str(p.required(0), "replace()");
      const std::string neu = need_str(p.required(1), "replace()");
      Value cv = p.get(2, Value::integer(-1));
      if (cv.kind != Kind::Int) throw Error("replace() count must be an integer");
      int64_t count = cv.i;
      std::string out;
      if (old.empty()) {
        std::u32string cps = decode_utf8(self);
        int64_t n = 0;
        for (size_t i = 0; i <= cps.size(); ++i) {
          if (count < 0 || n < count) {
            out += neu;
            ++n;
          }
          if (i < cps.size()) append_utf8(out, cps[i]);
          in.check_size(out.size());
        }
        return Value::string(out);
      }
      size_t pos = 0;
      int64_t n = 0;
      while (count < 0 || n < count) {
        size_t q = self.find(old, pos);
        if (q == std::string::npos) break;
        out.append(self, pos, q - pos);
        out += neu;
        in.check_size(out.size());
        pos = q + old.size();
        ++n;
      }
      out.append(self, pos, std::string::npos);
      in.charge(static_cast<int64_t>(out.size() / 16));
      return Value::string(out);
    });
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return m([self, name](Interpreter&, ValueList& a, KwArgs& k) {
      Args p(name.c_str(), a, k, {"sub"});
      const std::string sub = need_str(p.required(0), name.c_str());
      if (name == "count") {
        if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(self) + 1));
        int64_t n = 0;
        for (size_t q = self.find(sub); q != std::string::npos; q = self.find(sub, q + sub.size())) ++n;
        return Value::integer(n);
      }
      size_t q = (name == "find" || name == "index") ? self.find(sub) : self.rfind(sub);
      if (q == std::string::npos) {
        if (name == "index" || name == "rindex") throw Error("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(static_cast<int64_t>(cp_index(self, q)));
    });
  }
  if (name == "join") {
    return m([self](Interpreter& in, ValueList& a, KwArgs& k) {
      Args p("join", a, k, {"iterable"});
      std::string out;
      bool first = true;
      for (const auto& v : iterate(in, p.required(0))) {
        if (v.kind != Kind::String)
          throw Error(std::string("sequence item: expected str instance, ") + type_name(v) + " found");
        if (!first) out += self;
        first = false;
        out += v.s;
        in.check_size(out.size());
      }
      return Value::string(out);
    });
  }
  if (name == "isdigit" || name == "isnumeric" || name == "isdecimal" || name == "isalpha" || name == "isalnum" ||
      name == "isspace" || name == "islower" || name == "isupper") {
    return m([self, name](Interpreter&, ValueList& a, KwArgs& k) {
      Args p(name.c_str(), a, k, {});
      auto U = [](char32_t c) { return static_cast<UChar32>(c); };
      if (name == "isdigit" || name == "isdecimal" || name == "isnumeric")
        return Value::boolean(all_cps(self, [&](char32_t c) { return u_isdigit(U(c)) != 0; }));
      if (name == "isalpha") return Value::boolean(all_cps(self, [&](char32_t c) { return u_isalpha(U(c)) != 0; }));
      if (name == "isalnum")
        return Value::boolean(all_cps(self, [&](char32_t c) { return u_isalpha(U(c)) || u_isdigit(U(c)); }));
      if (name == "isspace") return Value::boolean(all_cps(self, [](char32_t c) { return is_py_space(c); }));
      bool want_lower = name == "islower", any_cased = false, ok = true;
      for (char32_t c : decode_utf8(self)) {
        if (u_isupper(U(c)) || u_istitle(U(c))) {
          any_cased = true;
          if (want_lower) ok = false;
        } else if (u_islower(U(c))) {
          any_cased = true;
          if (!want_lower) ok = false;
        }
      }
      return Value::boolean(ok && any_cased);
    });
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    return m([self, name](Interpreter&, ValueList& a, KwArgs& k) {
      if (name == "zfill") {
        Args p("zfill", a, k, {"width"});
        Value w = p.required(0);
        if (w.kind != Kind::Int) throw Error("zfill() width must be an integer");
        std::string s = self;
        std::string sign;
        if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
          sign = s.substr(0, 1);
          s.erase(0, 1);
        }
        std::string padded = pad(s, w.i - static_cast<int64_t>(sign.size()), Value::string("0"), 1);
        return Value::string(sign + padded);
      }
      Args p(name.c_str(), a, k, {"width", "fillchar"});
      Value w = p.required(0);
      if (w.kind != Kind::Int) throw Error(name + "() width must be an integer");
      return Value::string(pad(self, w.i, p.get(1), name == "center" ? 0 : name == "ljust" ? -1 : 1));
    });
  }
  if (name == "removeprefix" || name == "removesuffix") {
    bool pre = name == "removeprefix";
    return m([self, pre](Interpreter&, ValueList& a, KwArgs& k) {
      Args p(pre ? "removeprefix" : "removesuffix", a, k, {"affix"});
      const std::string t = need_str(p.required(0), "remove affix");
      if (pre && self.compare(0, t.size(), t) == 0 && t.size() <= self.size())
        return Value::string(self.substr(t.size()));
      if (!pre && t.size() <= self.size() && self.compare(self.size() - t.size(), t.size(), t) == 0)
        return Value::string(self.substr(0, self.size() - t.size()));
      return Value::string(self);
    });
  }
  if (name == "partition" || name == "rpartition") {
    bool right = name == "rpartition";
    return m([self, right](Interpreter&, ValueList& a, KwArgs& k) {
      Args p(right ? "rpartition" : "partition", a, k, {"sep"});
      const std::string sep = need_str(p.required(0), "partition()");
      if (sep.empty()) throw Error("empty separator");
      size_t q = right ? self.rfind(sep) : self.find(sep);
      if (q == std::string::npos)
        return right ? Value::make_tuple({Value::string(""), Value::string(""), Value::string(self)})
                     : Value::make_tuple({Value::string(self), Value::string(""), Value::string("")});
      return Value::make_tuple(
          {Value::string(self.substr(0, q)), Value::string(sep), Value::string(self.substr(q + sep.size()))});
    });
  }
  return Value::undefined();
}

const char* kUnsafeDict[] = {"pop", "popitem", "setdefault", "update", "clear"};
const char* kUnsafeList[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};

}  // namespace

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::u32string set = strip_set(chars);
  bool ws = chars.kind == Kind::None || chars.kind == Kind::Undefined;
  auto strip_it = [&](char32_t c) { return ws ? is_py_space(c) : set.find(c) != std::u32string::npos; };
  // Fast path: ASCII ends.
  std::u32string cps = decode_utf8(s);
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  if (b == 0 && e == cps.size()) return s;
  return encode_utf8(std::u32string_view(cps).substr(b, e - b));
}

std::string py_upper(const std::string& s) {
  return icu_case(s, true);
}
std::string py_lower(const std::string& s) {
  return icu_case(s, false);
}

Value method(Interpreter& in, const Value& obj, const std::string& name) {
  (void)in;
  if (obj.kind == Kind::String) return string_method(obj, name);
  if (obj.kind == Kind::Dict) {
    Value self = obj;
    if (name == "get")
      return bound(name, [self](Interpreter&, ValueList& a, KwArgs& k) {
        Args p("get", a, k, {"key", "default"});
        const Value* v = self.find(p.required(0));
        return v ? *v : p.get(1);
      });
    if (name == "items" || name == "keys" || name == "values")
      return bound(name, [self, name](Interpreter&, ValueList& a, KwArgs& k) {
        Args p(name.c_str(), a, k, {});
        ValueList out;
        for (const auto& [key, v] : self.dict->items) {
          if (name == "items")
            out.push_back(Value::make_tuple({key, v}));
          else
            out.push_back(name == "keys" ? key : v);
        }
        return Value::make_list(std::move(out));
      });
    if (name == "copy") return bound(name, [self](Interpreter&, ValueList&, KwArgs&) { return self; });
    for (const char* u : kUnsafeDict)
      if (name == u) return Value::undefined("access to attribute '" + name + "' of 'dict' object is unsafe.");
  }
  if (obj.kind == Kind::List || obj.kind == Kind::Tuple) {
    Value self = obj;
    if (name == "index" || name == "count")
      return bound(name, [self, name](Interpreter&, ValueList& a, KwArgs& k) {
        Args p(name.c_str(), a, k, {"value"});
        Value x = p.required(0);
        int64_t n = 0;
        for (size_t i = 0; i < self.list->size(); ++i)
          if (equal((*self.list)[i], x)) {
            if (name == "index") return Value::integer(static_cast<int64_t>(i));
            ++n;
          }
        if (name == "index") throw Error(repr(x) + " is not in list");
        return Value::integer(n);
      });
    if (obj.kind == Kind::List)
      for (const char* u : kUnsafeList)
        if (name == u) return Value::undefined("access to attribute '" + name + "' of 'list' object is unsafe.");
  }
  return Value::undefined();
}

std::vector<std::pair<std::string, Value>> default_globals() {
  std::vector<std::pair<std::string, Value>> g;
  g.emplace_back(
      "range", Value::callable("range", [](Interpreter& in, ValueList& a, KwArgs& k) {
        if (!k.empty()) throw Error("range() takes no keyword arguments");
        if (a.empty() || a.size() > 3) throw Error("range expected 1 to 3 arguments");
        int64_t v[3] = {0, 0, 1};
        for (size_t i = 0; i < a.size(); ++i) {
          if (a[i].kind != Kind::Int && a[i].kind != Kind::Bool)
            throw Error(std::string("'") + type_name(a[i]) + "' object cannot be interpreted as an integer");
        }
        auto iv = [](const Value& x) { return x.kind == Kind::Bool ? (x.b ? 1 : 0) : x.i; };
        if (a.size() == 1) {
          v[1] = iv(a[0]);
        } else {
          v[0] = iv(a[0]);
          v[1] = iv(a[1]);
          if (a.size() == 3) v[2] = iv(a[2]);
        }
        if (v[2] == 0) throw Error("range() arg 3 must not be zero");
        // The sandbox's MAX_RANGE.
        __int128 count =
            v[2] > 0
                ? (v[1] > v[0] ? (static_cast<__int128>(v[1]) - v[0] + v[2] - 1) / v[2] : 0)
                : (v[0] > v[1] ? (static_cast<__int128>(v[0]) - v[1] - v[2] - 1) / -static_cast<__int128>(v[2]) : 0);
        if (count > 100000) throw Error("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        in.charge(static_cast<int64_t>(count));
        ValueList out;
        for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) out.push_back(Value::integer(v[0] + i * v[2]));
        return Value::make_list(std::move(out));
      }));
  auto dict_from = [](const char* fname, ValueList& a, KwArgs& k) {
    std::vector<std::pair<Value, Value>> items;
    if (a.size() > 1) throw Error(std::string(fname) + " expected at most 1 argument");
    if (a.size() == 1) {
      const Value& src = a[0];
      if (src.kind == Kind::Dict) {
        items = src.dict->items;
      } else if (src.is_sequence()) {
        for (const auto& pair : *src.list) {
          if (!pair.is_sequence() || pair.list->size() != 2)
            throw Error("dictionary update sequence element has wrong length");
          items.emplace_back((*pair.list)[0], (*pair.list)[1]);
        }
      } else {
        throw Error(std::string("'") + type_name(src) + "' object is not iterable");
      }
    }
    for (auto& [key, v] : k) items.emplace_back(Value::string(key), v);
    return items;
  };
  g.emplace_back("dict", Value::callable("dict", [dict_from](Interpreter&, ValueList& a, KwArgs& k) {
                   return Value::make_dict(dict_from("dict", a, k));
                 }));
  g.emplace_back("namespace", Value::callable("namespace", [dict_from](Interpreter&, ValueList& a, KwArgs& k) {
                   Value d = Value::make_dict(dict_from("namespace", a, k));
                   Value ns;
                   ns.kind = Kind::Namespace;
                   ns.ns = std::make_shared<NamespaceObj>();
                   for (const auto& [key, v] : d.dict->items) {
                     if (key.kind != Kind::String) throw Error("namespace keys must be strings");
                     ns.ns->attrs.emplace_back(key.s, v);
                   }
                   return ns;
                 }));
  g.emplace_back("raise_exception",
                 Value::callable("raise_exception", [](Interpreter&, ValueList& a, KwArgs& k) -> Value {
                   Args p("raise_exception", a, k, {"message"});
                   throw Error(to_str(p.required(0)));
                 }));
  g.emplace_back("strftime_now", Value::callable("strftime_now", [](Interpreter& in, ValueList& a, KwArgs& k) {
                   Args p("strftime_now", a, k, {"format"});
                   const std::string fmt = need_str(p.required(0), "strftime_now()");
                   if (fmt.size() > 1024) throw Error("strftime_now: format too long");
                   std::time_t t = in.now_unix() >= 0 ? static_cast<std::time_t>(in.now_unix()) : std::time(nullptr);
                   std::tm tm{};
                   localtime_r(&t, &tm);
                   if (fmt.empty()) return Value::string("");
                   std::vector<char> buf(fmt.size() * 64 + 256);
                   size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
                   return Value::string(std::string(buf.data(), n));
                 }));
  return g;
}

}  // namespace verbatim::jinja

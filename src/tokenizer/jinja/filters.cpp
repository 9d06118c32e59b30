// jinja2's builtin filters and tests (the subset chat templates use), plus transformers' tojson.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tokenizer/jinja/args.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "util/error.h"

namespace verbatim::jinja {
namespace {

// jinja2's make_attrgetter: "a.b.0" walks getitem per part (digit parts as integers).
Value attr_path(Interpreter& in, const Value& item, const Value& attribute, const Value* dflt = nullptr) {
  Value cur = item;
  if (attribute.kind == Kind::Int) {
    cur = in.getitem(cur, attribute);
  } else {
    std::string path = to_str(attribute);
    size_t pos = 0;
    while (true) {
      size_t dot = path.find('.', pos);
      std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
      cur = in.getitem(cur, digits && part.size() < 18 ? Value::integer(std::stoll(part)) : Value::string(part));
      if (dflt && cur.is_undefined()) cur = *dflt;
      if (dot == std::string::npos) break;
      pos = dot + 1;
    }
  }
  return cur;
}

Value lower_if_str(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.kind == Kind::String) return Value::string(py_lower(v.s));
  return v;
}

size_t py_len(const Value& v) {
  switch (v.kind) {
    case Kind::String:
      return utf8_length(v.s);
    case Kind::List:
    case Kind::Tuple:
      return v.list->size();
    case Kind::Dict:
      return v.dict->items.size();
    case Kind::Undefined:
      return 0;
    default:
      throw Error(std::string("object of type '") + type_name(v) + "' has no len()");
  }
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Python int(str, base): optional sign, digits with single underscores, surrounding whitespace.
bool parse_py_int(const std::string& text, int base, int64_t& out) {
  std::string s = py_strip(text, Value::none(), true, true);
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (base == 16 && s.compare(i, 2, "0x") == 0) i += 2;
  if (i >= s.size()) return false;
  __int128 v = 0;
  bool prev_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_' && prev_digit && i + 1 < s.size() && s[i + 1] != '_') {
      prev_digit = false;
      continue;
    }
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'z') ? c - 'a' + 10
            : (c >= 'A' && c <= 'Z') ? c - 'A' + 10
                                     : 99;
    if (d >= base) return false;
    v = v * base + d;
    if (v > static_cast<__int128>(INT64_MAX) + 1) return false;
    prev_digit = true;
  }
  if (!prev_digit) return false;
  if (neg) v = -v;
  if (v > INT64_MAX || v < INT64_MIN) return false;
  out = static_cast<int64_t>(v);
  return true;
}

bool parse_py_float(const std::string& text, double& out) {
  std::string s = py_strip(text, Value::none(), true, true);
  if (s.empty()) return false;
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      continue;
    }
    clean += s[i];
  }
  if (clean.find_first_of("xXpP") != std::string::npos) return false;  // strtod's hex floats are not Python's
  char* end = nullptr;
  out = std::strtod(clean.c_str(), &end);
  return end && *end == 0;
}

std::string py_round_str(double x, int64_t digits) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(digits), x);
  return buf;
}

Value do_round(const Value& v, int64_t precision, const std::string& method) {
  if (!v.is_number()) throw Error(std::string("type ") + type_name(v) + " doesn't define __round__ method");
  double x = v.kind == Kind::Float ? v.f : static_cast<double>(v.kind == Kind::Bool ? v.b : v.i);
  if (method == "common") {
    if (v.kind != Kind::Float) return Value::integer(static_cast<int64_t>(x));  // round(int, n) keeps the int
    if (!std::isfinite(x)) return Value::number(x);
    if (precision >= 0 && precision <= 300)
      return Value::number(std::strtod(py_round_str(x, precision).c_str(), nullptr));
    double p = std::pow(10.0, static_cast<double>(precision));
    return Value::number(std::nearbyint(x * p) / p);
  }
  if (method != "ceil" && method != "floor") throw Error("method must be 'common', 'ceil' or 'floor'");
  double p = std::pow(10.0, static_cast<double>(precision));
  double r = method == "ceil" ? std::ceil(x * p) : std::floor(x * p);
  return Value::number(r / p);
}

}  // namespace

Value Interpreter::apply_filter(const std::string& name, const Value& v, ValueList& a, KwArgs& k) {
  charge(1);
  const char* n = name.c_str();
  if (name == "length" || name == "count") {
    Args p(n, a, k, {});
    return Value::integer(static_cast<int64_t>(py_len(v)));
  }
  if (name == "trim") {
    Args p(n, a, k, {"chars"});
    return Value::string(py_strip(to_str(v), p.get(0), true, true));
  }
  if (name == "tojson") {
    // transformers: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    Args p(n, a, k, {"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonOptions o;
    o.ensure_ascii = truthy(p.get(0, Value::boolean(false)));
    Value indent = p.get(1);
    std::string indent_str;
    bool has_indent = !indent.is_none();
    if (indent.kind == Kind::Int) {
      o.indent = static_cast<int>(std::clamp<int64_t>(indent.i, 0, 64));
    } else if (indent.kind == Kind::String) {
      if (!indent.s.empty() && indent.s.find_first_not_of(' ') == std::string::npos)
        o.indent = static_cast<int>(indent.s.size());
      else if (indent.s.empty())
        o.indent = 0;
      else
        throw Error("tojson: only integer (or spaces) indents are supported");
    } else if (has_indent) {
      throw Error("tojson: indent must be an integer");
    }
    if (has_indent) o.item_sep = ",";
    Value sep = p.get(2);
    if (!sep.is_none()) {
      if (!sep.is_sequence() || sep.list->size() != 2 || !(*sep.list)[0].is_string() || !(*sep.list)[1].is_string())
        throw Error("tojson: separators must be a pair of strings");
      o.item_sep = (*sep.list)[0].s;
      o.key_sep = (*sep.list)[1].s;
    }
    o.sort_keys = truthy(p.get(3, Value::boolean(false)));
    std::string s = to_json(v, o);
    check_size(s.size());
    charge(static_cast<int64_t>(s.size() / 16));
    return Value::string(std::move(s));
  }
  if (name == "string") {
    Args p(n, a, k, {});
    return Value::string(to_str(v));
  }
  if (name == "safe") {
    Args p(n, a, k, {});
    return v.kind == Kind::String ? v : Value::string(to_str(v));
  }
  if (name == "escape" || name == "e" || name == "forceescape") {
    Args p(n, a, k, {});
    return Value::string(html_escape(to_str(v)));
  }
  if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
    Args p(n, a, k, {});
    std::string s = to_str(v);
    if (name == "upper") return Value::string(py_upper(s));
    if (name == "lower") return Value::string(py_lower(s));
    ValueList none;
    KwArgs nokw;
    if (name == "capitalize") return call(method(*this, Value::string(s), "capitalize"), none, nokw);
    // jinja2's title: split at runs of [-\s({[<], upper-case each piece's first character, lower-case the rest.
    std::u32string cps = decode_utf8(s);
    auto is_delim = [](char32_t c) {
      return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c);
    };
    std::string out;
    size_t i = 0;
    while (i < cps.size()) {
      size_t j = i;
      bool delim = is_delim(cps[i]);
      while (j < cps.size() && is_delim(cps[j]) == delim) ++j;
      std::string piece = encode_utf8(std::u32string_view(cps).substr(i, j - i));
      if (delim) {
        out += piece;
      } else {
        std::string first = encode_utf8(std::u32string_view(cps).substr(i, 1));
        out += py_upper(first) + py_lower(encode_utf8(std::u32string_view(cps).substr(i + 1, j - i - 1)));
      }
      i = j;
    }
    return Value::string(out);
  }
  if (name == "replace") {
    Args p(n, a, k, {"old", "new", "count"});
    ValueList ma{p.required(0), p.required(1)};
    if (p.has(2) && !p.get(2).is_none()) ma.push_back(p.get(2));
    KwArgs nokw;
    return call(method(*this, Value::string(to_str(v)), "replace"), ma, nokw);
  }
  if (name == "default" || name == "d") {
    Args p(n, a, k, {"default_value", "boolean"});
    Value dv = p.get(0, Value::string(""));
    if (v.is_undefined() || (truthy(p.get(1, Value::boolean(false))) && !truthy(v))) return dv;
    return v;
  }
  if (name == "join") {
    Args p(n, a, k, {"d", "attribute"});
    std::string sep = to_str(p.get(0, Value::string("")));
    std::string out;
    bool first = true;
    for (const auto& item : iterate(*this, v)) {
      Value x = p.has(1) && !p.get(1).is_none() ? attr_path(*this, item, p.get(1)) : item;
      if (!first) out += sep;
      first = false;
      out += to_str(x);
      check_size(out.size());
    }
    charge(static_cast<int64_t>(out.size() / 16));
    return Value::string(out);
  }
  if (name == "first" || name == "last") {
    Args p(n, a, k, {});
    ValueList items = iterate(*this, v);
    if (items.empty()) return Value::undefined(std::string("No ") + n + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") {
    Args p(n, a, k, {});
    return Value::make_list(iterate(*this, v));
  }
  if (name == "items") {
    Args p(n, a, k, {});
    if (v.is_undefined()) return Value::make_list({});
    if (v.kind != Kind::Dict) throw Error("Can only get item pairs from a mapping.");
    ValueList out;
    for (const auto& [key, val] : v.dict->items) out.push_back(Value::make_tuple({key, val}));
    return Value::make_list(std::move(out));
  }
  if (name == "reverse") {
    Args p(n, a, k, {});
    if (v.kind == Kind::String) return slice(*this, v, Value::none(), Value::none(), Value::integer(-1));
    ValueList items = iterate(*this, v);
    std::reverse(items.begin(), items.end());
    return Value::make_list(std::move(items));
  }
  if (name == "sort" || name == "unique" || name == "min" || name == "max") {
    bool is_sort = name == "sort";
    Args p(n, a, k,
           is_sort ? std::initializer_list<const char*>{"reverse", "case_sensitive", "attribute"}
                   : std::initializer_list<const char*>{"case_sensitive", "attribute"});
    size_t off = is_sort ? 1 : 0;
    bool cs = truthy(p.get(off, Value::boolean(false)));
    Value attribute = p.get(off + 1);
    ValueList items = iterate(*this, v);
    charge(static_cast<int64_t>(items.size()));
    auto key = [&](const Value& x) {
      return lower_if_str(attribute.is_none() ? x : attr_path(*this, x, attribute), cs);
    };
    if (is_sort) {
      bool rev = truthy(p.get(0, Value::boolean(false)));
      std::vector<std::pair<Value, Value>> keyed;
      for (auto& x : items) keyed.emplace_back(key(x), x);
      // Python's sorted(reverse=True) keeps equal elements in their original order.
      std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& l, const auto& r) {
        return rev ? less(r.first, l.first) : less(l.first, r.first);
      });
      ValueList out;
      for (auto& kv : keyed) out.push_back(std::move(kv.second));
      return Value::make_list(std::move(out));
    }
    if (name == "unique") {
      ValueList out, seen;
      for (auto& x : items) {
        Value kx = key(x);
        bool dup = false;
        for (const auto& s : seen)
          if (equal(s, kx)) dup = true;
        if (!dup) {
          seen.push_back(kx);
          out.push_back(x);
        }
      }
      return Value::make_list(std::move(out));
    }
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
      bool better = name == "min" ? less(key(items[i]), key(items[best])) : less(key(items[best]), key(items[i]));
      if (better) best = i;
    }
    return items[best];
  }
  if (name == "dictsort") {
    Args p(n, a, k, {"case_sensitive", "by", "reverse"});
    if (v.kind != Kind::Dict) throw Error("dictsort: value is not a mapping");
    bool cs = truthy(p.get(0, Value::boolean(false)));
    std::string by = to_str(p.get(1, Value::string("key")));
    if (by != "key" && by != "value") throw Error("You can only sort by either \"key\" or \"value\"");
    bool rev = truthy(p.get(2, Value::boolean(false)));
    std::vector<std::pair<Value, Value>> items = v.dict->items;
    std::stable_sort(items.begin(), items.end(), [&](const auto& l, const auto& r) {
      Value kl = lower_if_str(by == "key" ? l.first : l.second, cs),
            kr = lower_if_str(by == "key" ? r.first : r.second, cs);
      return rev ? less(kr, kl) : less(kl, kr);
    });
    ValueList out;
    for (auto& [key, val] : items) out.push_back(Value::make_tuple({key, val}));
    return Value::make_list(std::move(out));
  }
  if (name == "map") {
    ValueList items = iterate(*this, v);
    ValueList out;
    bool by_attr = false;
    Value attribute, dflt;
    bool has_default = false;
    for (auto& [key, val] : k) {
      if (key == "attribute") {
        by_attr = true;
        attribute = val;
      } else if (key == "default") {
        has_default = true;
        dflt = val;
      }
    }
    if (by_attr) {
      for (auto& [key, val] : k)
        if (key != "attribute" && key != "default") throw Error("Unexpected keyword argument '" + key + "'");
      for (auto& x : items) out.push_back(attr_path(*this, x, attribute, has_default ? &dflt : nullptr));
      return Value::make_list(std::move(out));
    }
    if (a.empty()) throw Error("map requires a filter argument");
    std::string fname = to_str(a[0]);
    ValueList rest(a.begin() + 1, a.end());
    for (auto& x : items) {
      ValueList ra = rest;
      KwArgs rk = k;
      out.push_back(apply_filter(fname, x, ra, rk));
    }
    return Value::make_list(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    bool attr = name == "selectattr" || name == "rejectattr";
    bool want = name == "select" || name == "selectattr";
    size_t off = attr ? 1 : 0;
    if (attr && a.empty()) throw Error("Missing parameter for attribute name");
    ValueList out;
    for (auto& x : iterate(*this, v)) {
      Value item = attr ? attr_path(*this, x, a[0]) : x;
      bool ok;
      if (a.size() <= off) {
        ok = truthy(item);
      } else {
        std::string tname = to_str(a[off]);
        ValueList ta(a.begin() + static_cast<long>(off) + 1, a.end());
        KwArgs tk = k;
        ok = apply_test(tname, item, ta, tk);
      }
      if (ok == want) out.push_back(x);
    }
    return Value::make_list(std::move(out));
  }
  if (name == "sum") {
    Args p(n, a, k, {"attribute", "start"});
    Value total = p.get(1, Value::integer(0));
    for (auto& x : iterate(*this, v))
      total = binary_op(*this, "+", total, p.get(0).is_none() ? x : attr_path(*this, x, p.get(0)));
    return total;
  }
  if (name == "abs") {
    Args p(n, a, k, {});
    if (v.kind == Kind::Int || v.kind == Kind::Bool) {
      int64_t i = v.kind == Kind::Bool ? v.b : v.i;
      if (i == INT64_MIN) throw Error("integer overflow");
      return Value::integer(i < 0 ? -i : i);
    }
    if (v.kind == Kind::Float) return Value::number(std::fabs(v.f));
    throw Error(std::string("bad operand type for abs(): '") + type_name(v) + "'");
  }
  if (name == "round") {
    Args p(n, a, k, {"precision", "method"});
    Value prec = p.get(0, Value::integer(0));
    if (prec.kind != Kind::Int) throw Error("round: precision must be an integer");
    return do_round(v, prec.i, to_str(p.get(1, Value::string("common"))));
  }
  if (name == "int") {
    Args p(n, a, k, {"default", "base"});
    Value dflt = p.get(0, Value::integer(0));
    Value base = p.get(1, Value::integer(10));
    int64_t out;
    if (v.kind == Kind::String) {
      if (base.kind != Kind::Int || base.i < 2 || base.i > 36) return dflt;
      if (parse_py_int(v.s, static_cast<int>(base.i), out)) return Value::integer(out);
      double d;
      if (parse_py_float(v.s, d) && std::isfinite(d) && std::fabs(d) < 9.2e18)
        return Value::integer(static_cast<int64_t>(d));
      return dflt;
    }
    if (v.kind == Kind::Int) return v;
    if (v.kind == Kind::Bool) return Value::integer(v.b ? 1 : 0);
    if (v.kind == Kind::Float) {
      if (std::isfinite(v.f) && std::fabs(v.f) < 9.2e18) return Value::integer(static_cast<int64_t>(v.f));
      return dflt;
    }
    return dflt;
  }
  if (name == "float") {
    Args p(n, a, k, {"default"});
    Value dflt = p.get(0, Value::number(0.0));
    if (v.kind == Kind::Float) return v;
    if (v.kind == Kind::Int) return Value::number(static_cast<double>(v.i));
    if (v.kind == Kind::Bool) return Value::number(v.b ? 1.0 : 0.0);
    double d;
    if (v.kind == Kind::String && parse_py_float(v.s, d)) return Value::number(d);
    return dflt;
  }
  if (name == "indent") {
    Args p(n, a, k, {"width", "first", "blank"});
    Value w = p.get(0, Value::integer(4));
    std::string ind;
    if (w.kind == Kind::String) {
      ind = w.s;
    } else if (w.kind == Kind::Int) {
      if (w.i > 4096) throw Error("indent width too large");
      ind = std::string(static_cast<size_t>(std::max<int64_t>(0, w.i)), ' ');
    } else {
      throw Error("indent width must be an integer or a string");
    }
    std::string s = to_str(v) + "\n";
    ValueList none;
    KwArgs nokw;
    ValueList lines = call(method(*this, Value::string(s), "splitlines"), none, nokw).items();
    std::string rv;
    if (truthy(p.get(2, Value::boolean(false)))) {
      for (size_t i = 0; i < lines.size(); ++i) {
        if (i) rv += "\n" + ind;
        rv += lines[i].s;
      }
    } else {
      rv = lines.empty() ? "" : lines[0].s;
      for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].s.empty() ? "" : ind + lines[i].s);
    }
    if (truthy(p.get(1, Value::boolean(false)))) rv = ind + rv;
    check_size(rv.size());
    return Value::string(rv);
  }
  if (name == "center") {
    Args p(n, a, k, {"width"});
    ValueList ma{p.get(0, Value::integer(80))};
    KwArgs nokw;
    return call(method(*this, Value::string(to_str(v)), "center"), ma, nokw);
  }
  if (name == "wordcount") {
    Args p(n, a, k, {});
    int64_t words = 0;
    bool in_word = false;
    for (char32_t c : decode_utf8(to_str(v))) {
      bool w = c == '_' || (c < 0x80 ? std::isalnum(static_cast<int>(c)) != 0 : !is_py_space(c));
      if (w && !in_word) ++words;
      in_word = w;
    }
    return Value::integer(words);
  }
  if (name == "attr") {
    // jinja2's attr: getattr only (no item lookup), so a dict's keys are not attributes.
    Args p(n, a, k, {"name"});
    std::string attr = to_str(p.required(0));
    if (v.is_undefined()) return getattr(v, attr);
    Value m = method(*this, v, attr);
    if (!m.is_undefined() || !m.s.empty()) return m;
    if (v.kind == Kind::Namespace)
      for (const auto& [key, val] : v.ns->attrs)
        if (key == attr) return val;
    return Value::undefined("'" + std::string(type_name(v)) + " object' has no attribute '" + attr + "'");
  }
  throw Error("No filter named '" + name + "'.");
}

bool Interpreter::apply_test(const std::string& name, const Value& v, ValueList& a, KwArgs& k) {
  charge(1);
  const char* n = name.c_str();
  auto noargs = [&] { Args p(n, a, k, {}); };
  auto other = [&]() { return Args(n, a, k, {"other"}).required(0); };
  if (name == "defined") return noargs(), !v.is_undefined();
  if (name == "undefined") return noargs(), v.is_undefined();
  if (name == "none") return noargs(), v.is_none();
  if (name == "boolean") return noargs(), v.kind == Kind::Bool;
  if (name == "true") return noargs(), v.kind == Kind::Bool && v.b;
  if (name == "false") return noargs(), v.kind == Kind::Bool && !v.b;
  if (name == "integer") return noargs(), v.kind == Kind::Int;
  if (name == "float") return noargs(), v.kind == Kind::Float;
  if (name == "number") return noargs(), v.is_number();
  if (name == "string") return noargs(), v.kind == Kind::String;
  if (name == "mapping") return noargs(), v.kind == Kind::Dict;
  if (name == "iterable")
    return noargs(), v.kind == Kind::String || v.is_sequence() || v.kind == Kind::Dict || v.is_undefined();
  if (name == "sequence")
    return noargs(), v.kind == Kind::String || v.is_sequence() || v.kind == Kind::Dict || v.is_undefined();
  if (name == "callable") return noargs(), v.kind == Kind::Callable;
  if (name == "escaped") return noargs(), false;
  if (name == "lower" || name == "upper") {
    noargs();
    ValueList none;
    KwArgs nokw;
    return truthy(call(method(*this, Value::string(to_str(v)), name == "lower" ? "islower" : "isupper"), none, nokw));
  }
  if (name == "odd" || name == "even") {
    noargs();
    if (v.kind != Kind::Int && v.kind != Kind::Bool)
      throw Error(std::string("unsupported operand type(s) for %: '") + type_name(v) + "' and 'int'");
    Value m = binary_op(*this, "%", v, Value::integer(2));
    return (m.i == 1) == (name == "odd");
  }
  if (name == "divisibleby") {
    Value d = Args(n, a, k, {"num"}).required(0);
    Value m = binary_op(*this, "%", v, d);
    return equal(m, Value::integer(0));
  }
  if (name == "eq" || name == "equalto" || name == "==") return equal(v, other());
  if (name == "ne" || name == "!=") return !equal(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return less(v, other());
  if (name == "gt" || name == "greaterthan" || name == ">") return less(other(), v);
  if (name == "le" || name == "<=") {
    Value o = other();
    return less(v, o) || equal(v, o);
  }
  if (name == "ge" || name == ">=") {
    Value o = other();
    return less(o, v) || equal(v, o);
  }
  if (name == "in") return contains(*this, Args(n, a, k, {"seq"}).required(0), v);
  if (name == "sameas") {
    Value o = other();
    if (v.kind != o.kind) return false;
    switch (v.kind) {
      case Kind::None:
      case Kind::Undefined:
        return true;
      case Kind::Bool:
        return v.b == o.b;
      case Kind::Int:
        return v.i == o.i;
      case Kind::String:
        return v.s == o.s;
      case Kind::List:
      case Kind::Tuple:
        return v.list == o.list;
      case Kind::Dict:
        return v.dict == o.dict;
      case Kind::Namespace:
        return v.ns == o.ns;
      case Kind::Callable:
        return v.fn == o.fn;
      default:
        return false;
    }
  }
  if (name == "filter" || name == "test") {
    noargs();
    static const char* filters[] = {
        "length", "count",  "trim",       "tojson",     "string",     "safe",    "escape", "e",     "forceescape",
        "upper",  "lower",  "capitalize", "title",      "replace",    "default", "d",      "join",  "first",
        "last",   "list",   "items",      "reverse",    "sort",       "unique",  "min",    "max",   "dictsort",
        "map",    "select", "reject",     "selectattr", "rejectattr", "sum",     "abs",    "round", "int",
        "float",  "indent", "center",     "wordcount",  "attr"};
    static const char* tests[] = {
        "defined", "undefined", "none",     "boolean",     "true",     "false",       "integer", "float",
        "number",  "string",    "mapping",  "iterable",    "sequence", "callable",    "escaped", "lower",
        "upper",   "odd",       "even",     "divisibleby", "eq",       "equalto",     "==",      "ne",
        "!=",      "lt",        "lessthan", "<",           "gt",       "greaterthan", ">",       "le",
        "<=",      "ge",        ">=",       "in",          "sameas",   "filter",      "test"};
    if (v.kind != Kind::String) return false;
    if (name == "filter")
      return std::find_if(std::begin(filters), std::end(filters), [&](const char* f) { return v.s == f; }) !=
             std::end(filters);
    return std::find_if(std::begin(tests), std::end(tests), [&](const char* f) { return v.s == f; }) != std::end(tests);
  }
  throw Error("No test named '" + name + "'.");
}

}  // namespace verbatim::jinja

// Values of the Jinja subset interpreter (chat templates). They follow Python's data model as jinja2 sees it:
// None/bool/int/float/str/list/tuple/dict, jinja2's default Undefined (prints "", falsy, iterates as empty), the
// mutable namespace() object and callables (globals, macros, bound methods). Strings are UTF-8; operations that
// Python defines on code points (len, indexing, slicing) decode them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace verbatim::jinja {

class Interpreter;
struct Value;

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Tuple, Dict, Namespace, Callable };

using ValueList = std::vector<Value>;
using KwArgs = std::vector<std::pair<std::string, Value>>;

struct DictItems {
  std::vector<std::pair<Value, Value>> items;  // insertion order, as Python dicts
};

struct NamespaceObj {
  std::vector<std::pair<std::string, Value>> attrs;
};

struct CallableObj {
  std::string name;
  std::function<Value(Interpreter&, ValueList& args, KwArgs& kwargs)> fn;
};

struct Value {
  Kind kind = Kind::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // String: the text; Undefined: a hint for error messages (e.g. "'x' is undefined"); List:
                  // "range(a, b)" for a range() result, "dict_items"/"dict_keys"/"dict_values" for a dict view
                  // (Python prints and serialises those differently), else empty
  std::shared_ptr<const ValueList> list;  // List, Tuple
  std::shared_ptr<const DictItems> dict;  // Dict
  std::shared_ptr<NamespaceObj> ns;       // Namespace (mutable through {% set ns.x = ... %})
  std::shared_ptr<const CallableObj> fn;  // Callable

  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value number(double v);
  static Value string(std::string v);
  static Value make_list(ValueList v);
  static Value make_tuple(ValueList v);
  static Value make_dict(std::vector<std::pair<Value, Value>> items);
  static Value callable(std::string name, std::function<Value(Interpreter&, ValueList&, KwArgs&)> fn);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_sequence() const { return kind == Kind::List || kind == Kind::Tuple; }
  bool is_dict() const { return kind == Kind::Dict; }
  const ValueList& items() const { return *list; }
  // Dict lookup by key (Python equality); nullptr when absent.
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
};

// Python's type name, as in its TypeError messages ("str", "int", "dict", ...).
const char* type_name(const Value& v);
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);  // Python ==
// Python <; throws Error on types that do not order.
bool less(const Value& a, const Value& b);
std::string to_str(const Value& v);   // Python str() (Undefined: "")
std::string repr(const Value& v);     // Python repr()
std::string py_float_repr(double d);  // Python repr(float)

struct JsonOptions {
  bool ensure_ascii = false;
  int indent = -1;  // -1: none (one line)
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
// Python json.dumps; throws Error for values JSON cannot hold (Undefined, callables, namespaces).
std::string to_json(const Value& v, const JsonOptions& opt);

// UTF-8 helpers. Invalid bytes decode to U+DC80+byte (Python's surrogateescape) and encode back to the byte, so
// that every string round-trips.
std::u32string decode_utf8(std::string_view s);
std::string encode_utf8(std::u32string_view s);
void append_utf8(std::string& out, char32_t c);
size_t utf8_length(std::string_view s);
bool is_py_space(char32_t c);  // Python str.isspace()

}  // namespace verbatim::jinja

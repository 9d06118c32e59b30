// Builtins of the Jinja subset: iteration, `in`, slicing, the methods of str/dict/list that Python offers templates
// (in jinja2's immutable sandbox, mutating methods are unsafe), and the globals transformers provides.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/interpreter.h"

namespace verbatim::jinja {

// Python iter(): str gives characters, dict its keys, Undefined nothing; Error for values that do not iterate.
ValueList iterate(Interpreter& in, const Value& v);
bool contains(Interpreter& in, const Value& container, const Value& item);  // `item in container`
Value slice(Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
// The bound method `obj.name`: a Callable; an Undefined with a hint for sandbox-blocked methods; an Undefined with
// an empty hint when `obj` has no such method.
Value method(Interpreter& in, const Value& obj, const std::string& name);
// range, dict, namespace, raise_exception, strftime_now.
std::vector<std::pair<std::string, Value>> default_globals();

// Python string operations on code points.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);

}  // namespace verbatim::jinja

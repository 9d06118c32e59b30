// Binds Python-style call arguments (positional, then keywords) to a builtin's parameter names.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"
#include "util/error.h"

namespace verbatim::jinja {

class Args {
 public:
  Args(const char* fname, const ValueList& a, const KwArgs& k, std::initializer_list<const char*> names)
      : fname_(fname), names_(names), slots_(names.size()) {
    if (a.size() > names_.size())
      throw Error(std::string(fname) + "() takes at most " + std::to_string(names_.size()) + " argument(s) (" +
                  std::to_string(a.size()) + " given)");
    for (size_t i = 0; i < a.size(); ++i) slots_[i] = a[i];
    for (const auto& [key, v] : k) {
      size_t idx = names_.size();
      for (size_t i = 0; i < names_.size(); ++i)
        if (key == names_[i]) idx = i;
      if (idx == names_.size()) throw Error(std::string(fname) + "() got an unexpected keyword argument '" + key + "'");
      if (slots_[idx]) throw Error(std::string(fname) + "() got multiple values for argument '" + key + "'");
      slots_[idx] = v;
    }
  }
  bool has(size_t i) const { return i < slots_.size() && slots_[i].has_value(); }
  Value get(size_t i, Value dflt = Value::none()) const { return has(i) ? *slots_[i] : dflt; }
  Value required(size_t i) const {
    if (!has(i)) throw Error(std::string(fname_) + "() missing required argument '" + names_[i] + "'");
    return *slots_[i];
  }

 private:
  const char* fname_;
  std::vector<const char*> names_;
  std::vector<std::optional<Value>> slots_;
};

}  // namespace verbatim::jinja

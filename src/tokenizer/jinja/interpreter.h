// Interpreter of the Jinja subset: renders a parsed template against a set of variables, with jinja2's semantics
// (scoping of for loops and macros, default Undefined, Python operators) and the environment Hugging Face
// transformers gives chat templates (raise_exception, strftime_now, tojson without HTML escaping, an immutable
// sandbox). Untrusted templates: output size, work and call depth are bounded; every failure is a verbatim::Error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace verbatim::jinja {

struct Limits {
  size_t max_output_bytes = 16u << 20;  // also caps any single string or list built while rendering
  int64_t max_steps = 5'000'000;        // evaluated nodes + 4 per loop iteration + bytes built / 16
  int max_call_depth = 64;              // macro calls
};

struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  Frame* parent = nullptr;
  const Value* lookup(std::string_view name) const;
  void set(const std::string& name, Value v);
};

class Interpreter {
 public:
  Interpreter(const Limits& limits, int64_t now_unix) : limits_(limits), now_unix_(now_unix) {}

  // Renders `body` with `globals` as the root scope.
  std::string render(const std::vector<NodePtr>& body, std::vector<std::pair<std::string, Value>> globals);

  // Used by the builtins.
  Value call(const Value& callee, ValueList& args, KwArgs& kwargs);
  Value apply_filter(const std::string& name, const Value& v, ValueList& args, KwArgs& kwargs);
  bool apply_test(const std::string& name, const Value& v, ValueList& args, KwArgs& kwargs);
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  void charge(int64_t units);
  void check_size(size_t bytes) const;
  int64_t now_unix() const { return now_unix_; }
  const Limits& limits() const { return limits_; }

 private:
  enum class Flow { Normal, Break, Continue };

  Limits limits_;
  int64_t now_unix_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  int loop_depth_ = 0;
  Frame* root_ = nullptr;
  const Node* current_ = nullptr;  // for error positions

  Flow exec_body(const std::vector<NodePtr>& body, Frame& f, std::string& out);
  Flow exec(const Node& n, Frame& f, std::string& out);
  Flow exec_for(const Node& n, Frame& f, std::string& out);
  Value eval(const Node& n, Frame& f);
  Value eval_compare(const Node& n, Frame& f);
  void eval_args(const CallArgsNode& a, Frame& f, ValueList& args, KwArgs& kwargs);
  void assign(const Node& target, const Value& v, Frame& f);
  Value make_macro(const Node& n);
  Value filter_node(const Node& n, Value operand, Frame& f);
  void emit(std::string& out, std::string_view s);
};

// Python binary operators (+ - * / // % **), Error on unsupported operand types.
Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b);

}  // namespace verbatim::jinja

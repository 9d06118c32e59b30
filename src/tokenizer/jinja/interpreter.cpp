#include "tokenizer/jinja/interpreter.h"

#include <cmath>

#include "tokenizer/jinja/builtins.h"
#include "util/error.h"

namespace verbatim::jinja {

const Value* Frame::lookup(std::string_view name) const {
  for (const Frame* f = this; f; f = f->parent)
    for (const auto& [k, v] : f->vars)
      if (k == name) return &v;
  return nullptr;
}

void Frame::set(const std::string& name, Value v) {
  for (auto& [k, old] : vars)
    if (k == name) {
      old = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

namespace {

[[noreturn]] void undefined_error(const Value& v) {
  throw Error(v.s.empty() ? std::string("value is undefined") : v.s);
}

int64_t to_index(const Value& v) {
  return v.kind == Kind::Bool ? (v.b ? 1 : 0) : v.i;
}

bool overflow_mul(int64_t a, int64_t b, int64_t& r) {
  return __builtin_mul_overflow(a, b, &r);
}

double num(const Value& v) {
  return v.kind == Kind::Float ? v.f : v.kind == Kind::Bool ? (v.b ? 1.0 : 0.0) : static_cast<double>(v.i);
}

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  throw Error("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

}  // namespace

void Interpreter::charge(int64_t units) {
  steps_ += units;
  if (steps_ > limits_.max_steps) throw Error("template needs too much work to render (limit reached)");
}

void Interpreter::check_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    throw Error("template builds a value over " + std::to_string(limits_.max_output_bytes) + " bytes");
}

void Interpreter::emit(std::string& out, std::string_view s) {
  charge(static_cast<int64_t>(s.size() / 16));
  if (out.size() + s.size() > limits_.max_output_bytes)
    throw Error("template output exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
  out.append(s);
}

std::string Interpreter::render(const std::vector<NodePtr>& body, std::vector<std::pair<std::string, Value>> globals) {
  Frame root;
  root.vars = std::move(globals);
  root_ = &root;
  std::string out;
  try {
    Flow fl = exec_body(body, root, out);
    if (fl != Flow::Normal) throw Error("'break' or 'continue' outside of a loop");
  } catch (const Error& e) {
    root_ = nullptr;
    if (current_) throw Error("template:" + std::to_string(current_->line) + ": " + e.what());
    throw;
  }
  root_ = nullptr;
  return out;
}

Interpreter::Flow Interpreter::exec_body(const std::vector<NodePtr>& body, Frame& f, std::string& out) {
  for (const auto& n : body) {
    Flow fl = exec(*n, f, out);
    if (fl != Flow::Normal) return fl;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Node& n, Frame& f, std::string& out) {
  charge(1);
  current_ = &n;
  switch (n.kind) {
    case NodeKind::Data:
      emit(out, n.attr);
      return Flow::Normal;
    case NodeKind::Print: {
      Value v = eval(*n.kids[0], f);
      if (v.kind == Kind::String)
        emit(out, v.s);
      else
        emit(out, to_str(v));
      return Flow::Normal;
    }
    case NodeKind::If: {
      for (size_t i = 0; i < n.kids.size(); ++i)
        if (truthy(eval(*n.kids[i], f))) return exec_body(n.bodies[i], f, out);
      return exec_body(n.else_body, f, out);
    }
    case NodeKind::For:
      return exec_for(n, f, out);
    case NodeKind::Set: {
      Value v = eval(*n.kids[1], f);
      assign(*n.kids[0], v, f);
      return Flow::Normal;
    }
    case NodeKind::SetBlock: {
      Frame inner;
      inner.parent = &f;
      std::string s;
      if (exec_body(n.body, inner, s) != Flow::Normal) throw Error("'break' or 'continue' outside of a loop");
      Value v = Value::string(std::move(s));
      if (n.kids[1]) v = filter_node(*n.kids[1], v, f);
      assign(*n.kids[0], v, f);
      return Flow::Normal;
    }
    case NodeKind::Macro:
      f.set(n.name, make_macro(n));
      return Flow::Normal;
    case NodeKind::FilterBlock: {
      Frame inner;
      inner.parent = &f;
      std::string s;
      if (exec_body(n.body, inner, s) != Flow::Normal) throw Error("'break' or 'continue' outside of a loop");
      Value v = filter_node(*n.kids[0], Value::string(std::move(s)), f);
      emit(out, to_str(v));
      return Flow::Normal;
    }
    case NodeKind::With: {
      Frame inner;
      inner.parent = &f;
      for (size_t i = 0; i + 1 < n.kids.size(); i += 2) {
        Value v = eval(*n.kids[i + 1], f);
        assign(*n.kids[i], v, inner);
      }
      return exec_body(n.body, inner, out);
    }
    case NodeKind::Break:
      if (loop_depth_ == 0) throw Error("'break' outside of a loop");
      return Flow::Break;
    case NodeKind::Continue:
      if (loop_depth_ == 0) throw Error("'continue' outside of a loop");
      return Flow::Continue;
    default:
      throw Error("internal: not a statement");
  }
}

Interpreter::Flow Interpreter::exec_for(const Node& n, Frame& f, std::string& out) {
  Value seq = eval(*n.kids[1], f);
  ValueList items = iterate(*this, seq);
  if (n.kids[2]) {  // {% for x in xs if cond %}: filtered before the loop (loop.length counts the kept ones)
    ValueList kept;
    for (auto& it : items) {
      Frame probe;
      probe.parent = &f;
      assign(*n.kids[0], it, probe);
      if (truthy(eval(*n.kids[2], probe))) kept.push_back(std::move(it));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(n.else_body, f, out);
  const int64_t len = static_cast<int64_t>(items.size());
  ++loop_depth_;
  struct Dec {
    int& d;
    ~Dec() { --d; }
  } dec{loop_depth_};
  // The loop object, built only for bodies that name `loop`; `cycle` reads the current index.
  auto index = std::make_shared<int64_t>(0);
  const Value cycle = Value::callable("cycle", [index](Interpreter&, ValueList& args, KwArgs&) {
    if (args.empty()) throw Error("no items for cycling given");
    return args[static_cast<size_t>(*index) % args.size()];
  });
  for (int64_t i = 0; i < len; ++i) {
    charge(4);
    Frame it;
    it.parent = &f;
    if (n.uses_loop) {
      *index = i;
      auto d = std::make_shared<DictItems>();
      d->items.reserve(12);
      auto add = [&](const char* k, Value v) { d->items.emplace_back(Value::string(k), std::move(v)); };
      add("index", Value::integer(i + 1));
      add("index0", Value::integer(i));
      add("revindex", Value::integer(len - i));
      add("revindex0", Value::integer(len - i - 1));
      add("first", Value::boolean(i == 0));
      add("last", Value::boolean(i == len - 1));
      add("length", Value::integer(len));
      add("depth", Value::integer(1));
      add("depth0", Value::integer(0));
      if (i > 0) add("previtem", items[i - 1]);
      if (i + 1 < len) add("nextitem", items[i + 1]);
      add("cycle", cycle);
      Value loop;
      loop.kind = Kind::Dict;
      loop.dict = std::move(d);
      it.set("loop", std::move(loop));
    }
    assign(*n.kids[0], items[i], it);
    Flow fl = exec_body(n.body, it, out);
    if (fl == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::assign(const Node& target, const Value& v, Frame& f) {
  if (target.kind == NodeKind::Name) {
    f.set(target.name, v);
  } else if (target.kind == NodeKind::NSRef) {
    const Value* ns = f.lookup(target.name);
    if (!ns || ns->kind != Kind::Namespace) throw Error("cannot assign attribute on non-namespace object");
    for (auto& [k, old] : ns->ns->attrs)
      if (k == target.attr) {
        old = v;
        return;
      }
    ns->ns->attrs.emplace_back(target.attr, v);
  } else if (target.kind == NodeKind::Tuple) {
    ValueList items = iterate(*this, v);
    if (items.size() != target.kids.size())
      throw Error(items.size() < target.kids.size()
                      ? "not enough values to unpack (expected " + std::to_string(target.kids.size()) + ", got " +
                            std::to_string(items.size()) + ")"
                      : "too many values to unpack (expected " + std::to_string(target.kids.size()) + ")");
    for (size_t i = 0; i < items.size(); ++i) assign(*target.kids[i], items[i], f);
  } else {
    throw Error("can't assign to this target");
  }
}

Value Interpreter::make_macro(const Node& n) {
  const Node* def = &n;
  return Value::callable(n.name, [def](Interpreter& in, ValueList& args, KwArgs& kwargs) -> Value {
    if (in.call_depth_ >= in.limits_.max_call_depth) throw Error("macro calls nested too deeply");
    const size_t np = def->params.size();
    if (args.size() > np)
      throw Error("macro '" + def->name + "' takes not more than " + std::to_string(np) + " argument(s)");
    Frame mf;
    mf.parent = in.root_;
    std::vector<bool> bound(np, false);
    for (size_t i = 0; i < args.size(); ++i) {
      mf.set(def->params[i], args[i]);
      bound[i] = true;
    }
    for (auto& [k, v] : kwargs) {
      size_t idx = np;
      for (size_t i = 0; i < np; ++i)
        if (def->params[i] == k) idx = i;
      if (idx == np) throw Error("macro '" + def->name + "' takes no keyword argument '" + k + "'");
      if (bound[idx]) throw Error("macro '" + def->name + "' got multiple values for argument '" + k + "'");
      mf.set(k, v);
      bound[idx] = true;
    }
    const size_t first_default = np - def->kids.size();
    for (size_t i = 0; i < np; ++i) {
      if (bound[i]) continue;
      if (i >= first_default)
        mf.set(def->params[i], in.eval(*def->kids[i - first_default], mf));
      else
        mf.set(def->params[i], Value::undefined("parameter '" + def->params[i] + "' was not provided"));
    }
    std::string out;
    ++in.call_depth_;
    int saved_loop = in.loop_depth_;
    in.loop_depth_ = 0;
    struct Restore {
      Interpreter& in;
      int loop;
      ~Restore() {
        --in.call_depth_;
        in.loop_depth_ = loop;
      }
    } restore{in, saved_loop};
    if (in.exec_body(def->body, mf, out) != Flow::Normal) throw Error("'break' or 'continue' outside of a loop");
    return Value::string(std::move(out));
  });
}

Value Interpreter::call(const Value& callee, ValueList& args, KwArgs& kwargs) {
  if (callee.kind == Kind::Undefined) undefined_error(callee);
  if (callee.kind != Kind::Callable) throw Error(std::string("'") + type_name(callee) + "' object is not callable");
  charge(1);
  return callee.fn->fn(*this, args, kwargs);
}

void Interpreter::eval_args(const CallArgsNode& a, Frame& f, ValueList& args, KwArgs& kwargs) {
  for (const auto& p : a.pos) args.push_back(eval(*p, f));
  for (const auto& [k, p] : a.kw) kwargs.emplace_back(k, eval(*p, f));
  if (a.dyn_args) {
    for (auto& v : iterate(*this, eval(*a.dyn_args, f))) args.push_back(std::move(v));
  }
  if (a.dyn_kwargs) {
    Value d = eval(*a.dyn_kwargs, f);
    if (d.kind != Kind::Dict) throw Error("argument after ** must be a mapping");
    for (const auto& [k, v] : d.dict->items) {
      if (k.kind != Kind::String) throw Error("keywords must be strings");
      kwargs.emplace_back(k.s, v);
    }
  }
}

Value Interpreter::filter_node(const Node& n, Value operand, Frame& f) {
  // A chain f1 | f2 | ... whose innermost operand is null: apply from the inside out.
  if (n.kids[0]) operand = filter_node(*n.kids[0], std::move(operand), f);
  ValueList args;
  KwArgs kwargs;
  eval_args(n.args, f, args, kwargs);
  return apply_filter(n.name, operand, args, kwargs);
}

Value Interpreter::getattr(const Value& obj, const std::string& name) {
  if (obj.kind == Kind::Undefined) undefined_error(obj);
  Value m = method(*this, obj, name);
  if (m.kind != Kind::Undefined || !m.s.empty()) return m;
  if (obj.kind == Kind::Dict) {
    if (const Value* v = obj.find(name)) return *v;
  } else if (obj.kind == Kind::Namespace) {
    for (const auto& [k, v] : obj.ns->attrs)
      if (k == name) return v;
  }
  return Value::undefined("'" + std::string(obj.kind == Kind::None ? "None" : type_name(obj)) +
                          " object' has no attribute '" + name + "'");
}

Value Interpreter::getitem(const Value& obj, const Value& key) {
  if (obj.kind == Kind::Undefined) undefined_error(obj);
  switch (obj.kind) {
    case Kind::Dict:
      if (const Value* v = obj.find(key)) return *v;
      break;
    case Kind::List:
    case Kind::Tuple:
    case Kind::String:
      if (key.kind == Kind::Int || key.kind == Kind::Bool) {
        int64_t i = to_index(key);
        if (obj.kind == Kind::String) {
          std::u32string cps = decode_utf8(obj.s);
          int64_t n = static_cast<int64_t>(cps.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return Value::string(encode_utf8(std::u32string_view(cps).substr(i, 1)));
        } else {
          int64_t n = static_cast<int64_t>(obj.list->size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return (*obj.list)[static_cast<size_t>(i)];
        }
        return Value::undefined("'" + std::string(type_name(obj)) + " object' has no element " + to_str(key));
      }
      break;
    default:
      break;
  }
  if (key.kind == Kind::String) {
    Value m = method(*this, obj, key.s);
    if (m.kind != Kind::Undefined || !m.s.empty()) return m;
    if (obj.kind == Kind::Namespace)
      for (const auto& [k, v] : obj.ns->attrs)
        if (k == key.s) return v;
    return Value::undefined("'" + std::string(obj.kind == Kind::None ? "None" : type_name(obj)) +
                            " object' has no attribute '" + key.s + "'");
  }
  return Value::undefined("'" + std::string(type_name(obj)) + " object' has no element " + repr(key));
}

Value Interpreter::eval(const Node& n, Frame& f) {
  charge(1);
  switch (n.kind) {
    case NodeKind::Const:
      return n.value;
    case NodeKind::Name: {
      if (const Value* v = f.lookup(n.name)) return *v;
      return Value::undefined("'" + n.name + "' is undefined");
    }
    case NodeKind::Getattr: {
      current_ = &n;
      return getattr(eval(*n.kids[0], f), n.name);
    }
    case NodeKind::Getitem: {
      Value obj = eval(*n.kids[0], f);
      current_ = &n;
      const Node& k = *n.kids[1];
      if (k.kind == NodeKind::Slice) {
        if (obj.kind == Kind::Undefined) undefined_error(obj);
        Value parts[3];
        for (int i = 0; i < 3; ++i) parts[i] = k.kids[i] ? eval(*k.kids[i], f) : Value::none();
        return slice(*this, obj, parts[0], parts[1], parts[2]);
      }
      return getitem(obj, eval(k, f));
    }
    case NodeKind::List:
    case NodeKind::Tuple: {
      ValueList items;
      for (const auto& k : n.kids) items.push_back(eval(*k, f));
      return n.kind == NodeKind::List ? Value::make_list(std::move(items)) : Value::make_tuple(std::move(items));
    }
    case NodeKind::Dict: {
      std::vector<std::pair<Value, Value>> items;
      for (size_t i = 0; i + 1 < n.kids.size(); i += 2) {
        Value k = eval(*n.kids[i], f);
        if (k.kind == Kind::List || k.kind == Kind::Dict || k.kind == Kind::Undefined || k.kind == Kind::Namespace)
          throw Error(std::string("unhashable type: '") + type_name(k) + "'");
        items.emplace_back(std::move(k), eval(*n.kids[i + 1], f));
      }
      return Value::make_dict(std::move(items));
    }
    case NodeKind::Neg:
    case NodeKind::Pos: {
      Value v = eval(*n.kids[0], f);
      current_ = &n;
      if (v.kind == Kind::Undefined) undefined_error(v);
      bool neg = n.kind == NodeKind::Neg;
      if (v.kind == Kind::Int || v.kind == Kind::Bool) {
        int64_t i = to_index(v);
        if (neg && i == INT64_MIN) throw Error("integer overflow");
        return Value::integer(neg ? -i : i);
      }
      if (v.kind == Kind::Float) return Value::number(neg ? -v.f : v.f);
      throw Error(std::string("bad operand type for unary ") + (neg ? "-" : "+") + ": '" + type_name(v) + "'");
    }
    case NodeKind::Not:
      return Value::boolean(!truthy(eval(*n.kids[0], f)));
    case NodeKind::And: {
      Value l = eval(*n.kids[0], f);
      return truthy(l) ? eval(*n.kids[1], f) : l;
    }
    case NodeKind::Or: {
      Value l = eval(*n.kids[0], f);
      return truthy(l) ? l : eval(*n.kids[1], f);
    }
    case NodeKind::BinOp: {
      Value l = eval(*n.kids[0], f);
      Value r = eval(*n.kids[1], f);
      current_ = &n;
      return binary_op(*this, n.name, l, r);
    }
    case NodeKind::Concat: {
      std::string s;
      for (const auto& k : n.kids) {
        Value v = eval(*k, f);
        s += v.kind == Kind::String ? v.s : to_str(v);
        check_size(s.size());
      }
      charge(static_cast<int64_t>(s.size() / 16));
      return Value::string(std::move(s));
    }
    case NodeKind::Compare:
      return eval_compare(n, f);
    case NodeKind::CondExpr: {
      if (truthy(eval(*n.kids[1], f))) return eval(*n.kids[0], f);
      if (n.kids[2]) return eval(*n.kids[2], f);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    case NodeKind::Call: {
      Value callee = eval(*n.kids[0], f);
      ValueList args;
      KwArgs kwargs;
      eval_args(n.args, f, args, kwargs);
      current_ = &n;
      return call(callee, args, kwargs);
    }
    case NodeKind::Filter: {
      Value operand = n.kids[0] ? eval(*n.kids[0], f) : Value::undefined();
      ValueList args;
      KwArgs kwargs;
      eval_args(n.args, f, args, kwargs);
      current_ = &n;
      return apply_filter(n.name, operand, args, kwargs);
    }
    case NodeKind::Test: {
      Value operand = eval(*n.kids[0], f);
      ValueList args;
      KwArgs kwargs;
      eval_args(n.args, f, args, kwargs);
      current_ = &n;
      return Value::boolean(apply_test(n.name, operand, args, kwargs));
    }
    default:
      throw Error("internal: not an expression");
  }
}

Value Interpreter::eval_compare(const Node& n, Frame& f) {
  Value left = eval(*n.kids[0], f);
  for (size_t i = 0; i < n.ops.size(); ++i) {
    Value right = eval(*n.kids[i + 1], f);
    current_ = &n;
    const std::string& op = n.ops[i];
    bool r;
    if (op == "==")
      r = equal(left, right);
    else if (op == "!=")
      r = !equal(left, right);
    else if (op == "in" || op == "notin")
      r = contains(*this, right, left) == (op == "in");
    else {
      if (left.kind == Kind::Undefined) undefined_error(left);
      if (right.kind == Kind::Undefined) undefined_error(right);
      if (op == "<")
        r = less(left, right);
      else if (op == ">")
        r = less(right, left);
      else if (op == "<=")
        r = less(left, right) || equal(left, right);
      else
        r = less(right, left) || equal(left, right);
    }
    if (!r) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
  if (a.kind == Kind::Undefined) undefined_error(a);
  if (b.kind == Kind::Undefined) undefined_error(b);
  const bool ints = (a.kind == Kind::Int || a.kind == Kind::Bool) && (b.kind == Kind::Int || b.kind == Kind::Bool);
  const bool nums = a.is_number() && b.is_number();
  int64_t x = to_index(a), y = to_index(b), r;
  if (op == "+") {
    if (ints) {
      if (__builtin_add_overflow(x, y, &r)) throw Error("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::number(num(a) + num(b));
    if (a.kind == Kind::String && b.kind == Kind::String) {
      in.check_size(a.s.size() + b.s.size());
      in.charge(static_cast<int64_t>((a.s.size() + b.s.size()) / 16));
      return Value::string(a.s + b.s);
    }
    if (a.is_sequence() && a.kind == b.kind) {
      in.check_size((a.list->size() + b.list->size()) * 16);
      ValueList l = *a.list;
      l.insert(l.end(), b.list->begin(), b.list->end());
      in.charge(static_cast<int64_t>(l.size()));
      return a.kind == Kind::List ? Value::make_list(std::move(l)) : Value::make_tuple(std::move(l));
    }
    if (a.kind == Kind::String)
      throw Error(std::string("can only concatenate str (not \"") + type_name(b) + "\") to str");
    unsupported("+", a, b);
  }
  if (op == "-") {
    if (ints) {
      if (__builtin_sub_overflow(x, y, &r)) throw Error("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::number(num(a) - num(b));
    unsupported("-", a, b);
  }
  if (op == "*") {
    if (ints) {
      if (overflow_mul(x, y, r)) throw Error("integer overflow");
      return Value::integer(r);
    }
    if (nums) return Value::number(num(a) * num(b));
    const Value* seq = nullptr;
    int64_t times = 0;
    if ((a.kind == Kind::String || a.is_sequence()) && (b.kind == Kind::Int || b.kind == Kind::Bool)) {
      seq = &a;
      times = y;
    } else if ((b.kind == Kind::String || b.is_sequence()) && (a.kind == Kind::Int || a.kind == Kind::Bool)) {
      seq = &b;
      times = x;
    }
    if (!seq) unsupported("*", a, b);
    if (times < 0) times = 0;
    const size_t unit = seq->kind == Kind::String ? seq->s.size() : seq->list->size() * 16;
    if (unit && static_cast<uint64_t>(times) > in.limits().max_output_bytes / unit + 1)
      throw Error("template builds a value over " + std::to_string(in.limits().max_output_bytes) + " bytes");
    in.check_size(unit * static_cast<size_t>(times));
    in.charge(static_cast<int64_t>(unit * static_cast<size_t>(times) / 16) + times / 64);
    if (seq->kind == Kind::String) {
      std::string s;
      s.reserve(seq->s.size() * static_cast<size_t>(times));
      for (int64_t k = 0; k < times; ++k) s += seq->s;
      return Value::string(std::move(s));
    }
    ValueList l;
    for (int64_t k = 0; k < times; ++k) l.insert(l.end(), seq->list->begin(), seq->list->end());
    return seq->kind == Kind::List ? Value::make_list(std::move(l)) : Value::make_tuple(std::move(l));
  }
  if (op == "/") {
    if (!nums) unsupported("/", a, b);
    if (num(b) == 0) throw Error("division by zero");
    return Value::number(num(a) / num(b));
  }
  if (op == "//" || op == "%") {
    if (!nums) {
      if (a.kind == Kind::String && op == "%") throw Error("printf-style string formatting (%) is not supported");
      unsupported(op, a, b);
    }
    if (ints) {
      if (y == 0) throw Error(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
      if (x == INT64_MIN && y == -1) {
        if (op == "%") return Value::integer(0);
        throw Error("integer overflow");
      }
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        q -= 1;
        m += y;
      }
      return Value::integer(op == "//" ? q : m);
    }
    double p = num(a), q = num(b);
    if (q == 0) throw Error(op == "//" ? "float floor division by zero" : "float modulo");
    // CPython's float_divmod.
    double m = std::fmod(p, q);
    double div = (p - m) / q;
    if (m != 0) {
      if ((q < 0) != (m < 0)) {
        m += q;
        div -= 1.0;
      }
    } else {
      m = std::copysign(0.0, q);
    }
    if (op == "%") return Value::number(m);
    double fl;
    if (div != 0) {
      fl = std::floor(div);
      if (div - fl > 0.5) fl += 1.0;
    } else {
      fl = std::copysign(0.0, p / q);
    }
    return Value::number(fl);
  }
  if (op == "**") {
    if (ints && y >= 0) {
      int64_t result = 1, base = x, e = y;
      while (e > 0) {
        if (e & 1)
          if (overflow_mul(result, base, result)) throw Error("integer overflow");
        e >>= 1;
        if (e > 0 && overflow_mul(base, base, base)) throw Error("integer overflow");
      }
      return Value::integer(result);
    }
    if (nums) {
      if (num(a) == 0 && num(b) < 0) throw Error("0.0 cannot be raised to a negative power");
      return Value::number(std::pow(num(a), num(b)));
    }
    unsupported("** or pow()", a, b);
  }
  throw Error("unknown operator " + op);
}

}  // namespace verbatim::jinja

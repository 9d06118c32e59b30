#include "tokenizer/jinja/parser.h"

#include <initializer_list>

#include "tokenizer/jinja/lexer.h"
#include "util/error.h"

namespace verbatim::jinja {
namespace {

constexpr int kMaxDepth = 200;  // nesting of expressions and blocks (templates are untrusted)

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  std::vector<NodePtr> parse() {
    auto body = subparse({});
    if (cur().type != Tok::Eof) fail("unexpected tag");
    return body;
  }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;

  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxDepth) p.fail("template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };

  const Token& cur() const { return t_[i_]; }
  const Token& look() const { return t_[i_ + 1 < t_.size() ? i_ + 1 : i_]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(cur(), what); }
  [[noreturn]] static void fail_at(const Token& t, const std::string& what) {
    throw Error("template:" + std::to_string(t.line) + ":" + std::to_string(t.column) + ": " + what);
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::Data:
        return "template data";
      case Tok::BlockBegin:
        return "begin of statement block";
      case Tok::BlockEnd:
        return "end of statement block";
      case Tok::VarBegin:
        return "begin of print statement";
      case Tok::VarEnd:
        return "end of print statement";
      case Tok::Name:
        return t.text;
      case Tok::String:
        return "string";
      case Tok::Integer:
        return "integer";
      case Tok::Float:
        return "float";
      case Tok::Op:
        return t.text;
      case Tok::Eof:
        return "end of template";
    }
    return "token";
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) fail(std::string("expected token '") + op + "', got '" + describe(cur()) + "'");
  }
  void expect_type(Tok type, const char* what) {
    if (cur().type != type) fail(std::string("expected ") + what + ", got '" + describe(cur()) + "'");
    next();
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail("expected name, got '" + describe(cur()) + "'");
    std::string n = cur().text;
    next();
    return n;
  }
  void expect_name(const char* n) {
    if (!skip_name(n)) fail(std::string("expected '") + n + "', got '" + describe(cur()) + "'");
  }

  NodePtr node(NodeKind k, const Token& at) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->line = at.line;
    n->column = at.column;
    return n;
  }

  // ---- template structure ----

  std::vector<NodePtr> subparse(std::initializer_list<const char*> end_tokens) {
    DepthGuard g(*this);
    std::vector<NodePtr> body;
    while (cur().type != Tok::Eof) {
      const Token& tok = cur();
      if (tok.type == Tok::Data) {
        auto n = node(NodeKind::Data, tok);
        n->attr = tok.text;
        body.push_back(std::move(n));
        next();
      } else if (tok.type == Tok::VarBegin) {
        next();
        auto n = node(NodeKind::Print, tok);
        n->kids.push_back(parse_tuple(false, true, {}, false));
        expect_type(Tok::VarEnd, "end of print statement");
        body.push_back(std::move(n));
      } else if (tok.type == Tok::BlockBegin) {
        next();
        for (const char* e : end_tokens)
          if (is_name(e)) return body;
        body.push_back(parse_statement());
        expect_type(Tok::BlockEnd, "end of statement block");
      } else {
        fail("unexpected '" + describe(tok) + "'");
      }
    }
    if (end_tokens.size()) {
      std::string names;
      for (const char* e : end_tokens) names += std::string(names.empty() ? "" : " or ") + "'" + e + "'";
      fail("unexpected end of template: expected " + names);
    }
    return body;
  }

  // parse_statements: the block end, then the body up to one of the end tags (left current unless drop_needle).
  std::vector<NodePtr> statements(std::initializer_list<const char*> end_tokens, bool drop_needle) {
    skip_op(":");
    expect_type(Tok::BlockEnd, "end of statement block");
    auto body = subparse(end_tokens);
    if (cur().type == Tok::Eof) fail("unexpected end of template");
    if (drop_needle) next();
    return body;
  }

  NodePtr parse_statement() {
    const Token& tok = cur();
    if (tok.type != Tok::Name) fail("tag name expected");
    const std::string& n = tok.text;
    if (n == "if") return parse_if();
    if (n == "for") return parse_for();
    if (n == "set") return parse_set();
    if (n == "macro") return parse_macro();
    if (n == "filter") return parse_filter_block();
    if (n == "with") return parse_with();
    if (n == "break" || n == "continue") {
      auto s = node(n == "break" ? NodeKind::Break : NodeKind::Continue, tok);
      next();
      return s;
    }
    if (n == "generation") {  // transformers' AssistantTracker tag: a call block, its body rendered in a new scope
      auto s = node(NodeKind::With, tok);
      next();
      s->body = statements({"endgeneration"}, true);
      return s;
    }
    if (n == "raw") fail("raw block syntax error");
    if (n == "block" || n == "extends" || n == "include" || n == "import" || n == "from" || n == "call" ||
        n == "print" || n == "autoescape")
      fail("tag '" + n + "' is not supported in chat templates");
    fail("Encountered unknown tag '" + n + "'.");
  }

  // Whether a subtree mentions the variable `name` (conservative: any Name node).
  static bool names(const Node& n, const char* name) {
    if (n.kind == NodeKind::Name && n.name == name) return true;
    for (const auto& k : n.kids)
      if (k && names(*k, name)) return true;
    for (const auto& b : n.bodies)
      if (names(b, name)) return true;
    if (names(n.body, name) || names(n.else_body, name)) return true;
    for (const auto& p : n.args.pos)
      if (names(*p, name)) return true;
    for (const auto& [k, p] : n.args.kw)
      if (names(*p, name)) return true;
    return (n.args.dyn_args && names(*n.args.dyn_args, name)) || (n.args.dyn_kwargs && names(*n.args.dyn_kwargs, name));
  }
  static bool names(const std::vector<NodePtr>& body, const char* name) {
    for (const auto& n : body)
      if (n && names(*n, name)) return true;
    return false;
  }

  NodePtr parse_if() {
    auto s = node(NodeKind::If, cur());
    next();
    while (true) {
      s->kids.push_back(parse_tuple(false, false, {}, false));
      s->bodies.push_back(statements({"elif", "else", "endif"}, false));
      std::string which = cur().text;
      next();
      if (which == "elif") continue;
      if (which == "else") s->else_body = statements({"endif"}, true);
      break;
    }
    return s;
  }

  NodePtr parse_for() {
    auto s = node(NodeKind::For, cur());
    next();
    s->kids.push_back(parse_assign_target(false, {"in"}));
    expect_name("in");
    s->kids.push_back(parse_tuple(false, false, {"recursive"}, false));
    if (skip_name("if"))
      s->kids.push_back(parse_expression(true));
    else
      s->kids.push_back(nullptr);
    if (is_name("recursive")) fail("recursive loops are not supported");
    s->body = statements({"endfor", "else"}, false);
    s->uses_loop = names(s->body, "loop") || (s->kids[2] && names(*s->kids[2], "loop"));
    std::string which = cur().text;
    next();
    if (which == "else") s->else_body = statements({"endfor"}, true);
    return s;
  }

  NodePtr parse_set() {
    const Token& at = cur();
    next();
    NodePtr target = parse_assign_target(true, {});
    if (skip_op("=")) {
      auto s = node(NodeKind::Set, at);
      s->kids.push_back(std::move(target));
      s->kids.push_back(parse_tuple(false, true, {}, false));
      return s;
    }
    auto s = node(NodeKind::SetBlock, at);
    s->kids.push_back(std::move(target));
    s->kids.push_back(is_op("|") ? parse_filter(nullptr, false) : nullptr);
    s->body = statements({"endset"}, true);
    return s;
  }

  NodePtr parse_macro() {
    auto s = node(NodeKind::Macro, cur());
    next();
    s->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      s->params.push_back(expect_name());
      if (skip_op("="))
        s->kids.push_back(parse_expression(true));
      else if (!s->kids.empty())
        fail("non-default argument follows default argument");
    }
    expect_op(")");
    s->body = statements({"endmacro"}, true);
    return s;
  }

  NodePtr parse_filter_block() {
    auto s = node(NodeKind::FilterBlock, cur());
    next();
    s->kids.push_back(parse_filter(nullptr, true));
    s->body = statements({"endfilter"}, true);
    return s;
  }

  NodePtr parse_with() {
    auto s = node(NodeKind::With, cur());
    next();
    while (cur().type != Tok::BlockEnd) {
      if (!s->kids.empty()) expect_op(",");
      s->kids.push_back(parse_assign_target(false, {}));
      expect_op("=");
      s->kids.push_back(parse_expression(true));
    }
    s->body = statements({"endwith"}, true);
    return s;
  }

  NodePtr parse_assign_target(bool with_namespace, std::initializer_list<const char*> extra_end) {
    NodePtr t = parse_tuple(true, true, extra_end, false, with_namespace);
    auto assignable = [](const Node& n) { return n.kind == NodeKind::Name || n.kind == NodeKind::NSRef; };
    bool ok = assignable(*t);
    if (t->kind == NodeKind::Tuple) {
      ok = true;
      for (const auto& k : t->kids)
        if (k->kind != NodeKind::Name) ok = false;
    }
    if (!ok) fail_at(cur(), "can't assign to this expression");
    return t;
  }

  // ---- expressions ----

  bool is_tuple_end(std::initializer_list<const char*> extra_end) const {
    const Token& c = cur();
    if (c.type == Tok::VarEnd || c.type == Tok::BlockEnd || c.type == Tok::Eof) return true;
    if (c.type == Tok::Op && c.text == ")") return true;
    for (const char* e : extra_end)
      if (c.type == Tok::Name && c.text == e) return true;
    return false;
  }

  NodePtr parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<const char*> extra_end,
                      bool explicit_parens, bool with_namespace = false) {
    const Token& at = cur();
    std::vector<NodePtr> args;
    bool is_tuple = false;
    while (true) {
      if (!args.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      args.push_back(simplified ? parse_primary(with_namespace) : parse_expression(with_condexpr));
      if (is_op(","))
        is_tuple = true;
      else
        break;
    }
    if (!is_tuple) {
      if (!args.empty()) return std::move(args[0]);
      if (!explicit_parens) fail("Expected an expression, got '" + describe(cur()) + "'");
    }
    auto n = node(NodeKind::Tuple, at);
    n->kids = std::move(args);
    return n;
  }

  NodePtr parse_expression(bool with_condexpr) {
    DepthGuard g(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  NodePtr parse_condexpr() {
    NodePtr e1 = parse_or();
    while (is_name("if")) {
      const Token& at = cur();
      next();
      NodePtr e2 = parse_or();
      NodePtr e3 = skip_name("else") ? parse_condexpr() : nullptr;
      auto n = node(NodeKind::CondExpr, at);
      n->kids.push_back(std::move(e1));
      n->kids.push_back(std::move(e2));
      n->kids.push_back(std::move(e3));
      e1 = std::move(n);
    }
    return e1;
  }

  NodePtr binary(NodeKind k, const Token& at, NodePtr l, NodePtr r, std::string op = {}) {
    auto n = node(k, at);
    n->name = std::move(op);
    n->kids.push_back(std::move(l));
    n->kids.push_back(std::move(r));
    return n;
  }

  NodePtr parse_or() {
    NodePtr l = parse_and();
    while (is_name("or")) {
      const Token& at = cur();
      next();
      l = binary(NodeKind::Or, at, std::move(l), parse_and());
    }
    return l;
  }
  NodePtr parse_and() {
    NodePtr l = parse_not();
    while (is_name("and")) {
      const Token& at = cur();
      next();
      l = binary(NodeKind::And, at, std::move(l), parse_not());
    }
    return l;
  }
  NodePtr parse_not() {
    if (is_name("not")) {
      DepthGuard g(*this);
      auto n = node(NodeKind::Not, cur());
      next();
      n->kids.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }
  NodePtr parse_compare() {
    const Token& at = cur();
    NodePtr e = parse_math1();
    NodePtr cmp;
    while (true) {
      std::string op;
      if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                    cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && look().type == Tok::Name && look().text == "in") {
        op = "notin";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(NodeKind::Compare, at);
        cmp->kids.push_back(std::move(e));
      }
      cmp->ops.push_back(op);
      cmp->kids.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(e);
  }
  NodePtr parse_math1() {
    NodePtr l = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = cur();
      std::string op = at.text;
      next();
      l = binary(NodeKind::BinOp, at, std::move(l), parse_concat(), op);
    }
    return l;
  }
  NodePtr parse_concat() {
    const Token& at = cur();
    NodePtr first = parse_math2();
    if (!is_op("~")) return first;
    auto n = node(NodeKind::Concat, at);
    n->kids.push_back(std::move(first));
    while (skip_op("~")) n->kids.push_back(parse_math2());
    return n;
  }
  NodePtr parse_math2() {
    NodePtr l = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = cur();
      std::string op = at.text;
      next();
      l = binary(NodeKind::BinOp, at, std::move(l), parse_pow(), op);
    }
    return l;
  }
  NodePtr parse_pow() {
    NodePtr l = parse_unary(true);
    while (is_op("**")) {
      const Token& at = cur();
      next();
      l = binary(NodeKind::BinOp, at, std::move(l), parse_unary(true), "**");
    }
    return l;
  }
  NodePtr parse_unary(bool with_filter) {
    DepthGuard g(*this);
    NodePtr n;
    if (is_op("-") || is_op("+")) {
      n = node(is_op("-") ? NodeKind::Neg : NodeKind::Pos, cur());
      next();
      n->kids.push_back(parse_unary(false));
    } else {
      n = parse_primary(false);
    }
    n = parse_postfix(std::move(n));
    if (with_filter) n = parse_filter_expr(std::move(n));
    return n;
  }

  NodePtr parse_primary(bool with_namespace) {
    DepthGuard g(*this);
    const Token& tok = cur();
    if (tok.type == Tok::Name) {
      next();
      auto n = node(NodeKind::Const, tok);
      if (tok.text == "true" || tok.text == "True" || tok.text == "false" || tok.text == "False") {
        n->value = Value::boolean(tok.text == "true" || tok.text == "True");
      } else if (tok.text == "none" || tok.text == "None") {
        n->value = Value::none();
      } else if (with_namespace && is_op(".")) {
        next();
        n->kind = NodeKind::NSRef;
        n->name = tok.text;
        n->attr = expect_name();
      } else {
        n->kind = NodeKind::Name;
        n->name = tok.text;
      }
      return n;
    }
    if (tok.type == Tok::String) {
      auto n = node(NodeKind::Const, tok);
      std::string s;
      while (cur().type == Tok::String) {
        s += cur().text;
        next();
      }
      n->value = Value::string(std::move(s));
      return n;
    }
    if (tok.type == Tok::Integer || tok.type == Tok::Float) {
      auto n = node(NodeKind::Const, tok);
      n->value = tok.type == Tok::Integer ? Value::integer(tok.ival) : Value::number(tok.fval);
      next();
      return n;
    }
    if (is_op("(")) {
      next();
      NodePtr n = parse_tuple(false, true, {}, true);
      expect_op(")");
      return n;
    }
    if (is_op("[")) {
      auto n = node(NodeKind::List, tok);
      next();
      while (!is_op("]")) {
        if (!n->kids.empty()) expect_op(",");
        if (is_op("]")) break;
        n->kids.push_back(parse_expression(true));
      }
      expect_op("]");
      return n;
    }
    if (is_op("{")) {
      auto n = node(NodeKind::Dict, tok);
      next();
      while (!is_op("}")) {
        if (!n->kids.empty()) expect_op(",");
        if (is_op("}")) break;
        n->kids.push_back(parse_expression(true));
        expect_op(":");
        n->kids.push_back(parse_expression(true));
      }
      expect_op("}");
      return n;
    }
    fail("unexpected '" + describe(tok) + "'");
  }

  NodePtr parse_postfix(NodePtr n) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        n = parse_subscript(std::move(n));
      } else if (is_op("(")) {
        n = parse_call(std::move(n));
      } else {
        break;
      }
    }
    return n;
  }

  NodePtr parse_filter_expr(NodePtr n) {
    while (true) {
      if (is_op("|")) {
        n = parse_filter(std::move(n), false);
      } else if (is_name("is")) {
        n = parse_test(std::move(n));
      } else if (is_op("(")) {
        n = parse_call(std::move(n));
      } else {
        break;
      }
    }
    return n;
  }

  NodePtr parse_subscript(NodePtr obj) {
    DepthGuard g(*this);
    const Token& at = cur();
    if (skip_op(".")) {
      const Token& a = cur();
      if (a.type == Tok::Name) {
        auto n = node(NodeKind::Getattr, at);
        n->name = a.text;
        n->kids.push_back(std::move(obj));
        next();
        return n;
      }
      if (a.type != Tok::Integer) fail("expected name or number");
      auto n = node(NodeKind::Getitem, at);
      auto c = node(NodeKind::Const, a);
      c->value = Value::integer(a.ival);
      n->kids.push_back(std::move(obj));
      n->kids.push_back(std::move(c));
      next();
      return n;
    }
    expect_op("[");
    std::vector<NodePtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    auto n = node(NodeKind::Getitem, at);
    n->kids.push_back(std::move(obj));
    if (args.size() == 1) {
      n->kids.push_back(std::move(args[0]));
    } else {
      auto t = node(NodeKind::Tuple, at);
      t->kids = std::move(args);
      n->kids.push_back(std::move(t));
    }
    return n;
  }

  NodePtr parse_subscribed() {
    const Token& at = cur();
    std::vector<NodePtr> parts;
    if (is_op(":")) {
      next();
      parts.push_back(nullptr);
    } else {
      NodePtr e = parse_expression(true);
      if (!is_op(":")) return e;
      next();
      parts.push_back(std::move(e));
    }
    if (is_op(":"))
      parts.push_back(nullptr);
    else if (!is_op("]") && !is_op(","))
      parts.push_back(parse_expression(true));
    else
      parts.push_back(nullptr);
    if (skip_op(":")) {
      if (!is_op("]") && !is_op(","))
        parts.push_back(parse_expression(true));
      else
        parts.push_back(nullptr);
    } else {
      parts.push_back(nullptr);
    }
    auto n = node(NodeKind::Slice, at);
    n->kids = std::move(parts);
    return n;
  }

  CallArgsNode parse_call_args() {
    const Token& at = cur();
    expect_op("(");
    CallArgsNode a;
    bool require_comma = false;
    auto ensure = [&](bool ok) {
      if (!ok) fail_at(at, "invalid syntax for function call expression");
    };
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*")) {
        ensure(!a.dyn_args && !a.dyn_kwargs);
        next();
        a.dyn_args = parse_expression(true);
      } else if (is_op("**")) {
        ensure(!a.dyn_kwargs);
        next();
        a.dyn_kwargs = parse_expression(true);
      } else if (cur().type == Tok::Name && look().type == Tok::Op && look().text == "=") {
        ensure(!a.dyn_kwargs);
        std::string key = cur().text;
        next();
        next();
        a.kw.emplace_back(key, parse_expression(true));
      } else {
        ensure(!a.dyn_args && !a.dyn_kwargs && a.kw.empty());
        a.pos.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
    return a;
  }

  NodePtr parse_call(NodePtr callee) {
    DepthGuard g(*this);
    auto n = node(NodeKind::Call, cur());
    n->args = parse_call_args();
    n->kids.push_back(std::move(callee));
    return n;
  }

  NodePtr parse_filter(NodePtr operand, bool start_inline) {
    DepthGuard g(*this);
    while (is_op("|") || start_inline) {
      if (!start_inline) next();
      const Token& at = cur();
      std::string name = expect_name();
      while (skip_op(".")) name += "." + expect_name();
      auto n = node(NodeKind::Filter, at);
      n->name = name;
      if (is_op("(")) n->args = parse_call_args();
      n->kids.push_back(std::move(operand));
      operand = std::move(n);
      start_inline = false;
    }
    return operand;
  }

  NodePtr parse_test(NodePtr operand) {
    DepthGuard g(*this);
    const Token& at = cur();
    next();  // "is"
    bool negated = skip_name("not");
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    auto n = node(NodeKind::Test, at);
    n->name = name;
    const Token& c = cur();
    if (is_op("(")) {
      n->args = parse_call_args();
    } else if ((c.type == Tok::Name || c.type == Tok::String || c.type == Tok::Integer || c.type == Tok::Float ||
                (c.type == Tok::Op && (c.text == "(" || c.text == "[" || c.text == "{"))) &&
               !(c.type == Tok::Name && (c.text == "else" || c.text == "or" || c.text == "and"))) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      n->args.pos.push_back(parse_postfix(parse_primary(false)));
    }
    n->kids.push_back(std::move(operand));
    if (!negated) return n;
    auto neg = node(NodeKind::Not, at);
    neg->kids.push_back(std::move(n));
    return neg;
  }
};

}  // namespace

std::vector<NodePtr> parse_template(std::string_view source) {
  return Parser(tokenize(source)).parse();
}

}  // namespace verbatim::jinja

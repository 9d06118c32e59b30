// Syntax tree of the Jinja subset. One node type with a kind; the layout of `kids` per kind is noted below.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace verbatim::jinja {

enum class NodeKind {
  // expressions
  Const,     // value
  Name,      // name
  NSRef,     // name.attr as an assignment target: name, attr
  Getattr,   // kids[0] . name
  Getitem,   // kids[0] [ kids[1] ]
  Slice,     // kids[0..2]: start, stop, step (each may be null)
  List,      // kids
  Tuple,     // kids
  Dict,      // kids: k0, v0, k1, v1, ...
  Neg,       // kids[0]
  Pos,       // kids[0]
  Not,       // kids[0]
  And,       // kids[0], kids[1]
  Or,        // kids[0], kids[1]
  BinOp,     // name: + - * / // % **; kids[0], kids[1]
  Concat,    // kids (~)
  Compare,   // kids[0] then ops[i] against kids[i + 1]
  CondExpr,  // kids[0] if kids[1] else kids[2] (kids[2] may be null)
  Call,      // kids[0] (args)
  Filter,    // kids[0] (null inside {% filter %} / {% set x | f %}) | name(args)
  Test,      // kids[0] is name(args)
  // statements
  Data,         // attr: the text
  Print,        // kids[0]
  If,           // kids: cond0, cond1, ...; bodies[i] for cond i; else_body
  For,          // kids[0]: target, kids[1]: iterable, kids[2]: filter condition (or null); body, else_body
  Set,          // kids[0]: target, kids[1]: value
  SetBlock,     // kids[0]: target, kids[1]: filter (or null); body
  Macro,        // name, params, kids: defaults for the last params; body
  FilterBlock,  // kids[0]: filter chain; body
  With,         // kids: target0, value0, ...; body
  Break,
  Continue,
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct CallArgsNode {
  std::vector<NodePtr> pos;
  std::vector<std::pair<std::string, NodePtr>> kw;
  NodePtr dyn_args, dyn_kwargs;
};

struct Node {
  NodeKind kind;
  int line = 0, column = 0;
  Value value;
  std::string name;
  std::string attr;
  std::vector<NodePtr> kids;
  std::vector<std::string> ops;
  std::vector<std::string> params;
  CallArgsNode args;
  std::vector<std::vector<NodePtr>> bodies;
  std::vector<NodePtr> body, else_body;
  bool uses_loop = true;  // For: whether the body (or the filter) names `loop`
};

}  // namespace verbatim::jinja

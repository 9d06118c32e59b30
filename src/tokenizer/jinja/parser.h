// Parser of the Jinja subset, following jinja2's grammar and operator precedence. Tags: if/elif/else, for (with
// else, a filter condition and tuple targets), set (also ns.attr, tuples and block set), macro, filter, with,
// raw, break/continue (loopcontrols) and generation (transformers' assistant-mask tag, rendered as its body).
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/jinja/ast.h"

namespace verbatim::jinja {

// Throws Error("template:LINE:COL: ...") on a syntax error.
std::vector<NodePtr> parse_template(std::string_view source);

}  // namespace verbatim::jinja

// Lexer of the Jinja subset: jinja2's default delimiters with trim_blocks and lstrip_blocks (what Hugging Face
// transformers sets for chat templates), whitespace control ({%- -%} {{- -}} {#- -#} and +), comments and raw
// blocks. Newlines are normalised to "\n" and one trailing newline of the source is dropped (keep_trailing_newline
// is off), as jinja2 does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace verbatim::jinja {

enum class Tok { Data, BlockBegin, BlockEnd, VarBegin, VarEnd, Name, String, Integer, Float, Op, Eof };

struct Token {
  Tok type;
  std::string text;  // Data: the text; Name/Op: the symbol; String: the unescaped value
  int64_t ival = 0;
  double fval = 0;
  int line = 1;
  int column = 1;
};

// Throws Error("template:LINE:COL: ...") on a lexical error.
std::vector<Token> tokenize(std::string_view source);

}  // namespace verbatim::jinja

// Built-in chat templates for model families whose files carry none (sources in chat_template_builtins.cpp).
#pragma once

#include <string_view>

namespace verbatim {

struct BuiltinTemplate {
  const char* family;
  const char* source;
  const char* bos;  // "" when the family's tokenizer names no BOS token
  const char* eos;
};

// "chatml", "qwen2" (= "qwen2.5"), "qwen3", "llama3", "llama3.1", "llama3.2", "smollm2"; nullptr for another name.
const BuiltinTemplate* find_builtin_template(std::string_view family);

}  // namespace verbatim

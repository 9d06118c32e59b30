// The token ids of a one-message chat prompt ("Tell me about Richard Feynman"), as demo and bench send it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/model_bundle.h"

namespace verbatim::app {

inline constexpr const char* kFeynmanPrompt = "Tell me about Richard Feynman";

// The user message rendered for generation (the assistant turn opened): a loaded model's own chat template, else
// its family's built-in (tokenizer/chat_template.h); the embedded synthetic model uses the built-in ChatML. Models
// with neither (Llama 2, llama2.c) get the plain text.
std::string chat_prompt_text(const ModelBundle& bundle, const std::string& user_text);
// That text encoded with special tokens parsed, with BOS where the tokenizer adds one and the text lacks it.
std::vector<int32_t> chat_prompt_tokens(const ModelBundle& bundle, const std::string& user_text);

}  // namespace verbatim::app

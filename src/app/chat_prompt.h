// The token ids of a one-message chat prompt ("Tell me about Richard Feynman"), as demo and bench send it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/model_bundle.h"

namespace verbatim::app {

inline constexpr const char* kFeynmanPrompt = "Tell me about Richard Feynman";

// The user message rendered for generation (the assistant turn opened) and encoded with special tokens parsed.
// Until the chat-template module lands this knows two formats by their special tokens: ChatML (Qwen:
// <|im_start|> / <|im_end|>) and Llama 3 (<|start_header_id|>); other tokenizers get the plain text (with BOS when
// the tokenizer adds one).
std::vector<int32_t> chat_prompt_tokens(const ModelBundle& bundle, const std::string& user_text);
// The rendered text (before encoding).
std::string chat_prompt_text(const ModelBundle& bundle, const std::string& user_text);

}  // namespace verbatim::app

// The model a server (or `verbatim replay --model`) serves: weights, tokenizer, chat template and name, and the
// request preparation both share: prompt -> token ids, chat messages -> template -> token ids, then the checks
// against the model's limits (finalize_request).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/model.h"
#include "server/openai_request.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace verbatim::server {

struct ServedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizer_path;
  std::string name;  // the name requests use ("model" field)
  // The chat template: the model's own (tokenizer_config.json, chat_template.jinja, GGUF metadata), else the built-in
  // one of the family its vocabulary's special tokens name (ChatML, Llama 3); none for a base model such as
  // stories260K (/v1/chat/completions then answers 400). Rendered with a fixed clock (strftime_now sees 1970-01-01):
  // the prompt, and so the output, is a function of the request alone.
  std::optional<ChatTemplate> chat;
  std::string chat_source;  // "model" or the built-in family, for logs

  // tokenizer_path "" means the model's own; served_name "" means the model path as given. Throws Error.
  static std::unique_ptr<ServedModel> load(const std::string& model_path, const std::string& tokenizer_path,
                                           const std::string& served_name);
};

// max_model_len > 0 caps the context a request may use (prompt + max_tokens) below the model's.
ModelLimits model_limits(const ServedModel& m, const Engine& engine, int max_model_len = 0);

// Tokenizes req's prompt (completions: BOS where the tokenizer adds one, special tokens parsed as HF does; chat:
// the rendered template) into req.prompt_tokens and finalizes the request. Throws ApiError.
void prepare_request(OpenAIRequest& req, const ServedModel& m, const ModelLimits& limits);

}  // namespace verbatim::server

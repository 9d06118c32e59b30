// The model a server (or `verbatim replay --model`) serves: weights, tokenizer, chat template and name, and the
// request preparation both share: prompt -> token ids, chat messages -> template -> token ids, then the checks
// against the model's limits (finalize_request).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/model.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace verbatim::server {

// Renders chat messages into a prompt string with the model's chat template.
class ChatPrompt {
 public:
  virtual ~ChatPrompt() = default;
  virtual std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const = 0;
  virtual std::string describe() const = 0;  // for logs
};

// The model's chat template (tokenizer_config.json, or a built-in one for its family); nullptr when it has none.
std::unique_ptr<ChatPrompt> load_chat_prompt(const Model& model, const Tokenizer& tokenizer);

struct ServedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizer_path;
  std::string name;  // the name requests use ("model" field)
  std::unique_ptr<ChatPrompt> chat;

  // tokenizer_path "" means the model's own; served_name "" means the model path as given. Throws Error.
  static std::unique_ptr<ServedModel> load(const std::string& model_path, const std::string& tokenizer_path,
                                           const std::string& served_name);
};

ModelLimits model_limits(const ServedModel& m, const Engine& engine);

// Tokenizes req's prompt (completions: BOS where the tokenizer adds one, special tokens parsed as HF does; chat:
// the rendered template) into req.prompt_tokens and finalizes the request. Throws ApiError.
void prepare_request(OpenAIRequest& req, const ServedModel& m, const ModelLimits& limits);

}  // namespace verbatim::server

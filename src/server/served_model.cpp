#include "server/served_model.h"

#include "server/api_error.h"
#include "util/error.h"

namespace verbatim::server {
namespace {

// Built-in chat formats, chosen by the special tokens the vocabulary has.
class BuiltinChat : public ChatPrompt {
 public:
  enum class Kind { ChatMl, Llama3, Plain };
  BuiltinChat(Kind kind, std::string bos) : kind_(kind), bos_(std::move(bos)) {}

  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const override {
    std::string s;
    switch (kind_) {
      case Kind::ChatMl:
        for (const ChatMessage& m : messages) s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        if (add_generation_prompt) s += "<|im_start|>assistant\n";
        break;
      case Kind::Llama3:
        s = bos_;
        for (const ChatMessage& m : messages)
          s += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
        if (add_generation_prompt) s += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        break;
      case Kind::Plain:  // a model without a chat format (e.g. a base model): the messages as plain text
        for (const ChatMessage& m : messages) s += m.content + "\n";
        break;
    }
    return s;
  }
  std::string describe() const override {
    return kind_ == Kind::ChatMl ? "built-in ChatML" : kind_ == Kind::Llama3 ? "built-in Llama 3" : "plain text";
  }

 private:
  Kind kind_;
  std::string bos_;
};

}  // namespace

std::unique_ptr<ChatPrompt> load_chat_prompt(const Model& model, const Tokenizer& tok) {
  (void)model;
  if (tok.find_piece("<|im_start|>") && tok.find_piece("<|im_end|>"))
    return std::make_unique<BuiltinChat>(BuiltinChat::Kind::ChatMl, "");
  if (tok.find_piece("<|start_header_id|>") && tok.find_piece("<|eot_id|>"))
    return std::make_unique<BuiltinChat>(BuiltinChat::Kind::Llama3,
                                         tok.bos_id() >= 0 ? tok.piece(tok.bos_id()) : std::string());
  return std::make_unique<BuiltinChat>(BuiltinChat::Kind::Plain, "");
}

std::unique_ptr<ServedModel> ServedModel::load(const std::string& model_path, const std::string& tokenizer_path,
                                               const std::string& served_name) {
  auto m = std::make_unique<ServedModel>();
  m->model = Model::load(model_path);
  m->tokenizer_path = tokenizer_path.empty() ? m->model->tokenizer_path : tokenizer_path;
  if (m->tokenizer_path.empty()) fail(model_path, "this model format carries no tokenizer; name one with --tokenizer");
  m->tokenizer = load_tokenizer(m->tokenizer_path);
  if (m->tokenizer->vocab_size() != m->model->config.vocab_size)
    fail(m->tokenizer_path, "tokenizer has " + std::to_string(m->tokenizer->vocab_size()) +
                                " tokens but the model's vocabulary has " +
                                std::to_string(m->model->config.vocab_size));
  m->name = served_name.empty() ? model_path : served_name;
  m->chat = load_chat_prompt(*m->model, *m->tokenizer);
  return m;
}

ModelLimits model_limits(const ServedModel& m, const Engine& engine) {
  ModelLimits l;
  l.context_length = m.model->config.max_seq_len;
  l.vocab_size = m.model->config.vocab_size;
  const EngineStats s = engine.stats();
  l.kv_capacity_tokens = s.kv_blocks_total * engine.options().block_size;
  l.defaults = m.model->config.generation;
  return l;
}

void prepare_request(OpenAIRequest& req, const ServedModel& m, const ModelLimits& limits) {
  const Tokenizer& tok = *m.tokenizer;
  const int32_t bos = tok.bos_id() >= 0 ? tok.bos_id() : m.model->config.bos_id;
  try {
    if (req.endpoint == Endpoint::Completions) {
      if (!req.prompt_is_tokens) {
        req.prompt_tokens.clear();
        if ((tok.add_bos() || req.prompt.empty()) && bos >= 0) req.prompt_tokens.push_back(bos);
        for (int32_t id : tok.encode(req.prompt, /*parse_special=*/true)) req.prompt_tokens.push_back(id);
      }
    } else {
      if (!m.chat) throw invalid_request("messages", "this model has no chat template; use /v1/completions");
      const std::string text = m.chat->render(req.messages, req.add_generation_prompt);
      req.prompt_tokens = tok.encode(text, /*parse_special=*/true);
      if (tok.add_bos() && bos >= 0 && (req.prompt_tokens.empty() || req.prompt_tokens.front() != bos))
        req.prompt_tokens.insert(req.prompt_tokens.begin(), bos);
    }
  } catch (const Error& e) {
    throw invalid_request(req.endpoint == Endpoint::Chat ? "messages" : "prompt",
                          std::string("cannot tokenize the prompt: ") + e.what());
  }
  finalize_request(req, limits);
}

}  // namespace verbatim::server

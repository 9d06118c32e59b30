#include "server/served_model.h"

#include <algorithm>

#include "server/api_error.h"
#include "util/error.h"

namespace verbatim::server {
namespace {

// The built-in template family the vocabulary's special tokens point to ("" for none), for models that carry no
// template of their own.
std::string family_of(const Tokenizer& tok) {
  if (tok.find_piece("<|im_start|>") && tok.find_piece("<|im_end|>")) return "chatml";
  if (tok.find_piece("<|start_header_id|>") && tok.find_piece("<|eot_id|>")) return "llama3";
  return "";
}

// The built-in family for a model without a template: by architecture and vocabulary (as generate --chat picks
// it), else by the vocabulary's special tokens.
std::string builtin_family(const Model& model, const Tokenizer& tok) {
  const std::string family(default_template_family(arch_name(model.config.arch), model.config.vocab_size));
  return family.empty() ? family_of(tok) : family;
}

}  // namespace

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
  if (auto own = load_chat_template(m->model->path, *m->tokenizer)) {
    m->chat = std::move(own);
    m->chat_source = "the model's";
  } else if (const std::string family = builtin_family(*m->model, *m->tokenizer); !family.empty()) {
    m->chat = builtin_chat_template(family);
    m->chat_source = "built-in " + family;
  }
  return m;
}

ModelLimits model_limits(const ServedModel& m, const Engine& engine, int max_model_len) {
  ModelLimits l;
  l.context_length = m.model->config.max_seq_len;
  if (max_model_len > 0) l.context_length = std::min(l.context_length, max_model_len);
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
      if (!m.chat)
        throw invalid_request("messages", "this model has no chat template (a base model?); use /v1/completions",
                              "no_chat_template");
      ChatTemplateOptions topt;
      topt.add_generation_prompt = req.add_generation_prompt;
      topt.extra = req.chat_template_kwargs;
      topt.now_unix =
          0;  // strftime_now sees a fixed clock: the prompt (and so the output) is a function of the request
      const std::string text = m.chat->render(req.messages, topt);
      req.prompt_tokens = tok.encode(text, /*parse_special=*/true);
      if (tok.add_bos() && bos >= 0 && (req.prompt_tokens.empty() || req.prompt_tokens.front() != bos))
        req.prompt_tokens.insert(req.prompt_tokens.begin(), bos);
    }
  } catch (const Error& e) {
    throw invalid_request(req.endpoint == Endpoint::Chat ? "messages" : "prompt",
                          std::string("cannot render or tokenize the prompt: ") + e.what());
  }
  finalize_request(req, limits);
}

}  // namespace verbatim::server

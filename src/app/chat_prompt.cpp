#include "app/chat_prompt.h"

#include <optional>

#include "tokenizer/chat_template.h"

namespace verbatim::app {

std::string chat_prompt_text(const ModelBundle& bundle, const std::string& user_text) {
  const Tokenizer& tok = *bundle.tokenizer;
  std::optional<ChatTemplate> tmpl;
  if (bundle.synthetic) {
    tmpl = builtin_chat_template("chatml");
  } else {
    tmpl = load_chat_template(bundle.model->path, tok);
    if (!tmpl) {
      const ModelConfig& c = bundle.model->config;
      const std::string_view family = default_template_family(arch_name(c.arch), c.vocab_size);
      if (!family.empty()) tmpl = builtin_chat_template(family);
    }
  }
  if (!tmpl) return user_text;
  return tmpl->render({{"user", user_text}});
}

std::vector<int32_t> chat_prompt_tokens(const ModelBundle& bundle, const std::string& user_text) {
  const Tokenizer& tok = *bundle.tokenizer;
  const std::string text = chat_prompt_text(bundle, user_text);
  const int32_t bos = tok.bos_id() >= 0 ? tok.bos_id() : bundle.model->config.bos_id;
  const std::string bos_text = bos >= 0 && bos < tok.vocab_size() ? tok.piece(bos) : std::string();
  const bool has_bos = !bos_text.empty() && text.compare(0, bos_text.size(), bos_text) == 0;
  std::vector<int32_t> ids;
  if (tok.add_bos() && bos >= 0 && !has_bos) ids.push_back(bos);
  for (int32_t id : tok.encode(text, /*parse_special=*/true)) ids.push_back(id);
  return ids;
}

}  // namespace verbatim::app

#include "app/chat_prompt.h"

namespace verbatim::app {

std::string chat_prompt_text(const ModelBundle& bundle, const std::string& user_text) {
  const Tokenizer& tok = *bundle.tokenizer;
  if (tok.find_piece("<|im_start|>") && tok.find_piece("<|im_end|>"))
    return "<|im_start|>user\n" + user_text + "<|im_end|>\n<|im_start|>assistant\n";
  if (tok.find_piece("<|start_header_id|>") && tok.find_piece("<|eot_id|>"))
    return "<|start_header_id|>user<|end_header_id|>\n\n" + user_text +
           "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
  return user_text;
}

std::vector<int32_t> chat_prompt_tokens(const ModelBundle& bundle, const std::string& user_text) {
  const Tokenizer& tok = *bundle.tokenizer;
  std::vector<int32_t> ids;
  const int32_t bos = tok.bos_id() >= 0 ? tok.bos_id() : bundle.model->config.bos_id;
  if (tok.add_bos() && bos >= 0) ids.push_back(bos);
  for (int32_t id : tok.encode(chat_prompt_text(bundle, user_text), /*parse_special=*/true)) ids.push_back(id);
  return ids;
}

}  // namespace verbatim::app

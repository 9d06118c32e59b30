// Chat templates: a conversation rendered to prompt text with the model's own Jinja template, exactly as Hugging
// Face transformers' apply_chat_template renders it (jinja2 with trim_blocks, lstrip_blocks, raise_exception,
// strftime_now and a non-escaping tojson). The template comes from tokenizer_config.json (`chat_template`), a
// chat_template.jinja beside it, or GGUF metadata (`tokenizer.chat_template`); built-ins cover the ChatML
// (Qwen2.5/Qwen3), Llama 3 and SmolLM2 families for models that carry none.
//
// Variables the template sees: messages, tools (none unless given), documents (none), add_generation_prompt,
// bos_token / eos_token (when the model names them), then every key of ChatTemplateOptions::extra (which may
// override the others, e.g. "tools", "enable_thinking", "date_string").
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace verbatim {

class Tokenizer;

namespace jinja {
struct Node;
}

struct ChatMessage {
  std::string role;
  std::string content;
};

struct ChatTemplateOptions {
  bool add_generation_prompt = true;
  // Extra template variables. Ordered: tools' JSON schemas are printed with tojson in their own key order, as
  // Python keeps it (parse request bodies with nlohmann::ordered_json to keep it too).
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  int64_t now_unix = -1;  // the clock strftime_now reads (local time); -1: the current time
};

class ChatTemplate {
 public:
  // Parses the template; throws Error("chat template: template:LINE:COL: ...") on a syntax error. Empty
  // bos/eos tokens leave the variable undefined (as transformers does for a model without one).
  static ChatTemplate parse(std::string_view source, std::string bos_token, std::string eos_token);

  // Renders a conversation. Throws Error for template runtime errors (raise_exception's message included), for a
  // rendering over the output limit (16 MiB) or one that takes too much work.
  std::string render(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& opt = {}) const;
  // Messages as JSON objects (role, content, and anything else: tool_calls, name, reasoning_content, ...).
  std::string render_json(const nlohmann::ordered_json& messages, const ChatTemplateOptions& opt = {}) const;

  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }

 private:
  std::string source_, bos_, eos_;
  std::shared_ptr<const std::vector<std::unique_ptr<jinja::Node>>> body_;
};

// The template a model carries: an HF directory's tokenizer_config.json `chat_template` (a string, or a list of
// {name, template}: "default"), else its chat_template.jinja; a .gguf file's `tokenizer.chat_template`; a
// llama2.c .bin has none. bos/eos strings come from tokenizer_config.json / the GGUF ids, else from `tok`.
// nullopt when the model has no template. Throws Error when a template is present but does not parse.
std::optional<ChatTemplate> load_chat_template(const std::string& model_path, const Tokenizer& tok);

// A built-in template by family: "chatml" (plain ChatML), "qwen2" / "qwen2.5", "qwen3", "llama3", "llama3.1",
// "llama3.2", "smollm2". nullopt for an unknown family. bos/eos are those of the family's real tokenizers.
std::optional<ChatTemplate> builtin_chat_template(std::string_view family);

// The built-in family for a model that carries no template, from its architecture name ("llama", "qwen2",
// "qwen3": arch_name()) and vocabulary size (Llama 3's 128256 tokens); "" when none fits (e.g. Llama 2).
std::string_view default_template_family(std::string_view arch, int64_t vocab_size);

// The model's template, else the built-in for `family` (may be empty), else Error("model has no chat template").
ChatTemplate chat_template_for(const std::string& model_path, const Tokenizer& tok, std::string_view family);

}  // namespace verbatim

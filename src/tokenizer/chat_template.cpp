#include "tokenizer/chat_template.h"

#include <filesystem>

#include "formats/gguf.h"
#include "tokenizer/chat_template_builtins.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace verbatim {

namespace fs = std::filesystem;
using jinja::Value;

namespace {

Value from_json(const nlohmann::ordered_json& j, int depth = 0) {
  if (depth > 128) throw Error("chat template: message JSON nested too deeply");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      jinja::ValueList items;
      for (const auto& e : j) items.push_back(from_json(e, depth + 1));
      return Value::make_list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      std::vector<std::pair<Value, Value>> items;
      for (auto it = j.begin(); it != j.end(); ++it)
        items.emplace_back(Value::string(it.key()), from_json(it.value(), depth + 1));
      return Value::make_dict(std::move(items));
    }
    default:
      throw Error("chat template: unsupported JSON value");
  }
}

// A special token in tokenizer_config.json: "text", {"content": "text", ...} or null.
std::string special_token(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return {};
}

std::string piece_or_empty(const Tokenizer& tok, int64_t id) {
  if (id < 0 || id >= tok.vocab_size()) return {};
  return tok.piece(static_cast<int32_t>(id));
}

}  // namespace

ChatTemplate ChatTemplate::parse(std::string_view source, std::string bos_token, std::string eos_token) {
  ChatTemplate t;
  t.source_ = std::string(source);
  t.bos_ = std::move(bos_token);
  t.eos_ = std::move(eos_token);
  try {
    t.body_ = std::make_shared<const std::vector<jinja::NodePtr>>(jinja::parse_template(source));
  } catch (const Error& e) {
    throw Error(std::string("chat template: ") + e.what());
  }
  return t;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, const ChatTemplateOptions& opt) const {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& m : messages) j.push_back({{"role", m.role}, {"content", m.content}});
  return render_json(j, opt);
}

std::string ChatTemplate::render_json(const nlohmann::ordered_json& messages, const ChatTemplateOptions& opt) const {
  if (!messages.is_array()) throw Error("chat template: messages must be a list");
  if (!opt.extra.is_object()) throw Error("chat template: extra variables must be an object");
  std::vector<std::pair<std::string, Value>> vars = jinja::default_globals();
  auto set = [&](const std::string& k, Value v) {
    for (auto& [name, old] : vars)
      if (name == k) {
        old = std::move(v);
        return;
      }
    vars.emplace_back(k, std::move(v));
  };
  set("messages", from_json(messages));
  set("tools", Value::none());
  set("documents", Value::none());
  set("add_generation_prompt", Value::boolean(opt.add_generation_prompt));
  if (!bos_.empty()) set("bos_token", Value::string(bos_));
  if (!eos_.empty()) set("eos_token", Value::string(eos_));
  for (const auto& [name, text] : specials_) set(name, Value::string(text));
  for (auto it = opt.extra.begin(); it != opt.extra.end(); ++it) set(it.key(), from_json(it.value()));
  jinja::Interpreter in(jinja::Limits{}, opt.now_unix);
  try {
    return in.render(*body_, std::move(vars));
  } catch (const Error& e) {
    throw Error(std::string("chat template: ") + e.what());
  }
}

std::optional<ChatTemplate> load_chat_template(const std::string& model_path, const Tokenizer& tok) {
  std::string bos = piece_or_empty(tok, tok.bos_id());
  std::string eos = tok.eos_ids().empty() ? std::string() : piece_or_empty(tok, tok.eos_ids()[0]);
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) {
    const fs::path dir(model_path);
    std::vector<std::pair<std::string, std::string>> specials;
    std::optional<std::string> source;
    const fs::path cfg_path = dir / "tokenizer_config.json";
    if (fs::exists(cfg_path, ec)) {
      nlohmann::json cfg;
      try {
        cfg = nlohmann::json::parse(read_text_file(cfg_path.string(), 64u << 20));
      } catch (const nlohmann::json::exception& e) {
        fail(cfg_path.string(), std::string("invalid JSON: ") + e.what());
      }
      if (!cfg.is_object()) fail(cfg_path.string(), "not a JSON object");
      bos = special_token(cfg, "bos_token");
      for (const char* key : {"unk_token", "pad_token"})
        if (std::string v = special_token(cfg, key); !v.empty()) specials.emplace_back(key, v);
      eos = special_token(cfg, "eos_token");
      auto it = cfg.find("chat_template");
      if (it != cfg.end() && it->is_string()) {
        source = it->get<std::string>();
      } else if (it != cfg.end() && it->is_array()) {
        for (const auto& e : *it)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
            source = e["template"].get<std::string>();
        if (!source) fail(cfg_path.string(), "chat_template is a list without a \"default\" template");
      } else if (it != cfg.end() && !it->is_null()) {
        fail(cfg_path.string(), "chat_template must be a string or a list of {name, template}");
      }
    }
    if (!source && fs::exists(dir / "chat_template.jinja", ec))
      source = read_text_file((dir / "chat_template.jinja").string(), 16u << 20);
    if (!source) return std::nullopt;
    ChatTemplate t = ChatTemplate::parse(*source, bos, eos);
    t.specials_ = std::move(specials);
    return t;
  }
  if (model_path.size() >= 5 && model_path.compare(model_path.size() - 5, 5, ".gguf") == 0) {
    gguf::File f(model_path);
    std::optional<std::string> source = f.find_string("tokenizer.chat_template");
    if (!source) return std::nullopt;
    if (auto id = f.find_int("tokenizer.ggml.bos_token_id")) bos = piece_or_empty(tok, *id);
    if (auto id = f.find_int("tokenizer.ggml.eos_token_id")) eos = piece_or_empty(tok, *id);
    return ChatTemplate::parse(*source, bos, eos);
  }
  return std::nullopt;  // llama2.c checkpoints carry no template
}

std::optional<ChatTemplate> builtin_chat_template(std::string_view family) {
  const BuiltinTemplate* b = find_builtin_template(family);
  if (!b) return std::nullopt;
  return ChatTemplate::parse(b->source, b->bos, b->eos);
}

ChatTemplate chat_template_for(const std::string& model_path, const Tokenizer& tok, std::string_view family) {
  if (auto t = load_chat_template(model_path, tok)) return *t;
  if (!family.empty())
    if (auto t = builtin_chat_template(family)) return *t;
  fail(model_path, "model has no chat template");
}

}  // namespace verbatim

// `verbatim chat-template` (a hidden developer command): renders a conversation with a chat template and prints
// the text, so that tests can compare it byte for byte with Hugging Face's rendering (jinja2).
#include "tokenizer/chat_template.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace verbatim::cli {
namespace {

struct ChatTemplateCliOptions {
  std::string model;
  std::string template_file;
  std::string builtin;
  std::string bos, eos;
  std::string messages_file;
  std::string extra = "{}";
  bool no_generation_prompt = false;
  int64_t now = -1;
  std::string cases_file;
  bool print_source = false;
};

// --cases F.jsonl: one rendering per line, {"template", "messages", "add_generation_prompt", "extra", "bos", "eos",
// "now"}; prints one JSON line per case, {"text": ...} or {"error": ...}. Lets tests compare hundreds of cases in
// one process.
int run_cases(const std::string& path) {
  const std::string text = read_text_file(path, 256u << 20);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::ordered_json out;
    try {
      nlohmann::ordered_json c = nlohmann::ordered_json::parse(line);
      ChatTemplate t = ChatTemplate::parse(c.at("template").get<std::string>(), c.value("bos", std::string()),
                                           c.value("eos", std::string()));
      ChatTemplateOptions opt;
      opt.add_generation_prompt = c.value("add_generation_prompt", true);
      if (c.contains("extra")) opt.extra = c["extra"];
      opt.now_unix = c.value("now", int64_t{-1});
      out["text"] = t.render_json(c.value("messages", nlohmann::ordered_json::array()), opt);
    } catch (const nlohmann::json::exception& e) {
      fail(path, std::string("bad case line: ") + e.what());
    } catch (const Error& e) {
      out["error"] = e.what();
    }
    const std::string s = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(s.data(), 1, s.size(), stdout);
  }
  return 0;
}

int run_chat_template(const ChatTemplateCliOptions& o) {
  if (!o.cases_file.empty()) return run_cases(o.cases_file);
  if (o.messages_file.empty() && !o.print_source) fail("chat-template", "--messages-file is required");
  std::optional<ChatTemplate> t;
  if (!o.model.empty()) {
    auto tok = load_tokenizer(o.model);
    t = chat_template_for(o.model, *tok, o.builtin);
  } else if (!o.template_file.empty()) {
    t = ChatTemplate::parse(read_text_file(o.template_file, 16u << 20), o.bos, o.eos);
  } else if (!o.builtin.empty()) {
    t = builtin_chat_template(o.builtin);
    if (!t) fail("--builtin", "unknown template family '" + o.builtin + "'");
  } else {
    fail("chat-template", "give --model, --template or --builtin");
  }
  if (o.print_source) {  // {"source", "bos", "eos"} of the template that would render
    nlohmann::ordered_json j = {{"source", t->source()}, {"bos", t->bos_token()}, {"eos", t->eos_token()}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  nlohmann::ordered_json messages, extra;
  try {
    messages = nlohmann::ordered_json::parse(read_text_file(o.messages_file, 64u << 20));
  } catch (const nlohmann::json::exception& e) {
    fail(o.messages_file, std::string("invalid JSON: ") + e.what());
  }
  try {
    extra = nlohmann::ordered_json::parse(o.extra);
  } catch (const nlohmann::json::exception& e) {
    fail("--extra", std::string("invalid JSON: ") + e.what());
  }
  ChatTemplateOptions opt;
  opt.add_generation_prompt = !o.no_generation_prompt;
  opt.extra = extra;
  opt.now_unix = o.now;
  const std::string text = t->render_json(messages, opt);
  if (!text.empty() && std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) fail("stdout", "write failed");
  return 0;
}

}  // namespace

void register_chat_template(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ChatTemplateCliOptions>();
  CLI::App* cmd = app.add_subcommand("chat-template", "render a conversation with a chat template (developer tool)");
  cmd->group("");  // hidden from --help
  cmd->add_option("--model", opt->model, "model (HF directory or GGUF) whose template to use");
  cmd->add_option("--template", opt->template_file, "a Jinja template file");
  cmd->add_option("--builtin", opt->builtin, "built-in template family (with --model: the fallback)");
  cmd->add_option("--bos", opt->bos, "bos_token for --template");
  cmd->add_option("--eos", opt->eos, "eos_token for --template");
  cmd->add_option("--messages-file", opt->messages_file, "JSON list of messages");
  cmd->add_option("--cases", opt->cases_file, "JSONL of cases to render (see run_cases)");
  cmd->add_option("--extra", opt->extra, "JSON object of extra template variables (tools, enable_thinking, ...)");
  cmd->add_flag("--no-generation-prompt", opt->no_generation_prompt, "add_generation_prompt=false");
  cmd->add_option("--now", opt->now, "UNIX time strftime_now reads");
  cmd->add_flag("--print-source", opt->print_source, "print the template's source and bos/eos as JSON instead");
  cmd->callback([opt, &exit_code] { exit_code = run_chat_template(*opt); });
}

}  // namespace verbatim::cli

// libFuzzer target: bytes -> chat template source -> ChatTemplate::parse, then render over a fixed conversation
// (system, user, an assistant turn with <think> and tool calls, a tool response) with tools and extra variables.
// The first byte picks options (add_generation_prompt, enable_thinking, tools, bos/eos); the rest is the template.
// verbatim::Error is the only clean rejection; anything else (crash, sanitizer report, hang past the work limit,
// other exception) is a bug.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tokenizer/chat_template.h"
#include "util/error.h"

namespace {

const nlohmann::ordered_json& conversation() {
  static const nlohmann::ordered_json c = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Zürich? 😀"},
    {"role": "assistant", "content": "<think>\nlook it up\n</think>\n\nChecking.",
     "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
    {"role": "tool", "content": "{\"temp\": 3}"},
    {"role": "assistant", "content": "3 °C", "reasoning_content": "easy"},
    {"role": "user", "content": ""}])");
  return c;
}

const nlohmann::ordered_json& tools() {
  static const nlohmann::ordered_json t = nlohmann::ordered_json::parse(R"([{"type": "function", "function":
    {"name": "get_weather", "description": "Weather", "parameters": {"type": "object",
     "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view source(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    verbatim::ChatTemplate t = verbatim::ChatTemplate::parse(source, flags & 1 ? "<s>" : "", flags & 2 ? "</s>" : "");
    verbatim::ChatTemplateOptions opt;
    opt.add_generation_prompt = flags & 4;
    opt.now_unix = 1764547200;
    if (flags & 8) opt.extra["enable_thinking"] = (flags & 16) != 0;
    if (flags & 32) opt.extra["tools"] = tools();
    (void)t.render_json(conversation(), opt);
    if (flags & 64) (void)t.render({{"user", "hi"}}, opt);
  } catch (const verbatim::Error&) {
  }
  return 0;
}

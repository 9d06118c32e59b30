#include "server/openai_request.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace verbatim::server {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;
constexpr size_t kMaxStops = 16;
constexpr size_t kMaxMessages = 4096;

struct TooDeep {};

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::number_float:
      return "a number";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    default:
      return "an unsupported value";
  }
}

[[noreturn]] void wrong_type(const std::string& field, const char* expected, const json& got) {
  throw invalid_request(field, "'" + field + "' must be " + expected + ", got " + type_name(got), "invalid_type");
}

// A field that is absent or null is "not given" (OpenAI clients send null for unset optional fields).
const json* field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<bool> get_bool(const json& obj, const char* key) {
  const json* v = field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) wrong_type(key, "a boolean", *v);
  return v->get<bool>();
}

std::optional<double> get_number(const json& obj, const char* key) {
  const json* v = field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) wrong_type(key, "a number", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d)) throw invalid_request(key, std::string("'") + key + "' must be finite");
  return d;
}

// An integer within [lo, hi]. JSON numbers written with a fraction (16.0) are not integers.
std::optional<int64_t> get_int(const json& obj, const char* key, int64_t lo, int64_t hi) {
  const json* v = field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) wrong_type(key, "an integer", *v);
  bool in_range;
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(hi);
    x = in_range ? static_cast<int64_t>(u) : hi;
  } else {
    x = v->get<int64_t>();
    in_range = x >= lo && x <= hi;
  }
  if (!in_range)
    throw invalid_request(key, std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                                   std::to_string(hi) + ", got " + v->dump());
  return x;
}

std::optional<std::string> get_string(const json& obj, const char* key) {
  const json* v = field(obj, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) wrong_type(key, "a string", *v);
  return v->get<std::string>();
}

// Fields of features this server does not implement: accepted only with their neutral value.
void reject_unsupported(const json& obj, Endpoint endpoint) {
  if (auto n = get_int(obj, "n", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    if (*n < 1) throw invalid_request("n", "'n' must be at least 1, got " + std::to_string(*n));
    if (*n != 1) throw unsupported("n", "only n = 1 is supported (got " + std::to_string(*n) + "); send n requests");
  }
  if (auto b = get_int(obj, "best_of", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
    if (*b != 1) throw unsupported("best_of", "only best_of = 1 is supported");
  }
  for (const char* penalty : {"presence_penalty", "frequency_penalty"}) {
    if (auto p = get_number(obj, penalty); p && *p != 0.0)
      throw unsupported(penalty, std::string("'") + penalty + "' is not supported (only 0)");
  }
  if (auto p = get_number(obj, "repetition_penalty"); p && *p != 1.0)
    throw unsupported("repetition_penalty", "'repetition_penalty' is not supported (only 1)");
  if (const json* lb = field(obj, "logit_bias")) {
    if (!lb->is_object()) wrong_type("logit_bias", "an object", *lb);
    if (!lb->empty()) throw unsupported("logit_bias", "'logit_bias' is not supported");
  }
  if (endpoint == Endpoint::Completions) {
    if (auto s = get_string(obj, "suffix"); s && !s->empty()) throw unsupported("suffix", "'suffix' is not supported");
  } else {
    for (const char* key : {"tools", "functions"}) {
      if (const json* t = field(obj, key)) {
        if (!t->is_array()) wrong_type(key, "an array", *t);
        if (!t->empty()) throw unsupported(key, std::string("'") + key + "' (tool calling) is not supported");
      }
    }
    if (const json* rf = field(obj, "response_format")) {
      if (!rf->is_object()) wrong_type("response_format", "an object", *rf);
      const json* t = field(*rf, "type");
      if (t != nullptr && !(t->is_string() && t->get<std::string>() == "text"))
        throw unsupported("response_format", "only response_format {\"type\": \"text\"} is supported");
    }
  }
}

void parse_stop(const json& obj, OpenAIRequest& r) {
  const json* v = field(obj, "stop");
  if (v == nullptr) return;
  std::vector<std::string> stops;
  if (v->is_string()) {
    stops.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    for (const json& s : *v) {
      if (!s.is_string()) wrong_type("stop", "a string or an array of strings", *v);
      stops.push_back(s.get<std::string>());
    }
  } else {
    wrong_type("stop", "a string or an array of strings", *v);
  }
  if (stops.size() > kMaxStops)
    throw invalid_request("stop", "at most " + std::to_string(kMaxStops) + " stop strings are allowed");
  for (const std::string& s : stops)
    if (s.empty()) throw invalid_request("stop", "stop strings must not be empty");
  r.params.stop = std::move(stops);
}

void parse_token_ids(const json& arr, const char* name, std::vector<int32_t>& out) {
  out.clear();
  for (const json& t : arr) {
    if (!t.is_number_integer()) wrong_type(name, "an array of token ids (integers)", arr);
    if (t.is_number_unsigned() ? t.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())
                               : (t.get<int64_t>() < 0 || t.get<int64_t>() > std::numeric_limits<int32_t>::max()))
      throw invalid_request(name, std::string("token id ") + t.dump() + " in '" + name + "' is out of range");
    out.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
}

void parse_prompt(const json& obj, OpenAIRequest& r) {
  auto it = obj.find("prompt");
  if (it == obj.end() || it->is_null()) throw invalid_request("prompt", "'prompt' is required", "missing_field");
  const json* p = &*it;
  if (p->is_array() && p->size() == 1 && (p->at(0).is_string() || p->at(0).is_array()))
    p = &p->at(0);  // a batch of one prompt
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
    return;
  }
  if (p->is_array()) {
    bool all_ints = true;
    for (const json& t : *p) all_ints = all_ints && t.is_number_integer();
    if (!all_ints) {
      bool batch = true;
      for (const json& t : *p) batch = batch && (t.is_string() || t.is_array());
      if (batch && p->size() > 1)
        throw unsupported("prompt", "batched prompts (an array of " + std::to_string(p->size()) +
                                        " prompts) are not supported; send one prompt per request");
      wrong_type("prompt", "a string or an array of token ids", *p);
    }
    if (p->empty()) throw invalid_request("prompt", "'prompt' is empty");
    parse_token_ids(*p, "prompt", r.prompt_tokens);
    r.prompt_is_tokens = true;
    return;
  }
  wrong_type("prompt", "a string or an array of token ids", *p);
}

void parse_messages(const json& obj, OpenAIRequest& r) {
  auto it = obj.find("messages");
  if (it == obj.end() || it->is_null()) throw invalid_request("messages", "'messages' is required", "missing_field");
  if (!it->is_array()) wrong_type("messages", "an array of messages", *it);
  if (it->empty()) throw invalid_request("messages", "'messages' must hold at least one message");
  if (it->size() > kMaxMessages)
    throw invalid_request("messages", "at most " + std::to_string(kMaxMessages) + " messages are allowed");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) wrong_type(where, "an object", m);
    ChatMessage msg;
    if (const json* name = field(m, "name"); name != nullptr && !name->is_string())
      wrong_type(where + ".name", "a string", *name);
    auto role = m.find("role");
    if (role == m.end() || role->is_null())
      throw invalid_request(where + ".role", "'role' is required", "missing_field");
    if (!role->is_string()) wrong_type(where + ".role", "a string", *role);
    msg.role = role->get<std::string>();
    if (msg.role != "system" && msg.role != "developer" && msg.role != "user" && msg.role != "assistant" &&
        msg.role != "tool")
      throw invalid_request(where + ".role",
                            "unknown role '" + msg.role + "' (valid: system, developer, user, assistant, tool)");
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      if (msg.role != "assistant") throw invalid_request(where + ".content", "'content' is required", "missing_field");
    } else if (content->is_string()) {
      msg.content = content->get<std::string>();
    } else if (content->is_array()) {
      for (const json& part : *content) {
        if (!part.is_object()) wrong_type(where + ".content", "a string or an array of content parts", *content);
        auto type = part.find("type");
        if (type == part.end() || !type->is_string())
          throw invalid_request(where + ".content", "each content part needs a 'type'", "missing_field");
        if (type->get<std::string>() != "text")
          throw unsupported(where + ".content",
                            "content parts of type '" + type->get<std::string>() + "' are not supported (only 'text')");
        auto text = part.find("text");
        if (text == part.end() || !text->is_string())
          throw invalid_request(where + ".content", "a text content part needs a string 'text'", "missing_field");
        msg.content += text->get<std::string>();
      }
    } else {
      wrong_type(where + ".content", "a string or an array of content parts", *content);
    }
    r.messages.push_back(std::move(msg));
  }
}

}  // namespace

const char* endpoint_path(Endpoint e) {
  return e == Endpoint::Chat ? "/v1/chat/completions" : "/v1/completions";
}

OpenAIRequest parse_openai_request(Endpoint endpoint, std::string_view body) {
  OpenAIRequest r;
  r.endpoint = endpoint;
  try {
    r.body = json::parse(body, [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    throw invalid_request("", "the request body nests deeper than " + std::to_string(kMaxDepth) + " levels",
                          "invalid_json");
  } catch (const json::exception& e) {
    const std::string what = e.what();
    if (what.find("UTF-8") != std::string::npos || what.find("surrogate") != std::string::npos)
      throw invalid_request("", "the request body is not valid UTF-8: " + what, "invalid_utf8");
    throw invalid_request("", "the request body is not valid JSON: " + what, "invalid_json");
  }
  const json& j = r.body;
  if (!j.is_object()) throw invalid_request("", "the request body must be a JSON object", "invalid_json");

  if (auto m = get_string(j, "model")) r.model = *m;
  if (endpoint == Endpoint::Completions) {
    parse_prompt(j, r);
    r.echo = get_bool(j, "echo").value_or(false);
    if (auto lp = get_int(j, "logprobs", 0, SamplingParams::kMaxTopLogprobs)) {
      r.logprobs = true;
      r.top_logprobs = static_cast<int>(*lp);
    }
    if (auto mt = get_int(j, "max_tokens", std::numeric_limits<int>::min(), std::numeric_limits<int>::max()))
      r.max_tokens = static_cast<int>(*mt);
  } else {
    parse_messages(j, r);
    r.logprobs = get_bool(j, "logprobs").value_or(false);
    if (auto tl = get_int(j, "top_logprobs", 0, SamplingParams::kMaxTopLogprobs)) {
      if (!r.logprobs) throw invalid_request("top_logprobs", "'top_logprobs' needs 'logprobs': true");
      r.top_logprobs = static_cast<int>(*tl);
    }
    auto mct = get_int(j, "max_completion_tokens", std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    auto mt = get_int(j, "max_tokens", std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
    if (mct)
      r.max_tokens = static_cast<int>(*mct);
    else if (mt)
      r.max_tokens = static_cast<int>(*mt);
    r.add_generation_prompt = get_bool(j, "add_generation_prompt").value_or(true);
    if (const json* kw = field(j, "chat_template_kwargs")) {  // vLLM's extension, e.g. {"enable_thinking": false}
      if (!kw->is_object()) wrong_type("chat_template_kwargs", "an object", *kw);
      r.chat_template_kwargs = nlohmann::ordered_json::parse(kw->dump());
    }
  }
  if (r.max_tokens && *r.max_tokens < 0)
    throw invalid_request("max_tokens", "'max_tokens' must be at least 1, got " + std::to_string(*r.max_tokens));
  if (r.max_tokens && *r.max_tokens == 0 && !(endpoint == Endpoint::Completions && r.echo))
    throw invalid_request("max_tokens", "'max_tokens' must be at least 1 (0 only with echo, to score the prompt)");

  SamplingParams& s = r.params.sampling;
  if (auto t = get_number(j, "temperature")) {
    if (*t < 0) throw invalid_request("temperature", "'temperature' must be >= 0, got " + j["temperature"].dump());
    s.temperature = static_cast<float>(*t);
    r.sampling_set.temperature = true;
  }
  if (auto p = get_number(j, "top_p")) {
    if (!(*p > 0 && *p <= 1)) throw invalid_request("top_p", "'top_p' must be in (0, 1], got " + j["top_p"].dump());
    // The float nearest a tiny positive top_p may be 0: keep it positive (only the most likely token survives).
    s.top_p = std::max(static_cast<float>(*p), std::numeric_limits<float>::denorm_min());
    r.sampling_set.top_p = true;
  }
  if (auto k = get_int(j, "top_k", -1, std::numeric_limits<int>::max())) {
    s.top_k = *k < 0 ? 0 : static_cast<int>(*k);  // -1 (vLLM) and 0 both mean off
    r.sampling_set.top_k = true;
  }
  if (auto mp = get_number(j, "min_p")) {
    if (!(*mp >= 0 && *mp <= 1)) throw invalid_request("min_p", "'min_p' must be in [0, 1], got " + j["min_p"].dump());
    s.min_p = static_cast<float>(*mp);
    r.sampling_set.min_p = true;
  }
  if (const json* sv = field(j, "seed")) {  // any 64-bit integer; negative ones wrap (a fixed mapping)
    if (!sv->is_number_integer()) wrong_type("seed", "an integer", *sv);
    s.seed = sv->is_number_unsigned() ? sv->get<uint64_t>() : static_cast<uint64_t>(sv->get<int64_t>());
  }
  s.top_logprobs = r.logprobs ? r.top_logprobs : 0;
  parse_stop(j, r);
  if (const json* ids = field(j, "stop_token_ids")) {
    if (!ids->is_array()) wrong_type("stop_token_ids", "an array of token ids", *ids);
    parse_token_ids(*ids, "stop_token_ids", r.params.stop_token_ids);
  }
  r.params.ignore_eos = get_bool(j, "ignore_eos").value_or(false);
  r.stream = get_bool(j, "stream").value_or(false);
  if (const json* so = field(j, "stream_options")) {
    if (!so->is_object()) wrong_type("stream_options", "an object", *so);
    r.include_usage = get_bool(*so, "include_usage").value_or(false);
  }
  r.return_token_ids = get_bool(j, "return_token_ids").value_or(false);
  if (const json* u = field(j, "user"); u != nullptr && !u->is_string()) wrong_type("user", "a string", *u);
  reject_unsupported(j, endpoint);
  return r;
}

void finalize_request(OpenAIRequest& req, const ModelLimits& limits) {
  const char* prompt_field = req.endpoint == Endpoint::Chat ? "messages" : "prompt";
  const int64_t n = static_cast<int64_t>(req.prompt_tokens.size());
  if (n == 0) throw invalid_request(prompt_field, "the prompt is empty (no tokens)");
  for (int32_t t : req.prompt_tokens)
    if (t < 0 || t >= limits.vocab_size)
      throw invalid_request(prompt_field, "token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                              std::to_string(limits.vocab_size) + ")");
  for (int32_t t : req.params.stop_token_ids)
    if (t < 0 || t >= limits.vocab_size)
      throw invalid_request("stop_token_ids", "token id " + std::to_string(t) + " is outside the vocabulary [0, " +
                                                  std::to_string(limits.vocab_size) + ")");
  const int64_t context = std::min(limits.context_length, limits.kv_capacity_tokens);
  if (n >= context && !(req.max_tokens && *req.max_tokens == 0 && n <= context))
    throw invalid_request(prompt_field,
                          "this model's maximum context length is " + std::to_string(context) +
                              " tokens, but the prompt has " + std::to_string(n) + " tokens",
                          "context_length_exceeded");
  int64_t max_tokens;
  if (req.max_tokens) {
    max_tokens = *req.max_tokens;
  } else {
    max_tokens = req.endpoint == Endpoint::Chat ? context - n : std::min<int64_t>(16, context - n);
  }
  if (n + max_tokens > context)
    throw invalid_request("max_tokens",
                          "this model's maximum context length is " + std::to_string(context) + " tokens, but " +
                              std::to_string(n + max_tokens) + " tokens were requested (" + std::to_string(n) +
                              " in the prompt, " + std::to_string(max_tokens) + " for the completion)",
                          "context_length_exceeded");
  req.params.max_tokens = static_cast<int>(max_tokens);
  SamplingParams& s = req.params.sampling;
  const GenerationDefaults& d = limits.defaults;
  if (!req.sampling_set.temperature && d.temperature) s.temperature = *d.temperature;
  if (!req.sampling_set.top_k && d.top_k) s.top_k = *d.top_k;
  if (!req.sampling_set.top_p && d.top_p) s.top_p = *d.top_p;
  if (!req.sampling_set.min_p && d.min_p) s.min_p = *d.min_p;
  req.params.prompt_logprobs = req.endpoint == Endpoint::Completions && req.echo && req.logprobs;
  try {
    req.params.validate();
  } catch (const std::exception& e) {
    throw invalid_request("", e.what());
  }
}

}  // namespace verbatim::server

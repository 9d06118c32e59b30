#include "server/responses.h"

#include <cmath>

namespace verbatim::server {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A logprob as JSON: a number, or null where it is not finite (JSON has no infinities).
json lp_json(float v) {
  return std::isfinite(v) ? json(static_cast<double>(v)) : json(nullptr);
}

size_t utf8_sequence_length(const std::string& s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0)
    n = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    n = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    n = 4, min = 0x10000;
  else
    return 0;
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

std::string sanitize_utf8(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(bytes, i, n);
      i += n;
    }
  }
  return out;
}

const char* openai_finish_reason(FinishReason r) {
  switch (r) {
    case FinishReason::Stop:
      return "stop";
    case FinishReason::Length:
      return "length";
    case FinishReason::Cancelled:
      return "abort";
    case FinishReason::None:
      break;
  }
  return "stop";
}

std::string sse(const json& j) {
  return "data: " + dump(j) + "\n\n";
}

ResponseBuilder::ResponseBuilder(const OpenAIRequest& req, const Tokenizer& tok, ResponseMeta meta)
    : req_(req), tok_(tok), meta_(std::move(meta)) {}

std::string ResponseBuilder::token_string(int32_t id) const {
  if (id < 0 || id >= tok_.vocab_size()) return "";
  return sanitize_utf8(tok_.token_bytes(id));
}

ResponseBuilder::Record ResponseBuilder::record(const TokenEvent& ev) {
  Record r{ev.token, ev.logprob, ev.top, echo_len_ + text_len_};
  text_len_ += ev.text.size();
  return r;
}

void ResponseBuilder::add(const TokenEvent& ev) {
  if (ev.token >= 0) {
    records_.push_back(record(ev));
  } else {
    text_len_ += ev.text.size();
  }
}

json ResponseBuilder::envelope(const char* object) const {
  return {{"id", meta_.id},
          {"object", object},
          {"created", meta_.created},
          {"model", meta_.model},
          {"system_fingerprint", meta_.fingerprint}};
}

std::string ResponseBuilder::prompt_text() const {
  return req_.prompt_is_tokens ? tok_.decode(req_.prompt_tokens) : req_.prompt;
}

json ResponseBuilder::completion_logprobs(const std::vector<Record>& recs,
                                          const std::vector<float>* prompt_logprobs) const {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  if (prompt_logprobs != nullptr) {  // echo: the prompt's tokens first; the first has no logprob
    const std::vector<int32_t>& prompt = req_.prompt_tokens;
    size_t off = 0;
    for (size_t i = 0; i < prompt.size(); ++i) {
      const std::string s = token_string(prompt[i]);
      tokens.push_back(s);
      const float lp = i < prompt_logprobs->size() ? (*prompt_logprobs)[i] : NAN;
      lps.push_back(i == 0 ? json(nullptr) : lp_json(lp));
      tops.push_back(i == 0 ? json(nullptr) : json{{s, lp_json(lp)}});
      offsets.push_back(std::min(off, echo_len_));
      off += tok_.token_bytes(prompt[i]).size();
    }
  }
  for (const Record& r : recs) {
    tokens.push_back(token_string(r.token));
    lps.push_back(lp_json(r.logprob));
    json top = json::object();
    for (const auto& [id, lp] : r.top) top[token_string(id)] = lp_json(lp);
    tops.push_back(top);
    offsets.push_back(r.text_offset);
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json ResponseBuilder::chat_logprobs(const std::vector<Record>& recs) const {
  auto entry = [&](int32_t id, float lp) {
    const std::string raw = id >= 0 && id < tok_.vocab_size() ? tok_.token_bytes(id) : std::string();
    json bytes = json::array();
    for (unsigned char c : raw) bytes.push_back(static_cast<int>(c));
    return json{{"token", sanitize_utf8(raw)}, {"logprob", lp_json(lp)}, {"bytes", bytes}};
  };
  json content = json::array();
  for (const Record& r : recs) {
    json e = entry(r.token, r.logprob);
    json top = json::array();
    for (const auto& [id, lp] : r.top) top.push_back(entry(id, lp));
    e["top_logprobs"] = top;
    content.push_back(e);
  }
  return {{"content", content}, {"refusal", nullptr}};
}

json ResponseBuilder::usage(const RequestOutput& out) const {
  const size_t p = out.prompt.size(), c = out.tokens.size();
  return {{"prompt_tokens", p}, {"completion_tokens", c}, {"total_tokens", p + c}};
}

std::string ResponseBuilder::stream_start(const RequestOutput* out) {
  started_ = true;
  if (req_.endpoint == Endpoint::Chat) {
    json j = envelope("chat.completion.chunk");
    json choice = {{"index", 0},
                   {"delta", {{"role", "assistant"}, {"content", ""}}},
                   {"logprobs", nullptr},
                   {"finish_reason", nullptr}};
    if (req_.return_token_ids) choice["prompt_token_ids"] = req_.prompt_tokens;
    j["choices"] = json::array({choice});
    if (req_.include_usage) j["usage"] = nullptr;
    return sse(j);
  }
  if (!req_.echo) return "";
  const std::string text = prompt_text();
  echo_len_ = text.size();
  json j = envelope("text_completion");
  json choice = {{"index", 0}, {"text", text}, {"finish_reason", nullptr}};
  choice["logprobs"] = req_.logprobs && out != nullptr ? completion_logprobs({}, &out->prompt_logprobs) : json(nullptr);
  if (req_.return_token_ids) choice["prompt_token_ids"] = req_.prompt_tokens;
  j["choices"] = json::array({choice});
  if (req_.include_usage) j["usage"] = nullptr;
  return sse(j);
}

std::string ResponseBuilder::stream_event(const TokenEvent& ev) {
  std::vector<Record> recs;
  if (ev.token >= 0) {
    recs.push_back(record(ev));
    records_.push_back(recs.back());
  } else {
    text_len_ += ev.text.size();
  }
  if (recs.empty() && ev.text.empty() && !ev.finished) return "";
  const bool chat = req_.endpoint == Endpoint::Chat;
  json j = envelope(chat ? "chat.completion.chunk" : "text_completion");
  json choice = {{"index", 0}};
  if (chat) {
    choice["delta"] = recs.empty() && ev.text.empty() ? json::object() : json{{"content", ev.text}};
    choice["logprobs"] = req_.logprobs && !recs.empty() ? chat_logprobs(recs) : json(nullptr);
  } else {
    choice["text"] = ev.text;
    choice["logprobs"] = req_.logprobs ? completion_logprobs(recs, nullptr) : json(nullptr);
  }
  if (req_.return_token_ids) {
    json ids = json::array();
    for (const Record& r : recs) ids.push_back(r.token);
    choice["token_ids"] = ids;
  }
  choice["finish_reason"] = ev.finished ? json(openai_finish_reason(ev.finish_reason)) : json(nullptr);
  j["choices"] = json::array({choice});
  if (req_.include_usage) j["usage"] = nullptr;
  return sse(j);
}

std::string ResponseBuilder::stream_end(const RequestOutput& out) {
  std::string s;
  if (req_.include_usage) {
    json j = envelope(req_.endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion");
    j["choices"] = json::array();
    j["usage"] = usage(out);
    s += sse(j);
  }
  s += "data: [DONE]\n\n";
  return s;
}

json ResponseBuilder::response(const RequestOutput& out) const {
  const bool chat = req_.endpoint == Endpoint::Chat;
  json j = envelope(chat ? "chat.completion" : "text_completion");
  json choice = {{"index", 0}};
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", out.text}, {"refusal", nullptr}};
    choice["logprobs"] = req_.logprobs ? chat_logprobs(records_) : json(nullptr);
  } else {
    const std::string prefix = req_.echo ? prompt_text() : std::string();
    choice["text"] = prefix + out.text;
    if (req_.logprobs) {
      // Offsets were counted from the start of the completion; echo puts the prompt text before it.
      std::vector<Record> recs = records_;
      for (Record& r : recs) r.text_offset += prefix.size();
      ResponseBuilder tmp(req_, tok_, meta_);
      tmp.echo_len_ = prefix.size();
      choice["logprobs"] = tmp.completion_logprobs(recs, req_.echo ? &out.prompt_logprobs : nullptr);
    } else {
      choice["logprobs"] = nullptr;
    }
  }
  if (req_.return_token_ids) {
    choice["prompt_token_ids"] = out.prompt;
    choice["token_ids"] = out.tokens;
  }
  choice["finish_reason"] = openai_finish_reason(out.finish_reason);
  j["choices"] = json::array({choice});
  j["usage"] = usage(out);
  return j;
}

}  // namespace verbatim::server

// Response documents of /v1/completions and /v1/chat/completions, whole or as SSE chunks. Both forms are built from
// the same engine events (one TokenEvent per sampled token), so a streamed response carries exactly the text, token
// ids and logprobs of the non-streamed one.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace verbatim::server {

struct ResponseMeta {
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;
  std::string model;
  std::string fingerprint;
};

// "stop", "length", or "abort" (cancelled: the server shut down before the request finished).
const char* openai_finish_reason(FinishReason r);

// Valid UTF-8 of arbitrary bytes (invalid sequences become U+FFFD), for token strings.
std::string sanitize_utf8(const std::string& bytes);

class ResponseBuilder {
 public:
  ResponseBuilder(const OpenAIRequest& req, const Tokenizer& tok, ResponseMeta meta);

  // Streaming. Each returns complete SSE frames ("data: {...}\n\n"), possibly none.
  // Chat: the role chunk. Completions with echo: the prompt chunk (with its logprobs when asked: the caller then waits
  // for the output, which holds them, and passes it; otherwise out may be null).
  std::string stream_start(const RequestOutput* out);
  std::string stream_event(const TokenEvent& ev);    // one engine event
  std::string stream_end(const RequestOutput& out);  // the usage chunk (when asked) and "data: [DONE]"

  // The whole response. Every event must have been given to add() (or stream_event()) first.
  void add(const TokenEvent& ev);
  nlohmann::json response(const RequestOutput& out) const;

  const ResponseMeta& meta() const { return meta_; }

 private:
  struct Record {
    int32_t token;
    float logprob;
    std::vector<std::pair<int32_t, float>> top;
    size_t text_offset;
  };
  Record record(const TokenEvent& ev);
  nlohmann::json envelope(const char* object) const;
  nlohmann::json completion_logprobs(const std::vector<Record>& recs, const std::vector<float>* prompt_logprobs) const;
  nlohmann::json chat_logprobs(const std::vector<Record>& recs) const;
  nlohmann::json usage(const RequestOutput& out) const;
  std::string prompt_text() const;
  std::string token_string(int32_t id) const;

  const OpenAIRequest& req_;
  const Tokenizer& tok_;
  ResponseMeta meta_;
  std::vector<Record> records_;
  size_t text_len_ = 0;  // bytes of completion text so far
  size_t echo_len_ = 0;  // bytes of echoed prompt text before the completion
  bool started_ = false;
};

// "data: <json>\n\n"
std::string sse(const nlohmann::json& j);

}  // namespace verbatim::server

// Parsing and validation of OpenAI request bodies (POST /v1/completions, /v1/chat/completions). The body is
// untrusted: every field is type-checked and range-checked, and every problem becomes an ApiError (400, naming the
// field) — never a crash. Unknown fields are ignored, as OpenAI-compatible servers do.
//
// What depends on the model (tokenizing, the context length, default max_tokens, generation_config.json defaults)
// is done later by finalize_request().
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/request.h"
#include "model/config.h"
#include "tokenizer/chat_template.h"

namespace verbatim::server {

enum class Endpoint { Completions, Chat };
const char* endpoint_path(Endpoint e);  // "/v1/completions", "/v1/chat/completions"

struct OpenAIRequest {
  Endpoint endpoint = Endpoint::Completions;
  nlohmann::json body;  // the parsed body (for the audit log)
  std::string model;    // "" when absent: the served model

  // /v1/completions
  bool prompt_is_tokens = false;
  std::string prompt;                  // text prompt
  std::vector<int32_t> prompt_tokens;  // token-id prompt (or, after finalize_request, the tokenized prompt)
  bool echo = false;

  // /v1/chat/completions
  std::vector<ChatMessage> messages;  // role (system, developer, user, assistant, tool), content (text parts joined)
  bool add_generation_prompt = true;
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();  // extra template variables

  std::optional<int> max_tokens;  // unset: the endpoint's default (finalize_request)
  RequestParams params;           // sampling, stop strings, stop_token_ids, ignore_eos
  struct {
    bool temperature = false, top_k = false, top_p = false, min_p = false;
  } sampling_set;  // which sampling fields the request gave (the rest take generation_config.json's defaults)

  bool logprobs = false;  // completions: "logprobs" is a number; chat: "logprobs": true
  int top_logprobs = 0;   // alternatives per token
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage
  bool return_token_ids = false;  // extension: token ids in each choice (and prompt_token_ids)
};

// Parses a request body. Throws ApiError (400) for malformed JSON, invalid UTF-8, nesting deeper than 64, wrong
// types, missing fields, values out of range and unsupported features (n > 1, penalties, tools, ...).
OpenAIRequest parse_openai_request(Endpoint endpoint, std::string_view body);

struct ModelLimits {
  int context_length = 0;  // the model's, or less (serve --max-model-len)
  int vocab_size = 0;
  int kv_capacity_tokens = 0;  // what the KV cache holds for one sequence
  GenerationDefaults defaults;
};

// After the prompt is tokenized (into req.prompt_tokens): checks token ids and lengths against the model, resolves
// max_tokens (completions default 16; chat default: the rest of the context) and the sampling defaults, and fills
// req.params. Throws ApiError: 400 "context_length_exceeded" saying the lengths, or naming the bad field.
void finalize_request(OpenAIRequest& req, const ModelLimits& limits);

}  // namespace verbatim::server

// libFuzzer target: bytes -> an OpenAI request body, parsed as both endpoints (parse_openai_request) and, when it
// parses, finalized against a small model's limits (finalize_request). ApiError is the only clean rejection;
// anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstdint>
#include <string_view>

#include "server/api_error.h"
#include "server/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  verbatim::server::ModelLimits limits;
  limits.context_length = 512;
  limits.vocab_size = 512;
  limits.kv_capacity_tokens = 4096;
  for (auto endpoint : {verbatim::server::Endpoint::Completions, verbatim::server::Endpoint::Chat}) {
    try {
      verbatim::server::OpenAIRequest r = verbatim::server::parse_openai_request(endpoint, body);
      if (!r.prompt_is_tokens) r.prompt_tokens.assign(r.prompt.size() % 600 + (r.prompt.empty() ? 0 : 1), 1);
      verbatim::server::finalize_request(r, limits);
    } catch (const verbatim::server::ApiError&) {
    }
  }
  return 0;
}

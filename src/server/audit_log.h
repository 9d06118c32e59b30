// --audit-log FILE: one JSON line per finished request (appended, flushed per line), enough to re-run it and
// compare bit for bit (`verbatim replay`):
//   {"id", "created", "endpoint", "request": <the request body>, "system_fingerprint", "fingerprint": {parts},
//    "prompt_token_ids", "token_ids", "logprobs", "logprob_bits" (IEEE-754 bits of each float logprob),
//    ["top_logprobs": [[[id, bits], ...], ...]], ["prompt_logprob_bits"], "text", "finish_reason"}
// Requests cancelled before they finished (client gone, shutdown) are not logged: their output was cut short.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/request.h"
#include "server/fingerprint.h"
#include "server/openai_request.h"

namespace verbatim::server {

uint32_t float_bits(float f);
float float_from_bits(uint32_t b);

// The audit record of a finished request.
nlohmann::json audit_entry(const OpenAIRequest& req, const RequestOutput& out, const Fingerprint& fp,
                           const std::string& id, int64_t created);

class AuditLog {
 public:
  explicit AuditLog(const std::string& path);  // opens for appending; throws Error naming the path
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void append(const nlohmann::json& entry);  // thread-safe; one line, flushed

 private:
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace verbatim::server

#include "server/audit_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>

#include "util/error.h"

namespace verbatim::server {

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

float float_from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

nlohmann::json audit_entry(const OpenAIRequest& req, const RequestOutput& out, const Fingerprint& fp,
                           const std::string& id, int64_t created) {
  using nlohmann::json;
  json e;
  e["id"] = id;
  e["created"] = created;
  e["endpoint"] = endpoint_path(req.endpoint);
  e["request"] = req.body;
  e["system_fingerprint"] = fp.value;
  e["fingerprint"] = fp.to_json();
  e["prompt_token_ids"] = out.prompt;
  e["token_ids"] = out.tokens;
  json lps = json::array(), bits = json::array();
  for (float lp : out.logprobs) {
    lps.push_back(std::isfinite(lp) ? json(static_cast<double>(lp)) : json(nullptr));
    bits.push_back(float_bits(lp));
  }
  e["logprobs"] = lps;
  e["logprob_bits"] = bits;
  if (!out.top_logprobs.empty()) {
    json top = json::array();
    for (const auto& alts : out.top_logprobs) {
      json a = json::array();
      for (const auto& [tid, lp] : alts) a.push_back(json::array({tid, float_bits(lp)}));
      top.push_back(a);
    }
    e["top_logprobs"] = top;
  }
  if (!out.prompt_logprobs.empty()) {
    json pb = json::array();
    for (float lp : out.prompt_logprobs) pb.push_back(float_bits(lp));
    e["prompt_logprob_bits"] = pb;
  }
  e["text"] = out.text;
  e["finish_reason"] = finish_reason_name(out.finish_reason);
  return e;
}

AuditLog::AuditLog(const std::string& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) fail(path, std::string("cannot open the audit log for appending: ") + std::strerror(errno));
}

AuditLog::~AuditLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void AuditLog::append(const nlohmann::json& entry) {
  const std::string line = entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    std::fprintf(stderr, "verbatim serve: %s: writing the audit log failed: %s\n", path_.c_str(), std::strerror(errno));
}

}  // namespace verbatim::server

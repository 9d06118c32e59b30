// `verbatim replay`: re-runs every entry of an audit log (audit_log.h) and compares the outputs bit for bit: token
// ids, logprobs (IEEE-754 bits), top logprobs, prompt logprobs, text and finish reason. Either in-process (a model
// loaded here, all entries submitted to one engine together: a batch unlike the one that produced them) or over HTTP
// against a running server. A fingerprint that differs from the log's is reported, naming the parts that differ.
#pragma once

#include <cstdio>
#include <string>

#include "engine/engine.h"

namespace verbatim::server {

struct ReplayOptions {
  std::string log_path;
  std::string url;    // http://host:port, or
  std::string model;  // a model to load here
  std::string tokenizer;
  EngineOptions engine;  // for --model
};

struct ReplaySummary {
  int entries = 0;
  int identical = 0;
  int different = 0;
  int failed = 0;  // entries that could not be re-run (rejected, unreachable)
  bool fingerprint_mismatch = false;
  bool ok() const { return entries > 0 && different == 0 && failed == 0 && !fingerprint_mismatch; }
};

// Reports one line per entry and a summary to `out`. Throws Error for an unreadable log or model.
ReplaySummary replay(const ReplayOptions& opt, std::FILE* out);

}  // namespace verbatim::server

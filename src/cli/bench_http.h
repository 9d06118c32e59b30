// `verbatim bench --url`: the benchmark's requests sent to any OpenAI-compatible server through POST
// /v1/chat/completions with "stream": true, "max_tokens" and "ignore_eos": true (vLLM's extension, which verbatim
// serve accepts too), one thread per concurrent connection (cpp-httplib's client).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app/bench_stats.h"

namespace verbatim::cli {

struct HttpBenchOptions {
  std::string url;           // "http://host:port" (a path prefix before /v1 is allowed: "http://host:port/api")
  std::string api_key;       // sent as "Authorization: Bearer ..." when set
  std::string model;         // the request's "model"; empty: the first id of GET /v1/models, else "default"
  std::string prompt;        // the user message
  std::vector<int> lengths;  // max_tokens per request
  int concurrency = 64;
  double timeout_seconds = 600.0;  // per request
};

// Runs every request; records[i] is request i. progress(done, total) is called from the calling thread about ten
// times a second. Throws Error for a malformed URL; failed requests are recorded, not thrown.
std::vector<app::BenchRecord> run_bench_http(const HttpBenchOptions& opt, double* total_seconds,
                                             std::string* model_used,
                                             const std::function<void(int, int)>& progress = {});

// The "data:" payloads of complete server-sent events at the front of `buffer`, which keeps the unfinished rest.
std::vector<std::string> take_sse_events(std::string& buffer);

}  // namespace verbatim::cli

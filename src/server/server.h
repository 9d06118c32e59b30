// `verbatim serve`: the OpenAI-compatible HTTP server. HTTP handler threads (cpp-httplib's pool) parse and validate
// requests, tokenize them and hand them to the engine loop (engine_loop.h); each handler then streams its own
// request's tokens back (SSE) or answers once it finished. A client that goes away cancels its request.
//
// Admission is bounded: up to max_running + max_queue requests are in flight (running or queued in the engine);
// beyond that a request gets 429. shutdown() drains: new requests get 503, in-flight ones finish (cancelled after
// the drain timeout), then run() returns.
#pragma once

#include <memory>
#include <string>

#include "engine/engine.h"
#include "server/fingerprint.h"
#include "server/served_model.h"

namespace verbatim::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;        // 0: any free port (bind() says which)
  std::string api_key;    // non-empty: /v1 routes need "Authorization: Bearer <key>"
  std::string audit_log;  // non-empty: append one JSON line per finished request
  int max_queue = 512;    // requests waiting beyond the running batch before 429
  size_t max_body_bytes = size_t{8} << 20;
  int http_threads = 0;  // 0: max_running + max_queue + 16
  double drain_timeout_s = 30;
  int keep_alive_timeout_s = 5;
  int max_model_len = 0;  // > 0: the most tokens (prompt + completion) a request may use, below the model's context

  void validate() const;  // throws Error naming the option
};

class Server {
 public:
  // The model must outlive the server. Builds the engine, computes the fingerprint, starts the engine loop.
  Server(const ServedModel& model, const EngineOptions& engine, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int bind();  // binds host:port; returns the port. Throws Error when it cannot.
  void run();  // serves until shutdown() completes
  // Thread-safe (call it from a signal-handling thread): stop admitting (503), let in-flight requests finish for up
  // to the drain timeout, cancel the rest, stop the listener. Returns when the server stopped accepting.
  void shutdown();

  const Fingerprint& fingerprint() const;
  std::string description() const;  // one line for the log: model, backend, mode, fingerprint

  struct Impl;  // opaque (server_impl.h): the handlers' shared state

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace verbatim::server

// Internal to the server: the state the HTTP handlers share. Not part of the server's interface.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "server/audit_log.h"
#include "server/engine_loop.h"
#include "server/fingerprint.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/served_model.h"
#include "server/server.h"

namespace verbatim::server {

// cpp-httplib's server with a deeper accept queue: the library listens with a backlog of 5, which drops (or, with
// SYN cookies, resets) connections when hundreds of clients connect at once. listen() again adjusts it on Linux.
class HttpServer : public httplib::Server {
 public:
  bool deepen_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};

// Holds one admission slot while it lives.
class Ticket {
 public:
  explicit Ticket(struct Server::Impl* impl) : impl_(impl) {}
  ~Ticket();
  Ticket(const Ticket&) = delete;
  Ticket& operator=(const Ticket&) = delete;

 private:
  struct Server::Impl* impl_;
};

struct Server::Impl {
  const ServedModel& model;
  ServerOptions opt;
  std::unique_ptr<Engine> engine;
  Fingerprint fp;
  ModelLimits limits;
  Metrics metrics;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<EngineLoop> loop;
  HttpServer http;
  int64_t started_at = 0;
  uint64_t id_seed = 0;
  std::atomic<uint64_t> next_id{0};

  int admit_limit = 0;
  std::atomic<bool> draining{false};
  std::mutex flight_mu;
  std::condition_variable flight_cv;
  int in_flight = 0;                                                       // guarded by flight_mu
  bool run_started = false, run_returned = false, stop_requested = false;  // guarded by flight_mu

  Impl(const ServedModel& m, const EngineOptions& eo, const ServerOptions& so);

  // Throws ApiError 429 when the queue is full, 503 while draining.
  std::unique_ptr<Ticket> admit();
  void release();
  int flight() {
    std::lock_guard<std::mutex> lock(flight_mu);
    return in_flight;
  }
  std::string new_id(const char* prefix);

  void routes();
  void handle_generate(Endpoint endpoint, const httplib::Request& hreq, httplib::Response& res);
};

}  // namespace verbatim::server

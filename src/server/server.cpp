#include "server/server.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "server/api_error.h"
#include "server/hash.h"
#include "server/openapi.h"
#include "server/server_impl.h"
#include "util/error.h"

namespace verbatim::server {
namespace {

using nlohmann::json;

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(e.body(), "application/json");
}

// The metrics label of a request path: the known routes, else "other" (never the raw, unbounded path).
// The methods each route answers (a known route asked with another method gets 405).
const char* allowed_methods(const std::string& path) {
  if (path == "/v1/completions" || path == "/v1/chat/completions") return "POST";
  if (path == "/health" || path == "/metrics" || path == "/openapi.json" || path == "/v1/models" ||
      path.rfind("/v1/models/", 0) == 0)
    return "GET";
  return nullptr;
}

std::string route_label(const std::string& path) {
  for (const char* p :
       {"/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics", "/openapi.json"})
    if (path == p) return p;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

}  // namespace

void ServerOptions::validate() const {
  if (port < 0 || port > 65535) fail("--port", "must be in [0, 65535], got " + std::to_string(port));
  if (max_queue < 0) fail("--max-queue", "must be >= 0");
  if (max_body_bytes == 0) fail("--max-body-bytes", "must be positive");
  if (http_threads < 0) fail("--http-threads", "must be >= 0");
  if (!(drain_timeout_s >= 0)) fail("--drain-timeout", "must be >= 0");
  if (keep_alive_timeout_s < 0) fail("--keep-alive-timeout", "must be >= 0");
  if (max_model_len < 0) fail("--max-model-len", "must be >= 0");
}

Ticket::~Ticket() {
  impl_->release();
}

Server::Impl::Impl(const ServedModel& m, const EngineOptions& eo, const ServerOptions& so) : model(m), opt(so) {
  opt.validate();
  engine = std::make_unique<Engine>(*m.model, m.tokenizer.get(), eo);
  fp = compute_fingerprint(*m.model, m.tokenizer_path, *engine);
  limits = model_limits(m, *engine, opt.max_model_len);
  if (!opt.audit_log.empty()) audit = std::make_unique<AuditLog>(opt.audit_log);
  admit_limit = eo.max_running + opt.max_queue;
  started_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  id_seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
            static_cast<uint64_t>(started_at);
  loop = std::make_unique<EngineLoop>(*engine, [this](double s) { metrics.observe_step(s); });
}

std::unique_ptr<Ticket> Server::Impl::admit() {
  std::lock_guard<std::mutex> lock(flight_mu);
  if (draining.load()) {
    metrics.count_rejected("draining");
    throw ApiError(503, "service_unavailable", "", "draining", "the server is shutting down; retry elsewhere");
  }
  if (in_flight >= admit_limit) {
    metrics.count_rejected("queue_full");
    throw ApiError(429, "rate_limit_exceeded", "", "queue_full",
                   "the server is at capacity (" + std::to_string(in_flight) +
                       " requests running or queued, the limit is " + std::to_string(admit_limit) + "); retry later");
  }
  ++in_flight;
  return std::make_unique<Ticket>(this);
}

void Server::Impl::release() {
  {
    std::lock_guard<std::mutex> lock(flight_mu);
    --in_flight;
  }
  flight_cv.notify_all();
}

std::string Server::Impl::new_id(const char* prefix) {
  const uint64_t n = next_id.fetch_add(1);
  return std::string(prefix) + hex64(hash64(std::to_string(id_seed) + ":" + std::to_string(n)));
}

void Server::Impl::routes() {
  http.set_payload_max_length(opt.max_body_bytes);
  http.set_keep_alive_timeout(opt.keep_alive_timeout_s);
  const int threads = opt.http_threads > 0 ? opt.http_threads : admit_limit + 16;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opt.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + opt.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401, "invalid_request_error", "", "invalid_api_key",
                             "a valid API key is required: send the header 'Authorization: Bearer <key>'"));
    return httplib::Server::HandlerResponse::Handled;
  });
  // Statuses that httplib sets itself (unknown route, body too large, malformed HTTP) get an OpenAI error body.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message, code;
        // httplib answers 400 to methods it has no handlers for (TRACE, ...) and 404 to a known path asked with
        // another method: say 405 for a known path, 404 for an unknown one.
        const char* allowed = allowed_methods(req.path);
        const bool other_method = req.method != "GET" && req.method != "HEAD" && req.method != "POST" &&
                                  req.method != "PUT" && req.method != "DELETE" && req.method != "OPTIONS" &&
                                  req.method != "PATCH";
        if ((res.status == 404 || (res.status == 400 && other_method)) && allowed != nullptr && req.method != allowed &&
            !(req.method == "HEAD" && std::string(allowed) == "GET")) {
          res.status = 405;
          res.set_header("Allow", allowed);
        } else if (res.status == 400 && other_method) {
          res.status = 404;
        }
        switch (res.status) {
          case 405:
            message = "method " + req.method + " is not allowed on " + req.path + " (allowed: " + allowed + ")";
            code = "method_not_allowed";
            break;
          case 404:
            message = "no route " + req.method + " " + req.path;
            code = "not_found";
            break;
          case 413:
            message = req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0
                          ? "the body is sent as a form (Content-Type: application/x-www-form-urlencoded), whose limit "
                            "is 8192 bytes: send it as Content-Type: application/json"
                          : "the request body exceeds the limit of " + std::to_string(opt.max_body_bytes) + " bytes";
            code = "request_too_large";
            break;
          default:
            message = "the request could not be processed (HTTP " + std::to_string(res.status) + ")";
            code = "bad_request";
        }
        res.set_content(error_body(res.status, message, "invalid_request_error", code), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, "server_error", "", "internal_error", "internal error: " + what));
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics.count_request(route_label(req.path), res.status);
  });

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool d = draining.load();
    send_json(res, d ? 503 : 200, {{"status", d ? "draining" : "ok"}});
  });
  auto model_json = [this] {
    return json{{"id", model.name},
                {"object", "model"},
                {"created", started_at},
                {"owned_by", "verbatim"},
                {"max_model_len", limits.context_length},
                {"system_fingerprint", fp.value},
                {"fingerprint", fp.to_json()}};
  };
  http.Get("/v1/models", [model_json](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model_json()})}});
  });
  http.Get(R"(/v1/models/(.+))", [this, model_json](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] == model.name) return send_json(res, 200, model_json());
    send_error(res, ApiError(404, "invalid_request_error", "model", "model_not_found",
                             "the model '" + std::string(req.matches[1]) + "' does not exist"));
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    ServingGauges g;
    g.engine = loop->stats().engine;
    g.in_flight = flight();
    g.draining = draining.load();
    res.set_content(metrics.render(g), "text/plain; version=0.0.4");
  });
  const std::string openapi =
      openapi_document({.model_name = model.name,
                        .context_length = std::min(limits.context_length, limits.kv_capacity_tokens),
                        .vocab_size = limits.vocab_size,
                        .api_key = !opt.api_key.empty()})
          .dump(2);
  http.Get("/openapi.json", [openapi](const httplib::Request&, httplib::Response& res) {
    res.set_content(openapi, "application/json");
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_generate(Endpoint::Completions, req, res);
  });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& req, httplib::Response& res) { handle_generate(Endpoint::Chat, req, res); });
}

Server::Server(const ServedModel& model, const EngineOptions& engine, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(model, engine, options)) {
  impl_->routes();
}

Server::~Server() {
  impl_->http.stop();
  impl_->loop->stop();
}

int Server::bind() {
  Impl& s = *impl_;
  int port = s.opt.port;
  if (port == 0) {
    port = s.http.bind_to_any_port(s.opt.host);
    if (port < 0) fail("--host", "cannot bind to " + s.opt.host + " on any port");
  } else if (!s.http.bind_to_port(s.opt.host, port)) {
    fail("--port", "cannot bind to " + s.opt.host + ":" + std::to_string(port) + " (in use, or not allowed)");
  }
  if (!s.http.deepen_backlog(4096)) std::fprintf(stderr, "verbatim serve: could not deepen the accept queue\n");
  return port;
}

void Server::run() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.flight_mu);
    if (s.stop_requested) return;
    s.run_started = true;
  }
  s.http.listen_after_bind();
  s.loop->stop();
  {
    std::lock_guard<std::mutex> lock(s.flight_mu);
    s.run_returned = true;
  }
  s.flight_cv.notify_all();
}

void Server::shutdown() {
  Impl& s = *impl_;
  s.draining.store(true);
  {
    std::unique_lock<std::mutex> lock(s.flight_mu);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                               std::chrono::duration<double>(s.opt.drain_timeout_s));
    if (!s.flight_cv.wait_until(lock, deadline, [&] { return s.in_flight == 0; })) {
      std::fprintf(stderr, "verbatim serve: drain timeout: cancelling %d requests\n", s.in_flight);
      lock.unlock();
      s.loop->cancel_all();
      lock.lock();
      s.flight_cv.wait_for(lock, std::chrono::seconds(10), [&] { return s.in_flight == 0; });
    }
  }
  // stop() only takes effect once the listener runs: repeat it until run() returned (or was never entered).
  std::unique_lock<std::mutex> lock(s.flight_mu);
  s.stop_requested = true;
  while (s.run_started && !s.run_returned) {
    lock.unlock();
    s.http.stop();
    lock.lock();
    s.flight_cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return s.run_returned; });
  }
}

const Fingerprint& Server::fingerprint() const {
  return impl_->fp;
}

std::string Server::description() const {
  const Impl& s = *impl_;
  return "model " + s.model.name + " (" + std::to_string(s.limits.context_length) + " tokens of context), backend " +
         s.engine->backend_name() + ", mode " + mode_name(s.engine->options().mode) + ", " +
         std::to_string(s.limits.kv_capacity_tokens / s.engine->options().block_size) + " KV blocks, chat " +
         (s.model.chat ? s.model.chat_source : std::string("none")) + ", fingerprint " + s.fp.value;
}

}  // namespace verbatim::server

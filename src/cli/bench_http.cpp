#include "cli/bench_http.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "util/error.h"

namespace verbatim::cli {

namespace {

struct Url {
  std::string origin;  // scheme://host:port
  std::string prefix;  // path before /v1 ("" or "/api")
};

Url parse_url(const std::string& url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || url.compare(0, scheme_end, "http") != 0)
    fail("--url", "expected http://host:port, got \"" + url + "\"");
  const size_t path = url.find('/', scheme_end + 3);
  Url u;
  u.origin = url.substr(0, path);
  if (u.origin.size() <= scheme_end + 3) fail("--url", "no host in \"" + url + "\"");
  if (path != std::string::npos) u.prefix = url.substr(path);
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  if (u.prefix.size() >= 3 && u.prefix.compare(u.prefix.size() - 3, 3, "/v1") == 0)
    u.prefix.resize(u.prefix.size() - 3);
  return u;
}

void configure(httplib::Client& c, const HttpBenchOptions& opt) {
  const auto t = std::chrono::duration<double>(opt.timeout_seconds);
  c.set_connection_timeout(10, 0);
  c.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(t));
  c.set_write_timeout(10, 0);
  c.set_keep_alive(true);
  if (!opt.api_key.empty()) c.set_bearer_token_auth(opt.api_key);
}

std::string first_model(const Url& u, const HttpBenchOptions& opt) {
  httplib::Client c(u.origin);
  configure(c, opt);
  auto res = c.Get(u.prefix + "/v1/models");
  if (!res || res->status != 200) return "default";
  try {
    const auto j = nlohmann::json::parse(res->body);
    if (j.contains("data") && j["data"].is_array() && !j["data"].empty() && j["data"][0].contains("id"))
      return j["data"][0]["id"].get<std::string>();
  } catch (const nlohmann::json::exception&) {
  }
  return "default";
}

}  // namespace

std::vector<std::string> take_sse_events(std::string& buffer) {
  std::vector<std::string> out;
  for (;;) {
    size_t end = buffer.find("\n\n"), sep = 2;
    const size_t crlf = buffer.find("\r\n\r\n");
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      sep = 4;
    }
    if (end == std::string::npos) break;
    const std::string event = buffer.substr(0, end);
    buffer.erase(0, end + sep);
    std::string data;
    size_t pos = 0;
    while (pos <= event.size()) {
      size_t nl = event.find('\n', pos);
      if (nl == std::string::npos) nl = event.size();
      std::string line = event.substr(pos, nl - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.rfind("data:", 0) == 0) {
        std::string v = line.substr(5);
        if (!v.empty() && v[0] == ' ') v.erase(0, 1);
        if (!data.empty()) data += '\n';
        data += v;
      }
      pos = nl + 1;
    }
    if (!data.empty()) out.push_back(std::move(data));
  }
  return out;
}

std::vector<app::BenchRecord> run_bench_http(const HttpBenchOptions& opt, double* total_seconds,
                                             std::string* model_used, const std::function<void(int, int)>& progress) {
  const Url u = parse_url(opt.url);
  if (opt.concurrency <= 0) fail("--concurrency", "must be positive");
  const std::string model = opt.model.empty() ? first_model(u, opt) : opt.model;
  if (model_used) *model_used = model;
  const int n = static_cast<int>(opt.lengths.size());
  std::vector<app::BenchRecord> records(static_cast<size_t>(n));

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto now = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  std::atomic<int> next{0}, done{0};

  auto worker = [&] {
    httplib::Client client(u.origin);
    configure(client, opt);
    for (;;) {
      const int i = next.fetch_add(1);
      if (i >= n) return;
      app::BenchRecord& rec = records[static_cast<size_t>(i)];
      rec.max_tokens = opt.lengths[static_cast<size_t>(i)];
      const nlohmann::json body = {{"model", model},
                                   {"messages", {{{"role", "user"}, {"content", opt.prompt}}}},
                                   {"max_tokens", rec.max_tokens},
                                   {"ignore_eos", true},
                                   {"temperature", 0},
                                   {"stream", true},
                                   {"stream_options", {{"include_usage", true}}}};
      httplib::Request req;
      req.method = "POST";
      req.path = u.prefix + "/v1/chat/completions";
      req.body = body.dump();
      req.set_header("Content-Type", "application/json");
      req.set_header("Accept", "text/event-stream");
      int status = 0;
      std::string buffer, error_body;
      bool saw_done = false;
      std::function<bool()> handle_events;
      req.response_handler = [&](const httplib::Response& r) {
        status = r.status;
        return true;
      };
      req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        if (status != 200) {
          if (error_body.size() < 2000) error_body.append(data, len);
          return true;
        }
        buffer.append(data, len);
        try {
          return handle_events();
        } catch (const std::exception& e) {
          rec.error = std::string("bad event: ") + e.what();
          return false;
        }
      };
      handle_events = [&]() -> bool {
        for (const std::string& ev : take_sse_events(buffer)) {
          if (ev == "[DONE]") {
            saw_done = true;
            continue;
          }
          nlohmann::json j;
          try {
            j = nlohmann::json::parse(ev);
          } catch (const nlohmann::json::exception&) {
            rec.error = "unparsable event: " + ev.substr(0, 200);
            return false;
          }
          if (j.contains("error")) {
            rec.error = "server error: " + j["error"].dump().substr(0, 300);
            return false;
          }
          if (j.contains("choices") && j["choices"].is_array()) {
            for (const auto& c : j["choices"]) {
              const auto* d = c.contains("delta") ? &c["delta"] : nullptr;
              if (d && d->contains("content") && (*d)["content"].is_string() &&
                  !(*d)["content"].get<std::string>().empty())
                rec.token_times.push_back(now());
            }
          }
          if (j.contains("usage") && j["usage"].is_object() && j["usage"].contains("completion_tokens"))
            rec.tokens_reported = j["usage"]["completion_tokens"].get<int>();
        }
        return true;
      };
      rec.submitted = now();
      httplib::Result res = client.send(req);
      const bool transport_ok = static_cast<bool>(res);
      if (!transport_ok) {
        if (rec.error.empty()) rec.error = "HTTP request failed: " + httplib::to_string(res.error());
      } else if (status != 200) {
        rec.error = "HTTP " + std::to_string(status) + ": " + error_body.substr(0, 300);
      } else if (!saw_done && rec.error.empty()) {
        rec.error = "the stream ended without [DONE]";
      } else if (rec.error.empty()) {
        rec.ok = true;
      }
      done.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  const int workers = std::min(opt.concurrency, std::max(1, n));
  for (int t = 0; t < workers; ++t) threads.emplace_back(worker);
  while (done.load() < n) {
    if (progress) progress(done.load(), n);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (std::thread& t : threads) t.join();
  *total_seconds = now();
  if (progress) progress(n, n);
  return records;
}

}  // namespace verbatim::cli

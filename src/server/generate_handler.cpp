// POST /v1/completions and /v1/chat/completions: parse, validate, tokenize, admit, submit to the engine loop, then
// answer from the request's channel — as SSE chunks while it runs (stream: true) or as one JSON document once it
// finished. Either way the body is written by a chunked content provider that polls the connection while it
// waits, so a client that disconnects cancels its request and frees its KV blocks within one poll interval.
#include <chrono>

#include "server/api_error.h"
#include "server/responses.h"
#include "server/server_impl.h"

namespace verbatim::server {
namespace {

using nlohmann::json;
constexpr std::chrono::milliseconds kPoll{50};

// One request from admission to its last byte. Destroyed with httplib's response (whatever path ended it): a
// request that did not finish is cancelled, and the admission slot is released.
struct Exchange {
  Server::Impl& server;
  OpenAIRequest req;
  std::unique_ptr<Ticket> ticket;
  std::shared_ptr<RequestChannel> channel;
  ResponseBuilder builder;
  bool finished = false;

  Exchange(Server::Impl& s, OpenAIRequest r, std::unique_ptr<Ticket> t, ResponseMeta meta)
      : server(s), req(std::move(r)), ticket(std::move(t)), builder(req, *s.model.tokenizer, std::move(meta)) {}
  ~Exchange() {
    if (channel && !channel->done()) server.loop->cancel(channel);
  }

  void on_finished(const RequestOutput& out) {
    finished = true;
    server.metrics.count_tokens(out.prompt.size(), out.tokens.size());
    if (server.audit && out.finish_reason != FinishReason::Cancelled)
      server.audit->append(audit_entry(req, out, server.fp, builder.meta().id, builder.meta().created));
  }

  void cancel() {
    if (channel) server.loop->cancel(channel);
  }
};

bool write(httplib::DataSink& sink, const std::string& s) {
  return s.empty() || sink.write(s.data(), s.size());
}

std::string rejection_body(const std::string& message) {
  return ApiError(500, "server_error", "", "engine_rejected", message).body();
}

}  // namespace

void Server::Impl::handle_generate(Endpoint endpoint, const httplib::Request& hreq, httplib::Response& res) {
  try {
    if (draining.load())
      throw ApiError(503, "service_unavailable", "", "draining", "the server is shutting down; retry elsewhere");
    OpenAIRequest req = parse_openai_request(endpoint, hreq.body);
    if (!req.model.empty() && req.model != model.name)
      throw ApiError(404, "invalid_request_error", "model", "model_not_found",
                     "the model '" + req.model + "' does not exist (this server serves '" + model.name + "')");
    prepare_request(req, model, limits);
    std::unique_ptr<Ticket> ticket = admit();

    ResponseMeta meta;
    meta.id = new_id(endpoint == Endpoint::Chat ? "chatcmpl-" : "cmpl-");
    meta.created =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    meta.model = model.name;
    meta.fingerprint = fp.value;
    auto ex = std::make_shared<Exchange>(*this, std::move(req), std::move(ticket), std::move(meta));
    ex->channel = loop->submit(ex->req.prompt_tokens, ex->req.params);
    while (!ex->channel->wait_accepted(std::chrono::seconds(1))) {
    }
    RequestChannel::Batch first = ex->channel->wait(std::chrono::milliseconds(0));
    if (first.rejected != nullptr)  // finalize_request checks what the engine checks: this should not happen
      throw invalid_request("", *first.rejected);
    std::vector<TokenEvent> pending = std::move(first.events);

    if (!ex->req.stream) {
      res.set_chunked_content_provider(
          "application/json", [ex, pending = std::move(pending)](size_t, httplib::DataSink& sink) mutable {
            for (const TokenEvent& ev : pending) ex->builder.add(ev);
            pending.clear();
            for (;;) {
              RequestChannel::Batch b = ex->channel->wait(kPoll);
              for (const TokenEvent& ev : b.events) ex->builder.add(ev);
              if (b.output != nullptr) {
                const std::string body =
                    ex->builder.response(*b.output).dump(-1, ' ', false, json::error_handler_t::replace);
                ex->on_finished(*b.output);
                if (!write(sink, body)) return false;
                sink.done();
                return true;
              }
              if (b.rejected != nullptr) {
                write(sink, rejection_body(*b.rejected));
                sink.done();
                return true;
              }
              if (!sink.is_writable()) {  // the client went away: free its KV blocks now
                ex->cancel();
                return false;
              }
            }
          });
      return;
    }

    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    // Completions with echo + logprobs open with the prompt's logprobs, which the engine reports with the output:
    // that stream is written once the request finished (the same chunks, later).
    const bool hold = ex->req.endpoint == Endpoint::Completions && ex->req.echo && ex->req.logprobs;
    res.set_chunked_content_provider(
        "text/event-stream", [ex, hold, pending = std::move(pending)](size_t, httplib::DataSink& sink) mutable {
          bool started = false;
          if (!hold) {
            started = true;
            if (!write(sink, ex->builder.stream_start(nullptr))) return ex->cancel(), false;
          }
          std::vector<TokenEvent> held = std::move(pending);
          for (;;) {
            if (!hold) {
              for (const TokenEvent& ev : held)
                if (!write(sink, ex->builder.stream_event(ev))) return ex->cancel(), false;
              held.clear();
            }
            RequestChannel::Batch b = ex->channel->wait(kPoll);
            const bool news = !b.events.empty();
            held.insert(held.end(), std::make_move_iterator(b.events.begin()), std::make_move_iterator(b.events.end()));
            if (b.output != nullptr) {
              std::string tail;
              if (!started) tail += ex->builder.stream_start(b.output);
              for (const TokenEvent& ev : held) tail += ex->builder.stream_event(ev);
              tail += ex->builder.stream_end(*b.output);
              ex->on_finished(*b.output);
              if (!write(sink, tail)) return false;
              sink.done();
              return true;
            }
            if (b.rejected != nullptr) {
              write(sink, "data: " + rejection_body(*b.rejected) + "\n\ndata: [DONE]\n\n");
              sink.done();
              return true;
            }
            if (!news && !sink.is_writable()) {
              ex->cancel();
              return false;
            }
          }
        });
  } catch (const ApiError& e) {
    res.status = e.status;
    if (e.status == 429 || e.status == 503) res.set_header("Retry-After", "1");
    res.set_content(e.body(), "application/json");
  }
}

}  // namespace verbatim::server

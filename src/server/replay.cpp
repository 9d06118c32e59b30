#include "server/replay.h"

#include <httplib.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "server/api_error.h"
#include "server/audit_log.h"
#include "server/fingerprint.h"
#include "server/served_model.h"
#include "util/error.h"

namespace verbatim::server {
namespace {

using nlohmann::json;

// What one run of a request produced. Logprob bits are nullopt where only "not finite" is known (JSON null).
struct Outcome {
  std::vector<int32_t> prompt, tokens;
  std::vector<std::optional<uint32_t>> logprobs;
  std::vector<std::vector<std::pair<int32_t, uint32_t>>> top;  // empty: not compared
  std::vector<std::optional<uint32_t>> prompt_logprobs;        // empty: not compared
  std::string text;
  std::string finish_reason;
};

struct Entry {
  int line = 0;
  std::string id;
  Endpoint endpoint = Endpoint::Completions;
  json request;
  Fingerprint fingerprint;
  Outcome logged;
};

std::vector<int32_t> ids_of(const json& j, const char* what) {
  if (!j.is_array()) fail(what, "expected an array of token ids");
  std::vector<int32_t> v;
  for (const json& x : j) v.push_back(x.get<int32_t>());
  return v;
}

std::optional<uint32_t> bits_of_number(const json& x) {
  if (x.is_null()) return std::nullopt;
  return float_bits(static_cast<float>(x.get<double>()));
}

bool same_bits(const std::optional<uint32_t>& logged, const std::optional<uint32_t>& seen) {
  // JSON carries non-finite logprobs as null: a null matches any non-finite logged value.
  if (!logged || !seen) {
    auto non_finite = [](const std::optional<uint32_t>& b) { return !b || !std::isfinite(float_from_bits(*b)); };
    return non_finite(logged) && non_finite(seen);
  }
  return *logged == *seen;
}

Entry parse_entry(const std::string& line, int lineno, const std::string& path) {
  const std::string where = path + ":" + std::to_string(lineno);
  Entry e;
  e.line = lineno;
  try {
    json j = json::parse(line);
    e.id = j.value("id", "");
    const std::string ep = j.at("endpoint").get<std::string>();
    if (ep == "/v1/completions")
      e.endpoint = Endpoint::Completions;
    else if (ep == "/v1/chat/completions")
      e.endpoint = Endpoint::Chat;
    else
      fail(where, "unknown endpoint " + ep);
    e.request = j.at("request");
    e.fingerprint = Fingerprint::from_json(j.at("fingerprint"));
    Outcome& o = e.logged;
    o.prompt = ids_of(j.at("prompt_token_ids"), "prompt_token_ids");
    o.tokens = ids_of(j.at("token_ids"), "token_ids");
    for (const json& b : j.at("logprob_bits")) o.logprobs.push_back(b.get<uint32_t>());
    if (j.contains("top_logprobs"))
      for (const json& alts : j["top_logprobs"]) {
        std::vector<std::pair<int32_t, uint32_t>> a;
        for (const json& p : alts) a.emplace_back(p.at(0).get<int32_t>(), p.at(1).get<uint32_t>());
        o.top.push_back(std::move(a));
      }
    if (j.contains("prompt_logprob_bits"))
      for (const json& b : j["prompt_logprob_bits"]) o.prompt_logprobs.push_back(b.get<uint32_t>());
    o.text = j.at("text").get<std::string>();
    o.finish_reason = j.at("finish_reason").get<std::string>();
  } catch (const json::exception& ex) {
    fail(where, std::string("not an audit log entry: ") + ex.what());
  }
  if (e.logged.logprobs.size() != e.logged.tokens.size()) fail(where, "logprob_bits and token_ids differ in length");
  return e;
}

// The first difference between what was logged and what the re-run gave, or "".
std::string compare(const Outcome& logged, const Outcome& seen, bool compare_top) {
  if (logged.prompt != seen.prompt)
    return "prompt token ids differ (" + std::to_string(logged.prompt.size()) + " logged, " +
           std::to_string(seen.prompt.size()) + " now)";
  for (size_t i = 0; i < std::max(logged.tokens.size(), seen.tokens.size()); ++i) {
    if (i >= logged.tokens.size() || i >= seen.tokens.size())
      return "token count differs (" + std::to_string(logged.tokens.size()) + " logged, " +
             std::to_string(seen.tokens.size()) + " now)";
    if (logged.tokens[i] != seen.tokens[i])
      return "token " + std::to_string(i) + " is " + std::to_string(seen.tokens[i]) + ", logged " +
             std::to_string(logged.tokens[i]);
  }
  if (seen.logprobs.size() != logged.logprobs.size()) return "logprob count differs";
  for (size_t i = 0; i < logged.logprobs.size(); ++i)
    if (!same_bits(logged.logprobs[i], seen.logprobs[i]))
      return "logprob of token " + std::to_string(i) + " differs in its bits";
  if (compare_top && !logged.top.empty()) {
    if (logged.top != seen.top) return "top logprobs differ";
  }
  if (!logged.prompt_logprobs.empty() && !seen.prompt_logprobs.empty()) {
    if (logged.prompt_logprobs.size() != seen.prompt_logprobs.size()) return "prompt logprob count differs";
    for (size_t i = 1; i < logged.prompt_logprobs.size(); ++i)
      if (!same_bits(logged.prompt_logprobs[i], seen.prompt_logprobs[i]))
        return "prompt logprob " + std::to_string(i) + " differs in its bits";
  }
  if (logged.text != seen.text) return "text differs";
  if (logged.finish_reason != seen.finish_reason)
    return "finish reason is " + seen.finish_reason + ", logged " + logged.finish_reason;
  return "";
}

Outcome outcome_of(const RequestOutput& out) {
  Outcome o;
  o.prompt = out.prompt;
  o.tokens = out.tokens;
  for (float lp : out.logprobs) o.logprobs.push_back(float_bits(lp));
  for (const auto& alts : out.top_logprobs) {
    std::vector<std::pair<int32_t, uint32_t>> a;
    for (const auto& [id, lp] : alts) a.emplace_back(id, float_bits(lp));
    o.top.push_back(std::move(a));
  }
  for (float lp : out.prompt_logprobs) o.prompt_logprobs.push_back(float_bits(lp));
  o.text = out.text;
  o.finish_reason = finish_reason_name(out.finish_reason);
  return o;
}

// The request to send over HTTP: the logged one, non-streaming, with token ids and logprobs in the answer.
json http_request_of(const Entry& e) {
  json r = e.request;
  r["stream"] = false;
  r.erase("stream_options");
  r["return_token_ids"] = true;
  if (e.endpoint == Endpoint::Completions) {
    if (!r.contains("logprobs") || r["logprobs"].is_null()) r["logprobs"] = 0;
  } else {
    r["logprobs"] = true;
  }
  return r;
}

Outcome outcome_of_response(const Entry& e, const json& resp) {
  const json& c = resp.at("choices").at(0);
  Outcome o;
  o.prompt = ids_of(c.at("prompt_token_ids"), "prompt_token_ids");
  o.tokens = ids_of(c.at("token_ids"), "token_ids");
  o.finish_reason = c.at("finish_reason").get<std::string>();
  if (e.endpoint == Endpoint::Chat) {
    o.text = c.at("message").at("content").is_string() ? c["message"]["content"].get<std::string>() : "";
    for (const json& t : c.at("logprobs").at("content")) o.logprobs.push_back(bits_of_number(t.at("logprob")));
    return o;
  }
  std::string text = c.at("text").get<std::string>();
  const json& lps = c.at("logprobs").at("token_logprobs");
  size_t skip = 0;
  const bool echo = e.request.value("echo", false);
  if (echo) {  // the prompt's tokens (and text) come first
    skip = o.prompt.size();
    for (size_t i = 0; i < skip && i < lps.size(); ++i) o.prompt_logprobs.push_back(bits_of_number(lps[i]));
    if (text.size() >= e.logged.text.size() &&
        text.compare(text.size() - e.logged.text.size(), e.logged.text.size(), e.logged.text) == 0)
      text = e.logged.text;  // the completion is the tail after the echoed prompt
  }
  for (size_t i = skip; i < lps.size(); ++i) o.logprobs.push_back(bits_of_number(lps[i]));
  o.text = text;
  return o;
}

}  // namespace

ReplaySummary replay(const ReplayOptions& opt, std::FILE* out) {
  if (opt.url.empty() == opt.model.empty()) fail("replay", "give exactly one of --url and --model");
  std::ifstream in(opt.log_path);
  if (!in) fail(opt.log_path, "cannot open the audit log");
  std::vector<Entry> entries;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find_first_not_of(" \t\r") != std::string::npos) entries.push_back(parse_entry(line, n, opt.log_path));

  ReplaySummary sum;
  sum.entries = static_cast<int>(entries.size());
  std::set<std::string> reported;
  auto check_fingerprint = [&](const Fingerprint& logged, const Fingerprint& now) {
    if (logged.value == now.value) return;
    sum.fingerprint_mismatch = true;
    if (reported.insert(logged.value).second)
      std::fprintf(out, "fingerprint mismatch: the log has %s, the replay runs %s (differing: %s)\n",
                   logged.value.c_str(), now.value.c_str(), logged.differing_parts(now).c_str());
  };
  auto report = [&](const Entry& e, const std::string& diff) {
    if (diff.empty()) {
      sum.identical++;
      std::fprintf(out, "entry %d (%s): identical\n", e.line, e.id.c_str());
    } else {
      sum.different++;
      std::fprintf(out, "entry %d (%s): DIFFERENT: %s\n", e.line, e.id.c_str(), diff.c_str());
    }
  };

  if (!opt.model.empty()) {
    auto served = ServedModel::load(opt.model, opt.tokenizer, "");
    Engine engine(*served->model, served->tokenizer.get(), opt.engine);
    const Fingerprint fp = compute_fingerprint(*served->model, served->tokenizer_path, engine);
    const ModelLimits limits = model_limits(*served, engine);
    std::vector<uint64_t> ids(entries.size(), 0);
    for (size_t i = 0; i < entries.size(); ++i) {
      check_fingerprint(entries[i].fingerprint, fp);
      try {
        OpenAIRequest req = parse_openai_request(entries[i].endpoint, entries[i].request.dump());
        prepare_request(req, *served, limits);
        ids[i] = engine.submit(req.prompt_tokens, req.params);
      } catch (const std::exception& ex) {
        sum.failed++;
        std::fprintf(out, "entry %d (%s): FAILED: %s\n", entries[i].line, entries[i].id.c_str(), ex.what());
      }
    }
    engine.run_until_idle();  // every entry in one batch, unlike the load that produced them
    for (size_t i = 0; i < entries.size(); ++i) {
      if (ids[i] == 0) continue;
      std::optional<RequestOutput> o = engine.take_output(ids[i]);
      if (!o) fail("replay", "the engine did not finish entry " + std::to_string(entries[i].line));
      report(entries[i], compare(entries[i].logged, outcome_of(*o), true));
    }
  } else {
    httplib::Client cli(opt.url);
    cli.set_read_timeout(600);
    cli.set_connection_timeout(10);
    std::optional<Fingerprint> server_fp;
    if (auto r = cli.Get("/v1/models"); r && r->status == 200) {
      try {
        server_fp = Fingerprint::from_json(json::parse(r->body).at("data").at(0).at("fingerprint"));
      } catch (const std::exception&) {
      }
    }
    for (const Entry& e : entries) {
      auto r = cli.Post(endpoint_path(e.endpoint), http_request_of(e).dump(), "application/json");
      if (!r) {
        sum.failed++;
        std::fprintf(out, "entry %d (%s): FAILED: no answer from %s (%s)\n", e.line, e.id.c_str(), opt.url.c_str(),
                     httplib::to_string(r.error()).c_str());
        continue;
      }
      if (r->status != 200) {
        sum.failed++;
        std::fprintf(out, "entry %d (%s): FAILED: HTTP %d: %s\n", e.line, e.id.c_str(), r->status,
                     r->body.substr(0, 300).c_str());
        continue;
      }
      try {
        const json resp = json::parse(r->body);
        const std::string fpv = resp.value("system_fingerprint", "");
        Fingerprint now = server_fp.value_or(Fingerprint{});
        if (!server_fp || now.value != fpv) {
          now = Fingerprint{};
          now.value = fpv;
        }
        check_fingerprint(e.fingerprint, now);
        report(e, compare(e.logged, outcome_of_response(e, resp), false));
      } catch (const std::exception& ex) {
        sum.failed++;
        std::fprintf(out, "entry %d (%s): FAILED: unexpected response: %s\n", e.line, e.id.c_str(), ex.what());
      }
    }
  }
  std::fprintf(out, "replay: %d entries, %d identical, %d different, %d failed%s\n", sum.entries, sum.identical,
               sum.different, sum.failed, sum.fingerprint_mismatch ? ", fingerprint mismatch" : "");
  return sum;
}

}  // namespace verbatim::server

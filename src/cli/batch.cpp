#include "cli/batch.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/sampling_defaults.h"
#include "model/default_model.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace verbatim::cli {
namespace {

using nlohmann::json;

struct BatchRequest {
  std::vector<int32_t> prompt;
  RequestParams params;
};

// Parses one line of the prompts file. Errors name the file, the line and the field.
BatchRequest parse_request(const std::string& text, const std::string& where, const Tokenizer& tok,
                           const Model& model) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(where, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(where, "each line must be a JSON object");
  auto number = [&](const char* key, auto& dst) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_number()) fail(where, std::string(key) + ": expected a number");
    dst = j[key].get<std::remove_reference_t<decltype(dst)>>();
  };
  BatchRequest r;
  if (j.contains("prompt_tokens")) {
    if (!j["prompt_tokens"].is_array()) fail(where, "prompt_tokens: expected an array of token ids");
    for (const json& t : j["prompt_tokens"]) {
      if (!t.is_number_integer()) fail(where, "prompt_tokens: expected integers");
      r.prompt.push_back(t.get<int32_t>());
    }
  } else if (j.contains("prompt")) {
    if (!j["prompt"].is_string()) fail(where, "prompt: expected a string");
    const int32_t bos = tok.bos_id() >= 0 ? tok.bos_id() : model.config.bos_id;
    const std::string p = j["prompt"].get<std::string>();
    if ((tok.add_bos() || p.empty()) && bos >= 0) r.prompt.push_back(bos);
    for (int32_t id : tok.encode(p)) r.prompt.push_back(id);
  } else {
    fail(where, "needs \"prompt\" or \"prompt_tokens\"");
  }
  number("max_tokens", r.params.max_tokens);
  number("temperature", r.params.sampling.temperature);
  number("top_p", r.params.sampling.top_p);
  number("top_k", r.params.sampling.top_k);
  number("min_p", r.params.sampling.min_p);
  number("seed", r.params.sampling.seed);
  number("top_logprobs", r.params.sampling.top_logprobs);
  if (j.contains("ignore_eos") && !j["ignore_eos"].is_null()) {
    if (!j["ignore_eos"].is_boolean()) fail(where, "ignore_eos: expected true or false");
    r.params.ignore_eos = j["ignore_eos"].get<bool>();
  }
  auto given = [&](const char* key) { return j.contains(key) && !j[key].is_null(); };
  apply_generation_defaults(
      r.params.sampling,
      {.temperature = given("temperature"), .top_k = given("top_k"), .top_p = given("top_p"), .min_p = given("min_p")},
      model.config.generation);
  if (j.contains("stop") && !j["stop"].is_null()) {
    const json& s = j["stop"];
    if (s.is_string()) {
      r.params.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      for (const json& x : s) {
        if (!x.is_string()) fail(where, "stop: expected a string or an array of strings");
        r.params.stop.push_back(x.get<std::string>());
      }
    } else {
      fail(where, "stop: expected a string or an array of strings");
    }
  }
  if (j.contains("ignore_eos")) {
    if (!j["ignore_eos"].is_boolean()) fail(where, "ignore_eos: expected true or false");
    r.params.ignore_eos = j["ignore_eos"].get<bool>();
  }
  try {
    r.params.validate();
  } catch (const Error& e) {
    fail(where, e.what());
  }
  return r;
}

}  // namespace

int run_generate_batch(const BatchOptions& opt) {
  auto model = Model::load(opt.model);
  apply_default_model_generation(*model);
  const std::string tok_path = opt.tokenizer.empty() ? model->tokenizer_path : opt.tokenizer;
  if (tok_path.empty()) fail(opt.model, "this model format carries no tokenizer; name one with --tokenizer");
  auto tok = load_tokenizer(tok_path);

  std::ifstream in(opt.prompts_file);
  if (!in) fail(opt.prompts_file, "cannot open");
  std::vector<BatchRequest> requests;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    requests.push_back(parse_request(line, opt.prompts_file + ":" + std::to_string(lineno), *tok, *model));
  }

  Engine engine(*model, tok.get(), opt.engine);
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < requests.size(); ++i) {
    try {
      ids.push_back(engine.submit(requests[i].prompt, requests[i].params));
    } catch (const Error& e) {
      fail(opt.prompts_file + ": request " + std::to_string(i + 1), e.what());
    }
  }
  engine.run_until_idle();
  for (size_t i = 0; i < ids.size(); ++i) {
    std::optional<RequestOutput> out = engine.take_output(ids[i]);
    if (!out) fail("engine", "request " + std::to_string(i + 1) + " did not finish");
    json j;
    j["index"] = i;
    j["prompt_tokens"] = out->prompt;
    j["tokens"] = out->tokens;
    j["text"] = out->text;
    j["logprobs"] = out->logprobs;
    if (!out->top_logprobs.empty()) {
      json top = json::array();
      for (const auto& alts : out->top_logprobs) {
        json a = json::array();
        for (const auto& [id, lp] : alts) a.push_back({{"token", id}, {"logprob", lp}});
        top.push_back(a);
      }
      j["top_logprobs"] = top;
    }
    j["finish_reason"] = finish_reason_name(out->finish_reason);
    std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace);
    std::printf("%s\n", s.c_str());
  }
  return 0;
}

}  // namespace verbatim::cli

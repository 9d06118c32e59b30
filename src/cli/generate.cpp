// verbatim generate: one prompt through the reference forward pass, text streamed to stdout (or one JSON object).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "engine/generate.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace verbatim::cli {
namespace {

struct GenerateOptions {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  std::string prompt_file;
  int max_tokens = 256;
  SamplingParams sampling;
  bool json = false;
};

std::vector<int32_t> stop_ids_for(const Model& model, const Tokenizer& tok) {
  std::vector<int32_t> ids(tok.eos_ids().begin(), tok.eos_ids().end());
  for (int id : model.config.eos_ids) ids.push_back(id);
  // llama2.c models delimit stories with BOS: run.c stops when it samples BOS, and so do we.
  if (model.format == ModelFormat::Llama2c && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  return ids;
}

int run_generate(const GenerateOptions& opt) {
  auto model = Model::load(opt.model);
  const std::string tok_path = opt.tokenizer.empty() ? model->tokenizer_path : opt.tokenizer;
  if (tok_path.empty()) fail(opt.model, "this model format carries no tokenizer; name one with --tokenizer");
  auto tok = load_tokenizer(tok_path);
  if (tok->vocab_size() != model->config.vocab_size)
    fail(tok_path, "tokenizer has " + std::to_string(tok->vocab_size()) + " tokens but the model's vocabulary has " +
                       std::to_string(model->config.vocab_size));

  std::string prompt = opt.prompt_file.empty() ? opt.prompt : read_text_file(opt.prompt_file, 64u << 20);
  GenerateRequest req;
  req.max_tokens = opt.max_tokens;
  req.sampling = opt.sampling;
  req.stop_ids = stop_ids_for(*model, *tok);
  const int32_t bos = tok->bos_id() >= 0 ? tok->bos_id() : model->config.bos_id;
  if ((tok->add_bos() || prompt.empty()) && bos >= 0) req.prompt.push_back(bos);
  for (int32_t id : tok->encode(prompt)) req.prompt.push_back(id);

  auto is_stop = [&](int32_t id) {
    for (int32_t s : req.stop_ids)
      if (s == id) return true;
    return false;
  };
  StreamDecoder stream(*tok, req.prompt.empty() ? -1 : req.prompt.back());
  auto on_token = [&](const SampledToken& s) {
    if (opt.json || is_stop(s.token)) return;
    std::string piece = stream.push(s.token);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  GenerateResult result = generate_reference(*model, req, on_token);

  if (!opt.json) {
    std::string rest = stream.flush();
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }
  std::vector<int32_t> text_ids;
  for (int32_t id : result.tokens)
    if (!is_stop(id)) text_ids.push_back(id);
  nlohmann::json out;
  out["prompt_tokens"] = req.prompt;
  out["tokens"] = result.tokens;
  out["text"] = tok->decode(text_ids);
  nlohmann::json logprobs = nlohmann::json::array();
  nlohmann::json top = nlohmann::json::array();
  for (const SampledToken& s : result.samples) {
    logprobs.push_back(s.logprob);
    if (opt.sampling.top_logprobs > 0) {
      nlohmann::json alts = nlohmann::json::array();
      for (const auto& [id, lp] : s.top) alts.push_back({{"token", id}, {"logprob", lp}});
      top.push_back(alts);
    }
  }
  out["logprobs"] = logprobs;
  if (opt.sampling.top_logprobs > 0) out["top_logprobs"] = top;
  out["finish_reason"] = result.finish_reason;
  std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::printf("%s\n", text.c_str());
  return 0;
}

}  // namespace

void register_generate(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt with the reference forward pass");
  cmd->add_option("--model", opt->model, "HF model directory, .gguf file or llama2.c .bin checkpoint")->required();
  cmd->add_option("--tokenizer", opt->tokenizer, "tokenizer.json, GGUF or llama2.c tokenizer .bin (default: the model's)");
  auto* p = cmd->add_option("--prompt", opt->prompt, "prompt text (default: empty, start from BOS)");
  cmd->add_option("--prompt-file", opt->prompt_file, "read the prompt from this file")->excludes(p);
  cmd->add_option("--max-tokens", opt->max_tokens, "most tokens to generate")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", opt->sampling.temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", opt->sampling.top_k, "keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", opt->sampling.top_p, "nucleus sampling mass in (0, 1]");
  cmd->add_option("--min-p", opt->sampling.min_p, "drop tokens below min_p x the top probability");
  cmd->add_option("--seed", opt->sampling.seed, "sampling seed (the same seed gives the same tokens)");
  cmd->add_option("--top-logprobs", opt->sampling.top_logprobs, "with --json: this many alternatives per token");
  cmd->add_flag("--json", opt->json, "print one JSON object: token ids, text, per-token logprobs");
  cmd->callback([opt, &exit_code] { exit_code = run_generate(*opt); });
}

}  // namespace verbatim::cli

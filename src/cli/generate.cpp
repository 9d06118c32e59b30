// verbatim generate: one prompt through the reference forward pass, text streamed to stdout (or one JSON object).
#include "engine/generate.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/batch.h"
#include "cli/commands.h"
#include "cli/cpu_kv_option.h"
#include "cli/cpu_matmul_option.h"
#include "cli/sampling_defaults.h"
#include "engine/engine.h"
#include "model/default_model.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
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
  bool chat = false;   // the prompt is a user message, rendered with the model's chat template
  std::string system;  // with --chat: a system message before it
  int max_tokens = 256;
  SamplingParams sampling;
  SamplingSet sampling_set;  // the sampling flags given on the command line
  bool json = false;
  bool reference = false;  // the fp32 oracle (one token at a time) instead of the engine
  std::string prompts_file;
  std::string mode = "invariant";
  int kv_cache_mb = 256;
  EngineOptions engine;
};

int run_generate(const GenerateOptions& opt) {
  auto model = Model::load(opt.model);
  apply_default_model_generation(*model);
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
  apply_generation_defaults(req.sampling, opt.sampling_set, model->config.generation);
  req.stop_ids = end_of_sequence_ids(*model, tok.get());
  const int32_t bos = tok->bos_id() >= 0 ? tok->bos_id() : model->config.bos_id;
  if (opt.chat) {
    // The conversation rendered with the model's template (or its family's built-in), special tokens parsed; BOS
    // only where the tokenizer adds one and the template did not write it already.
    const ChatTemplate tmpl = chat_template_for(
        opt.model, *tok, default_template_family(arch_name(model->config.arch), model->config.vocab_size));
    std::vector<ChatMessage> messages;
    if (!opt.system.empty()) messages.push_back({"system", opt.system});
    messages.push_back({"user", prompt});
    const std::string text = tmpl.render(messages);
    const std::string bos_text = bos >= 0 && bos < tok->vocab_size() ? tok->piece(bos) : std::string();
    const bool has_bos = !bos_text.empty() && text.compare(0, bos_text.size(), bos_text) == 0;
    if (tok->add_bos() && bos >= 0 && !has_bos) req.prompt.push_back(bos);
    for (int32_t id : tok->encode(text, /*parse_special=*/true)) req.prompt.push_back(id);
  } else {
    if (!opt.system.empty()) fail("--system", "needs --chat");
    if ((tok->add_bos() || prompt.empty()) && bos >= 0) req.prompt.push_back(bos);
    for (int32_t id : tok->encode(prompt)) req.prompt.push_back(id);
  }

  auto is_stop = [&](int32_t id) {
    for (int32_t s : req.stop_ids)
      if (s == id) return true;
    return false;
  };
  // The completion's text, streamed: whole UTF-8 characters only, with the tokenizer's BOS-space rule.
  StreamDecoder stream(*tok, req.prompt.empty() ? -1 : req.prompt.back());
  std::string text;
  auto emit = [&](const std::string& piece) {
    text += piece;
    if (opt.json) return;
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  };
  auto on_token = [&](const SampledToken& s) {
    if (!is_stop(s.token)) emit(stream.push(s.token));
  };
  GenerateResult result;
  if (opt.reference) {
    result = generate_reference(*model, req, on_token);
  } else {
    EngineOptions eo = opt.engine;
    eo.mode = parse_mode(opt.mode);
    eo.kv_cache_bytes = static_cast<int64_t>(opt.kv_cache_mb) << 20;
    Engine engine(*model, tok.get(), eo);
    RequestParams rp;
    rp.max_tokens = static_cast<int>(std::max<int64_t>(
        0, std::min<int64_t>(req.max_tokens, model->config.max_seq_len - static_cast<int64_t>(req.prompt.size()))));
    rp.sampling = req.sampling;
    const uint64_t id = engine.submit(req.prompt, rp, [&](const TokenEvent& ev) {
      if (ev.token < 0) return;
      on_token(SampledToken{ev.token, ev.logprob, ev.top});
    });
    engine.run_until_idle();
    RequestOutput out = *engine.take_output(id);
    result.tokens = out.tokens;
    for (size_t i = 0; i < out.tokens.size(); ++i)
      result.samples.push_back(
          SampledToken{out.tokens[i], out.logprobs[i],
                       out.top_logprobs.empty() ? decltype(SampledToken::top){} : out.top_logprobs[i]});
    result.finish_reason = finish_reason_name(out.finish_reason);
  }

  emit(stream.flush());
  if (!opt.json) {
    std::fputc('\n', stdout);
    return 0;
  }
  nlohmann::json out;
  out["prompt_tokens"] = req.prompt;
  out["tokens"] = result.tokens;
  out["text"] = text;
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
  std::string line = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

void register_generate(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt with the reference forward pass");
  cmd->add_option("--model", opt->model,
                  std::string("HF model directory, .gguf file or llama2.c .bin checkpoint (default: models/") +
                      kDefaultModelFile + ", which scripts/setup.sh downloads)");
  cmd->add_option("--prompts-file", opt->prompts_file,
                  "JSONL, one request per line (prompt or prompt_tokens, max_tokens, temperature, top_p, top_k, "
                  "min_p, seed, stop, ignore_eos, top_logprobs): run them all together and print one JSON line per "
                  "request, in order");
  cmd->add_option("--tokenizer", opt->tokenizer,
                  "tokenizer.json, GGUF or llama2.c tokenizer .bin (default: the model's)");
  auto* p = cmd->add_option("--prompt", opt->prompt, "prompt text (default: empty, start from BOS)");
  cmd->add_option("--prompt-file", opt->prompt_file, "read the prompt from this file")->excludes(p);
  cmd->add_flag("--chat", opt->chat,
                "the prompt is a user message: render it with the model's chat template (its family's built-in "
                "when the model carries none)");
  cmd->add_option("--system", opt->system, "with --chat: a system message");
  cmd->add_option("--max-tokens", opt->max_tokens, "most tokens to generate")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temperature", opt->sampling.temperature, "0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", opt->sampling.top_k, "keep the k most likely tokens (0 = off)");
  cmd->add_option("--top-p", opt->sampling.top_p, "nucleus sampling mass in (0, 1]");
  cmd->add_option("--min-p", opt->sampling.min_p, "drop tokens below min_p x the top probability");
  cmd->add_option("--seed", opt->sampling.seed, "sampling seed (the same seed gives the same tokens)");
  cmd->add_option("--top-logprobs", opt->sampling.top_logprobs, "with --json: this many alternatives per token");
  cmd->add_flag("--json", opt->json, "print one JSON object: token ids, text, per-token logprobs");
  cmd->add_flag("--reference", opt->reference, "use the plain fp32 reference forward pass (the oracle)");
  cmd->add_option("--mode", opt->mode, "invariant (default: bitwise batch-invariant) or fast")
      ->check(CLI::IsMember({"invariant", "fast"}));
  cmd->add_option("--threads", opt->engine.threads, "CPU threads")->check(CLI::PositiveNumber);
  add_cpu_matmul_option(cmd, opt->engine);
  add_cpu_kv_option(cmd, opt->engine);
  cmd->add_option("--backend", opt->engine.backend, "cpu (default) or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_flag(
      "--no-cuda-graphs", [opt](int64_t) { opt->engine.cuda_graphs = false; },
      "cuda: run decode steps without CUDA graphs");
  cmd->add_flag(
      "--no-cuda-fuse", [opt](int64_t) { opt->engine.cuda_fuse = 0; },
      "cuda: run decode steps without the norm / residual / SwiGLU fusions into the GEMMs (same bits)");
  cmd->add_option("--cuda-split-size", opt->engine.cuda_split_size,
                  "cuda: attention KV positions per split (default 512; other sizes give other bits, still batch "
                  "invariant; smaller is faster at batch 1 with long contexts and needs more workspace)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cuda-split-min", opt->engine.cuda_split_min,
                  "cuda: the attention split of short rows, doubled up to --cuda-split-size until a row has at most 8 "
                  "splits (default 0: one fixed size; e.g. 128 is ~7% faster at batch 1 with 1K positions, slower "
                  "for prefill and wide batches there; a function of the row's own position, so batch invariant; "
                  "other bits)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<int64_t>(
         "--gpu-memory-mb", [opt](const int64_t& mb) { opt->engine.gpu_memory_bytes = mb << 20; },
         "cuda: GPU memory budget in MiB for weights, KV cache and workspaces (default: none)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-cache-mb", opt->kv_cache_mb, "KV cache size in MiB")->check(CLI::PositiveNumber);
  cmd->add_option("--block-size", opt->engine.block_size, "KV cache block size in tokens")->check(CLI::PositiveNumber);
  cmd->add_option("--max-batch-tokens", opt->engine.max_batch_tokens, "most tokens per engine step")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-running", opt->engine.max_running, "most concurrent sequences")->check(CLI::PositiveNumber);
  cmd->add_flag(
      "--no-async-scheduling", [opt](int64_t) { opt->engine.async_scheduling = false; },
      "cuda: read each decode step's tokens before enqueuing the next (default: the next is enqueued first; same "
      "bits)");
  cmd->add_flag(
      "--no-prefix-cache", [opt](int64_t) { opt->engine.prefix_caching = false; }, "disable prefix caching");
  cmd->callback([opt, cmd, &exit_code] {
    if (opt->reference && opt->engine.cpu_matmul != backend::CpuMatmul::Fp32)
      fail("--cpu-matmul", "the --reference forward pass is fp32 only");
    if (opt->reference && opt->engine.cpu_kv != backend::CpuKv::Fp32)
      fail("--cpu-kv", "the --reference forward pass is fp32 only");
    if (opt->model.empty()) {
      opt->model = require_default_model("--model");
      std::fprintf(stderr, "verbatim: using the default model %s\n", opt->model.c_str());
    }
    opt->sampling_set = {.temperature = cmd->count("--temperature") > 0,
                         .top_k = cmd->count("--top-k") > 0,
                         .top_p = cmd->count("--top-p") > 0,
                         .min_p = cmd->count("--min-p") > 0};
    if (opt->prompts_file.empty()) {
      exit_code = run_generate(*opt);
      return;
    }
    if (!opt->prompt.empty() || !opt->prompt_file.empty())
      fail("--prompts-file", "cannot be combined with --prompt or --prompt-file");
    if (opt->chat || !opt->system.empty()) fail("--prompts-file", "cannot be combined with --chat or --system");
    BatchOptions b{
        .model = opt->model, .tokenizer = opt->tokenizer, .prompts_file = opt->prompts_file, .engine = opt->engine};
    b.engine.mode = parse_mode(opt->mode);
    b.engine.kv_cache_bytes = static_cast<int64_t>(opt->kv_cache_mb) << 20;
    exit_code = run_generate_batch(b);
  });
}

}  // namespace verbatim::cli

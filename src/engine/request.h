// A request as the engine sees it: its parameters, its tokens, its place in the KV cache, and what it has produced.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/block_manager.h"
#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"

namespace verbatim {

enum class FinishReason { None, Stop, Length, Cancelled };
const char* finish_reason_name(FinishReason r);  // "", "stop", "length", "cancelled"

struct RequestParams {
  int max_tokens = 16;  // >= 0; 0 with prompt_logprobs scores the prompt without generating
  SamplingParams sampling;
  std::vector<std::string> stop;        // stop strings: the text ends before the first one found
  std::vector<int32_t> stop_token_ids;  // extra stop tokens, beside the model's EOS ids
  bool ignore_eos = false;              // keep generating past EOS (benchmarks)
  bool prompt_logprobs = false;         // logprob of every prompt token after the first (scoring, `echo`)

  // Throws Error naming the first invalid field.
  void validate() const;
};

// One streamed step of a request: a sampled token, and the text it completes.
struct TokenEvent {
  uint64_t request_id = 0;
  int32_t token = -1;  // -1 for an event that carries no token (a request finished without sampling)
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;
  std::string text;  // text that became final with this token (may be empty: partial UTF-8, or held back for stops)
  bool finished = false;
  FinishReason finish_reason = FinishReason::None;
};
using EventCallback = std::function<void(const TokenEvent&)>;

struct RequestOutput {
  uint64_t id = 0;
  std::vector<int32_t> prompt;
  std::vector<int32_t> tokens;  // generated tokens (a final stop token included)
  std::vector<float> logprobs;  // [tokens.size()] raw logprob of each generated token
  std::vector<std::vector<std::pair<int32_t, float>>> top_logprobs;  // [tokens.size()] when asked
  std::vector<float> prompt_logprobs;  // [prompt.size()] when asked; entry 0 is NaN (the first token has none)
  std::string text;                    // the completion's text, cut before a stop string
  FinishReason finish_reason = FinishReason::None;
  int cached_prompt_tokens = 0;  // prompt tokens whose K/V came from the prefix cache
  int preemptions = 0;
};

// Engine-internal state. The scheduler moves requests between its queues; the engine fills in results.
struct Request {
  uint64_t id = 0;
  RequestParams params;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int prompt_len = 0;
  int num_computed = 0;  // leading tokens whose K/V are in the cache
  SeqBlocks kv;
  RequestOutput out;
  EventCallback on_event;
  std::unique_ptr<StreamDecoder> decoder;  // when the engine has a tokenizer
  std::string pending_text;                // decoded text not yet emitted (held back while it may start a stop string)
  // Async scheduling: steps enqueued on the backend and not completed yet that hold rows of this request. A request
  // that finishes (a stop, a cancel) while one does keeps its blocks, retired, until those steps complete.
  int in_flight = 0;
  bool finished = false;  // retired: its rows in steps still in flight are dropped when they complete

  int generated() const { return static_cast<int>(tokens.size()) - prompt_len; }
};

}  // namespace verbatim

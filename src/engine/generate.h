// Single-request generation on the fp32 reference forward pass: the plain path that `verbatim generate` uses and
// that the batched engine is checked against. Deterministic: the same (model, prompt, params) gives the same tokens,
// logprobs and bits, because the forward pass and the sampler are pure functions of their inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/sampler.h"

namespace verbatim {

class Model;

struct GenerateRequest {
  std::vector<int32_t> prompt;  // already tokenized, BOS included when the model wants one
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<int32_t> stop_ids;  // generation ends after sampling one of these (it is reported, not printed)
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated tokens, including a final stop id if one was sampled
  std::vector<SampledToken> samples;
  std::string finish_reason;  // "stop" (a stop id), "length" (max_tokens or the context end)
};

// Runs the request to completion. `on_token` (optional) is called after each sampled token.
GenerateResult generate_reference(const Model& model, const GenerateRequest& request,
                                  const std::function<void(const SampledToken&)>& on_token = {});

}  // namespace verbatim

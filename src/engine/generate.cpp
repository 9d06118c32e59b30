#include "engine/generate.h"

#include <algorithm>

#include "model/llama.h"
#include "model/model.h"
#include "util/error.h"

namespace verbatim {

GenerateResult generate_reference(const Model& model, const GenerateRequest& request,
                                  const std::function<void(const SampledToken&)>& on_token) {
  request.sampling.validate();
  if (request.prompt.empty()) fail("prompt", "is empty (and the model has no BOS token to start from)");
  if (request.max_tokens < 0) fail("max_tokens", "must be >= 0, got " + std::to_string(request.max_tokens));
  const int context = model.config.max_seq_len;
  const int prompt_len = static_cast<int>(request.prompt.size());
  if (prompt_len > context)
    fail("prompt",
         "has " + std::to_string(prompt_len) + " tokens, more than the model's context of " + std::to_string(context));
  const int total = std::min(context, prompt_len + request.max_tokens);

  LlamaReference forward(model, total);
  GenerateResult result;
  result.finish_reason = "length";
  std::span<const float> logits;
  for (int pos = 0; pos < prompt_len; ++pos) logits = forward.forward(request.prompt[pos], pos);
  for (int i = 0; i < request.max_tokens; ++i) {
    const int pos = prompt_len + i;  // the position the sampled token takes in the sequence
    if (pos >= context) break;       // prompt + completion never exceed the context
    // The RNG is keyed by the index of the token within this request's completion.
    SampledToken s = sample(logits, request.sampling, static_cast<uint64_t>(i));
    result.tokens.push_back(s.token);
    result.samples.push_back(s);
    if (on_token) on_token(result.samples.back());
    if (std::find(request.stop_ids.begin(), request.stop_ids.end(), s.token) != request.stop_ids.end()) {
      result.finish_reason = "stop";
      break;
    }
    if (i + 1 < request.max_tokens && pos + 1 < context) logits = forward.forward(s.token, pos);
  }
  return result;
}

}  // namespace verbatim

// Token sampling: a pure function of (logits, params, the request's own token index). Nothing else enters: the random
// number is Philox keyed by (seed, token_index), so a seeded request samples the same tokens under any load.
//
// sample(), in order:
//  0. Logits are sanitized: NaN -> -inf, +inf -> the largest finite float. All -inf (or NaN) -> Error.
//  1. temperature == 0: the token is argmax (lowest id among equal maxima); top_k / top_p / min_p are ignored.
//  2. Otherwise, in double: z = logit / temperature over the tokens whose logit is > -inf.
//  3. top_k > 0: keep the top_k highest z (ties: lower id first). top_k >= vocab keeps all.
//  4. Softmax: p = exp(z - max z) / S, S summed in ascending id order. Tokens with p == 0 (underflow) drop out.
//  5. Candidates are ordered by (p descending, id ascending): "sorted order" below.
//  6. top_p < 1: keep the shortest sorted prefix whose cumulative mass (summed in sorted order) is >= top_p.
//  7. min_p > 0: keep the tokens with p >= min_p * (largest p). (A sorted prefix too, so 6 and 7 commute.)
//     The highest-probability token always survives 3, 6 and 7.
//  8. Draw u = philox_uniform(seed, token_index) in [0, 1); target = u * M, M = the kept mass summed in ascending id
//     order (the renormalization). Walk the kept tokens in sorted order adding p; the first whose running sum exceeds
//     target is the token (the last kept one if rounding leaves the sum short of target).
// Sorting is partial: top-k uses nth_element, and the sorted order is materialized lazily in growing chunks only as
// far as steps 6 and 8 read it. Since (p, id) is a total order, the result is the same as a full sort.
//
// Reported logprobs are always those of the RAW logits: logprob = log_softmax(sanitized logits)[token], before
// temperature, top-k, top-p or min-p (this is what RL scorers compare against; kernels/cpu/log_softmax.h defines the
// arithmetic, shared with every other place the engine reports logprobs). `top` lists the top_logprobs highest raw
// logprobs (ties: lower id first), whatever token was sampled.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace verbatim {

struct SamplingParams {
  static constexpr int kMaxTopLogprobs = 20;

  float temperature = 1.0f;  // >= 0 and finite; 0: greedy
  int top_k = 0;             // >= 0; 0: off
  float top_p = 1.0f;        // in (0, 1]; 1: off
  float min_p = 0.0f;        // in [0, 1]; 0: off
  uint64_t seed = 0;
  int top_logprobs = 0;  // in [0, kMaxTopLogprobs]

  // Throws Error("<field>: ...") naming the first invalid field.
  void validate() const;
};

struct SampledToken {
  int32_t token = -1;
  float logprob = 0.0f;                        // raw log_softmax of the logits at `token`
  std::vector<std::pair<int32_t, float>> top;  // [top_logprobs] (token, raw logprob), highest first
};

// Samples the token for `token_index` (the position of the token in the request's own output: 0 for the first one).
// logits: [vocab]. Validates params (Error naming the field); Error for empty logits or logits all -inf/NaN. The
// returned token is always in [0, logits.size()).
SampledToken sample(std::span<const float> logits, const SamplingParams& params, uint64_t token_index);

// The raw logprob of `token` under `logits` (sanitized as in step 0): bit for bit the `logprob` sample() reports when
// it picks that token. For scoring given tokens (prompt logprobs). Error for a token outside [0, logits.size()) or
// logits all -inf/NaN.
float token_logprob(std::span<const float> logits, int32_t token);

}  // namespace verbatim

// How N completions of one request differ: the statistics `verbatim demo` prints and charts. A pure function of the
// completions' tokens and logprobs.
//
// The reference is the most common completion (ties: the one seen first). A run's divergence position is the first
// token index where its tokens differ from the reference's (a completion that is a strict prefix of the other
// diverges at the shorter length); -1 when they are equal. The logprob spread at position t is the largest
// |logprob_run[t] - logprob_ref[t]| over the runs whose tokens agree with the reference through index t: those runs
// computed the same conditional distribution in exact arithmetic, so any difference is the kernels' rounding (0 when
// every logit is bitwise equal).
#pragma once

#include <cstdint>
#include <vector>

namespace verbatim::app {

struct DivergenceStats {
  int runs = 0;
  int unique = 0;                         // distinct token sequences
  int unique_bitwise = 0;                 // distinct (tokens, logprob bits) sequences: >= unique
  int most_common_count = 0;              // runs equal to the reference
  int reference_run = -1;                 // index of the first run holding the most common completion
  int first_divergence = -1;              // the smallest divergence position over all runs; -1: none
  int diverged_runs = 0;                  // runs whose tokens differ from the reference
  std::vector<int> divergence_positions;  // [runs]; -1 for runs equal to the reference
  std::vector<double> max_abs_dlogprob;   // [reference length]
  double max_abs_dlogprob_overall = 0.0;
};

// tokens[i] and logprobs[i] are run i's completion (same lengths). Throws Error when the two disagree in shape.
DivergenceStats divergence_stats(const std::vector<std::vector<int32_t>>& tokens,
                                 const std::vector<std::vector<float>>& logprobs);

}  // namespace verbatim::app

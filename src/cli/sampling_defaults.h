// The model's sampling defaults (generation_config.json) fill the parameters a request leaves unset.
#pragma once

#include "engine/sampler.h"
#include "model/config.h"

namespace verbatim::cli {

struct SamplingSet {  // which parameters the request set itself
  bool temperature = false, top_k = false, top_p = false, min_p = false;
};

inline void apply_generation_defaults(SamplingParams& p, const SamplingSet& set, const GenerationDefaults& d) {
  if (!set.temperature && d.temperature) p.temperature = *d.temperature;
  if (!set.top_k && d.top_k) p.top_k = *d.top_k;
  if (!set.top_p && d.top_p) p.top_p = *d.top_p;
  if (!set.min_p && d.min_p) p.min_p = *d.min_p;
}

}  // namespace verbatim::cli

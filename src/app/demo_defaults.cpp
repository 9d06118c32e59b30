#include "app/demo_defaults.h"

#include "model/default_model.h"

namespace verbatim::app {

DemoModelChoice choose_demo_model(const std::string& model_flag, bool synthetic_asked,
                                  const std::optional<std::string>& default_path, const std::string& looked_in) {
  DemoModelChoice c;
  if (!model_flag.empty()) {
    c.source = DemoModelSource::Given;
    c.path = model_flag;
    c.note = "using --model " + model_flag;
  } else if (synthetic_asked) {
    c.source = DemoModelSource::Synthetic;
    c.note = "using the embedded synthetic model (asked for by --synthetic or a --synth-* flag)";
  } else if (default_path) {
    c.source = DemoModelSource::DefaultModel;
    c.path = *default_path;
    c.note = "using the default model " + *default_path + " (--synthetic for the embedded random-weight model)";
  } else {
    c.source = DemoModelSource::Synthetic;
    c.note = std::string("the default model ") + kDefaultModelFile + " was not found at " + looked_in +
             ", so using the embedded synthetic model (random weights, no download; scripts/setup.sh fetches the "
             "default model)";
  }
  return c;
}

DemoWorkload default_demo_workload(const std::string& backend, bool default_model) {
  DemoWorkload w;
  if (backend != "cpu") {
    w.runs = 1000;  // the blog's count
    return w;
  }
  if (!default_model) return w;  // the embedded model on the CPU: 100 probes of 64 tokens (~40 s on 2 cores)
  // SmolLM2-135M on the CPU (fp32 weights, 538 MB read per step; a step of ~20 rows takes ~0.1 s in invariant mode
  // and ~0.2 s in fast mode on 1 thread): ~75 steps per mode, ~1.3k generated and ~0.8k prompt tokens, so that both
  // modes together take ~30 s on 2 cores (measured, docs/performance.md). The probes' 48 tokens are a sentence or two
  // of a real answer; the background requests stay as many as the probes.
  w.runs = 24;
  w.max_tokens = 48;
  w.background_prompt_max = 64;
  w.background_tokens_max = 16;
  return w;
}

}  // namespace verbatim::app

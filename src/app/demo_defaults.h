// What `verbatim demo` runs when its flags leave it open: which model, and how large a workload.
//
// The model: --model when given; else the embedded synthetic model when asked for (--synthetic, or any --synth-*
// flag); else the default model SmolLM2-135M-Instruct (model/default_model.h) when its file is present; else the
// embedded synthetic model, which needs no download. The workload: the blog's 1000 probes off the CPU; on the CPU a
// size that keeps both modes together well under a minute on 2 cores (the embedded model has ~30x fewer parameters
// than SmolLM2, so it gets more probes and longer outputs). Flags given on the command line override each field.
#pragma once

#include <optional>
#include <string>

namespace verbatim::app {

enum class DemoModelSource {
  Given,         // --model PATH
  DefaultModel,  // the default model's file, found
  Synthetic,     // the embedded synthetic model (asked for, or the default model's file is absent)
};

struct DemoModelChoice {
  DemoModelSource source = DemoModelSource::Synthetic;
  std::string path;  // Given / DefaultModel: the model to load
  std::string note;  // one line for the console: which model is used and why
};

// `model_flag`: --model ("" when absent); `synthetic_asked`: --synthetic or a --synth-* flag was given;
// `default_path`: default_model_path() (nullopt when the file is absent); `looked_in`: where it was looked for (for
// the note when it is absent).
DemoModelChoice choose_demo_model(const std::string& model_flag, bool synthetic_asked,
                                  const std::optional<std::string>& default_path, const std::string& looked_in);

struct DemoWorkload {
  int runs = 100;                   // identical probe requests
  int max_tokens = 64;              // output tokens per probe
  int background = -1;              // background requests (-1: as many as runs)
  int background_prompt_max = 128;  // background prompt length uniform in [1, this]
  int background_tokens_max = 96;   // background output length uniform in [1, this]
};

// The default workload for a backend ("cpu", "cuda") and model: `default_model` is true when the model is the default
// model's file (found by default or named by --model), which on the CPU gets the smaller workload.
DemoWorkload default_demo_workload(const std::string& backend, bool default_model);

}  // namespace verbatim::app

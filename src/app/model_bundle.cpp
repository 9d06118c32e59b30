#include "app/model_bundle.h"

#include <cstdio>

#include "model/synth_archs.h"
#include "tokenizer/hf_tokenizer.h"
#include "util/error.h"

namespace verbatim::app {

ModelBundle synth_bundle(const synth::SynthModelSpec& spec) {
  ModelBundle b;
  b.model = synth::make_synth_model(spec);
  const synth::SynthTokenizerTexts texts = synth::synth_tokenizer_texts(spec);
  const std::string where = b.model->path + "/tokenizer.json";
  std::unique_ptr<HfTokenizer> tok =
      hf_tokenizer_from_json(texts.files.tokenizer_json, texts.files.tokenizer_config_json, where);
  for (int32_t id : texts.generation_eos_ids) tok->add_eos(id);  // as a directory's generation_config.json adds them
  b.tokenizer = std::move(tok);
  char params[64];
  std::snprintf(params, sizeof params, "%.1f M parameters",
                static_cast<double>(synth::parameter_count(b.model->config)) / 1e6);
  b.description = "synthetic " + spec.arch + " (seed " + std::to_string(spec.seed) + ", " + params + ", " +
                  std::to_string(b.model->config.n_layers) + " layers, random weights, in memory)";
  b.synthetic = true;
  return b;
}

ModelBundle load_bundle(const std::string& path, const std::string& tokenizer_path) {
  ModelBundle b;
  b.model = Model::load(path);
  const std::string tok_path = tokenizer_path.empty() ? b.model->tokenizer_path : tokenizer_path;
  if (tok_path.empty()) fail(path, "this model format carries no tokenizer; name one with --tokenizer");
  b.tokenizer = load_tokenizer(tok_path);
  if (b.tokenizer->vocab_size() != b.model->config.vocab_size)
    fail(tok_path, "tokenizer has " + std::to_string(b.tokenizer->vocab_size()) +
                       " tokens but the model's vocabulary has " + std::to_string(b.model->config.vocab_size));
  char params[64];
  std::snprintf(params, sizeof params, "%.1f M parameters",
                static_cast<double>(synth::parameter_count(b.model->config)) / 1e6);
  b.description = path + " (" + params + ", " + std::to_string(b.model->config.n_layers) + " layers)";
  return b;
}

}  // namespace verbatim::app

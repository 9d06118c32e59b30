#include "model/synth_memory.h"

#include <map>
#include <nlohmann/json.hpp>

#include "model/load_common.h"
#include "util/error.h"

namespace verbatim::synth {

std::unique_ptr<Model> make_synth_model(const SynthModelSpec& spec) {
  const SynthArch& arch = synth_arch(spec.arch);
  const ModelConfig c = synth_config(arch, spec.layers);
  const std::string where = "synth:" + spec.arch + ":" + std::to_string(spec.seed);

  auto m = std::make_unique<Model>();
  m->format = ModelFormat::HfDirectory;
  m->path = where;
  // Through the same JSON and parsers as a loaded directory, so that every config field is what loading gives.
  m->config = config_from_hf_json(synth_config_json(arch, c, spec.dtype, spec.seed), where + "/config.json");
  apply_hf_generation_config(m->config, synth_generation_config_json(arch, c), where + "/generation_config.json");

  std::map<std::string, SynthTensor> by_name;
  for (SynthTensor& t : synth_tensors(c)) by_name.emplace(t.name, std::move(t));
  const size_t elem = dtype_size(spec.dtype);
  auto fetch = [&](const std::string& name, const std::vector<int64_t>& shape) {
    auto it = by_name.find(name);
    if (it == by_name.end()) fail(where, "tensor " + name + " is missing");
    const SynthTensor& st = it->second;
    if (st.shape != shape)
      fail(where, "tensor " + name + " has shape " + detail::shape_string(st.shape) + ", expected " +
                      detail::shape_string(shape));
    // operator new[] aligns to 16 bytes, enough for every DType (as detail::own_copy relies on).
    const size_t bytes = static_cast<size_t>(st.numel()) * elem;
    std::shared_ptr<uint8_t[]> buf(new uint8_t[bytes == 0 ? 1 : bytes]);
    fill_synth_tensor(st, spec.seed, spec.dtype, 0, st.numel(), buf.get());
    m->storage.push_back(std::shared_ptr<const void>(buf, buf.get()));
    Tensor t;
    t.name = name;
    t.dtype = spec.dtype;
    t.shape = shape;
    t.data = buf.get();
    return t;
  };
  m->weights = detail::fetch_weights(m->config, detail::kHfNames, fetch);
  return m;
}

SynthTokenizerTexts synth_tokenizer_texts(const SynthModelSpec& spec) {
  const SynthArch& arch = synth_arch(spec.arch);
  const ModelConfig c = synth_config(arch, spec.layers);
  SynthTokenizerTexts out;
  out.files = make_synth_tokenizer(arch.tokenizer_layout(), spec.seed, c.max_seq_len);
  const nlohmann::json gen = synth_generation_config_json(arch, c);
  const nlohmann::json& e = gen.at("eos_token_id");
  if (e.is_array()) {
    for (const auto& v : e) out.generation_eos_ids.push_back(v.get<int32_t>());
  } else {
    out.generation_eos_ids.push_back(e.get<int32_t>());
  }
  return out;
}

}  // namespace verbatim::synth

// Seeded random-weight models in Hugging Face form (`verbatim synth`): config.json, generation_config.json,
// model.safetensors (or <= max_shard_bytes shards plus model.safetensors.index.json), tokenizer.json and
// tokenizer_config.json, loadable by Model::load and load_tokenizer.
//
// Every weight element is a pure function of (seed, the tensor's stream, the element's index): Philox4x32-10 keyed
// by the seed, counter (stream, index / 4). So tensors are generated in parallel chunks (OpenMP) and streamed to disk
// without ever holding the model, and the same (arch, seed, dtype, layers) gives byte-identical files whatever the
// thread count. Streams are fixed per (layer, role), so a model cut to fewer layers shares its layers' weights.
//
// Values are uniform (mean +- half_width), scaled so activations stay O(1) through many layers and greedy decoding
// neither blows up nor locks onto one token (checked with the reference forward pass, tests/unit/synth_test.cpp):
//   linear weights   std 1 / sqrt(in_features)
//   mlp.down_proj    std kSwiGluGain / sqrt(in_features): silu(g) * u has rms 0.6, so the MLP branch adds unit-scale,
//                    token-specific signal; with a gain of 1 the slowly varying attention averages dominate the
//                    residual and tied models (Qwen3-0.6B) repeat their input token about half the time
//   lm_head          std 1 / sqrt(dim), and tied embeddings the same (rows of norm ~1)
//   final norm       kLogitGain +- 10%: logits of std ~kLogitGain, peaked enough for sampling parameters to matter.
//                    The gain sits here rather than in a tied lm_head, whose larger rows would favour the input token
//   embeddings       std 1 when untied (RMSNorm makes the input scale irrelevant)
//   other RMSNorms   1 +- 0.1;  Qwen2 q/k/v biases +- 0.1
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "model/synth_archs.h"
#include "util/dtype.h"

namespace verbatim::synth {

constexpr float kLogitGain = 4.0f;
constexpr float kSwiGluGain = 1.7f;

struct SynthTensor {
  std::string name;  // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;
  float mean = 0.0f;
  float half_width = 0.0f;
  uint64_t stream = 0;  // (layer + 1) << 8 | role for layer tensors, role for global ones

  int64_t numel() const;
};

// The tensors HF's Llama/Qwen2/Qwen3 models hold for config `c`, in module order (embeddings, layers, final norm,
// lm_head unless tied).
std::vector<SynthTensor> synth_tensors(const ModelConfig& c);

// Element i of t before rounding to the file's dtype.
float synth_value(const SynthTensor& t, uint64_t seed, int64_t i);
// Elements [begin, begin + count) of t converted to `dtype` into out (count x dtype_size bytes), in parallel.
void fill_synth_tensor(const SynthTensor& t, uint64_t seed, DType dtype, int64_t begin, int64_t count, void* out);

// fp32 -> IEEE half, round to nearest even (overflow to inf, NaN stays NaN).
uint16_t f32_to_f16(float f);

// config.json (legacy rope_theta / rope_scaling keys, sorted as HF writes them) and generation_config.json.
nlohmann::json synth_config_json(const SynthArch& arch, const ModelConfig& c, DType dtype, uint64_t seed);
nlohmann::json synth_generation_config_json(const SynthArch& arch, const ModelConfig& c);

struct SynthOptions {
  std::string arch;  // a name from synth_archs()
  uint64_t seed = 0;
  DType dtype = DType::BF16;
  int layers = 0;  // 0: the arch's own count
  std::string out_dir;
  bool force = false;                            // write into a non-empty directory, replacing synth's own files
  uint64_t max_shard_bytes = uint64_t{4} << 30;  // tensor bytes per safetensors file; more: shards + index
  std::function<void(const std::string&)> log;   // optional progress lines
};

struct SynthFile {
  std::string name;  // relative to out_dir
  uint64_t bytes = 0;
};

struct SynthResult {
  ModelConfig config;
  int64_t parameters = 0;
  std::vector<SynthFile> files;
  uint64_t total_bytes = 0;
};

// Writes the model directory. Throws Error for an unknown arch (listing the valid ones), bad options, a non-empty
// out_dir without force, or an I/O failure (naming the file).
SynthResult write_synth_model(const SynthOptions& opt);

}  // namespace verbatim::synth

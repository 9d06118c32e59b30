#include "model/synth_model.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "formats/safetensors_writer.h"
#include "kernels/common/philox.h"
#include "util/error.h"
#include "util/half.h"

namespace verbatim::synth {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Roles of the tensors (the low byte of their stream).
enum Role : uint64_t {
  kEmbed = 1,
  kFinalNorm,
  kLmHead,
  kAttnNorm,
  kWq,
  kWk,
  kWv,
  kWo,
  kBq,
  kBk,
  kBv,
  kQNorm,
  kKNorm,
  kFfnNorm,
  kGate,
  kUp,
  kDown,
};

constexpr float kSqrt3 = 1.7320508f;
constexpr int64_t kChunkElements = int64_t{1} << 23;  // 16 MiB of bf16 per write
constexpr int64_t kBlock = 1 << 14;                   // elements per OpenMP work item (a multiple of 4)

SynthTensor uniform(std::string name, std::vector<int64_t> shape, float mean, float stddev, uint64_t stream) {
  return SynthTensor{std::move(name), std::move(shape), mean, stddev * kSqrt3, stream};
}

SynthTensor linear(std::string name, int64_t out, int64_t in, uint64_t stream) {
  return uniform(std::move(name), {out, in}, 0.0f, 1.0f / std::sqrt(static_cast<float>(in)), stream);
}

// mlp.down_proj: its input silu(g) * u (g, u ~ N(0, 1)) has rms sqrt(E[silu(g)^2]) = 0.6, so a gain of 1 / 0.6
// gives the MLP branch unit-scale output like the attention branch.
SynthTensor down_proj(std::string name, int64_t out, int64_t in, uint64_t stream) {
  return uniform(std::move(name), {out, in}, 0.0f, kSwiGluGain / std::sqrt(static_cast<float>(in)), stream);
}

SynthTensor norm(std::string name, int64_t n, uint64_t stream) {
  return SynthTensor{std::move(name), {n}, 1.0f, 0.1f, stream};
}

// The shortest decimal that reads back as f (1e-06, not 9.999999974752427e-07), as a double for JSON.
double clean(float f) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  *r.ptr = '\0';
  return std::strtod(buf, nullptr);
}

const char* hf_architecture(Arch a) {
  switch (a) {
    case Arch::Llama:
      return "LlamaForCausalLM";
    case Arch::Qwen2:
      return "Qwen2ForCausalLM";
    case Arch::Qwen3:
      return "Qwen3ForCausalLM";
  }
  return "?";
}

const char* torch_dtype(DType d) {
  switch (d) {
    case DType::F32:
      return "float32";
    case DType::F16:
      return "float16";
    case DType::BF16:
      return "bfloat16";
  }
  return "?";
}

void write_text(const std::string& path, const std::string& text) {
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) fail(partial, std::string("cannot create: ") + std::strerror(errno));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) fail(partial, "write failed");
  }
  std::error_code ec;
  fs::rename(partial, path, ec);
  if (ec) fail(path, "cannot rename " + partial + " into place: " + ec.message());
}

// The files synth writes (and, with --force, replaces); nothing else in the directory is touched.
bool is_synth_output(const std::string& name) {
  static const std::regex pattern(
      R"((config|generation_config|tokenizer|tokenizer_config)\.json|model\.safetensors(\.index\.json)?|)"
      R"(model-\d{5}-of-\d{5}\.safetensors)");
  std::string base = name;
  if (base.size() > 8 && base.compare(base.size() - 8, 8, ".partial") == 0) base.resize(base.size() - 8);
  return std::regex_match(base, pattern);
}

void prepare_directory(const std::string& dir, bool force) {
  std::error_code ec;
  if (dir.empty()) fail("synth", "--out must name a directory");
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) fail(dir, "exists and is not a directory");
    std::vector<fs::path> ours;
    bool empty = true;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      empty = false;
      if (is_synth_output(entry.path().filename().string())) ours.push_back(entry.path());
    }
    if (ec) fail(dir, "cannot list: " + ec.message());
    if (!empty && !force) fail(dir, "directory is not empty (pass --force to overwrite the model files in it)");
    for (const fs::path& p : ours) {
      fs::remove(p, ec);
      if (ec) fail(p.string(), "cannot remove: " + ec.message());
    }
  } else {
    fs::create_directories(dir, ec);
    if (ec) fail(dir, "cannot create directory: " + ec.message());
  }
}

struct Shard {
  std::string file;
  std::vector<size_t> tensors;  // indices into the tensor list
  uint64_t bytes = 0;
};

// Greedy in module order, as HF's save_pretrained shards: a tensor goes to the current shard while it fits.
std::vector<Shard> plan_shards(const std::vector<SynthTensor>& tensors, size_t elem_bytes, uint64_t max_bytes) {
  std::vector<Shard> shards(1);
  uint64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t n = static_cast<uint64_t>(tensors[i].numel()) * elem_bytes;
    total += n;
    if (!shards.back().tensors.empty() && shards.back().bytes + n > max_bytes) shards.emplace_back();
    shards.back().tensors.push_back(i);
    shards.back().bytes += n;
  }
  if (shards.size() == 1 && total <= max_bytes) {
    shards[0].file = "model.safetensors";
  } else {
    char name[64];
    for (size_t s = 0; s < shards.size(); ++s) {
      std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
      shards[s].file = name;
    }
  }
  return shards;
}

}  // namespace

int64_t SynthTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<SynthTensor> synth_tensors(const ModelConfig& c) {
  std::vector<SynthTensor> t;
  const int64_t dim = c.dim, q = c.q_dim(), kv = c.kv_dim(), hidden = c.hidden_dim, vocab = c.vocab_size;
  const float unit_rows = 1.0f / std::sqrt(static_cast<float>(dim));  // rows of norm ~1: logits of std ~1
  t.push_back(uniform("model.embed_tokens.weight", {vocab, dim}, 0.0f, c.tie_embeddings ? unit_rows : 1.0f, kEmbed));
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const uint64_t s = static_cast<uint64_t>(l + 1) << 8;
    t.push_back(norm(p + "input_layernorm.weight", dim, s | kAttnNorm));
    t.push_back(linear(p + "self_attn.q_proj.weight", q, dim, s | kWq));
    t.push_back(linear(p + "self_attn.k_proj.weight", kv, dim, s | kWk));
    t.push_back(linear(p + "self_attn.v_proj.weight", kv, dim, s | kWv));
    if (c.attn_qkv_bias) {
      t.push_back(SynthTensor{p + "self_attn.q_proj.bias", {q}, 0.0f, 0.1f, s | kBq});
      t.push_back(SynthTensor{p + "self_attn.k_proj.bias", {kv}, 0.0f, 0.1f, s | kBk});
      t.push_back(SynthTensor{p + "self_attn.v_proj.bias", {kv}, 0.0f, 0.1f, s | kBv});
    }
    t.push_back(linear(p + "self_attn.o_proj.weight", dim, q, s | kWo));
    if (c.qk_norm) {
      t.push_back(norm(p + "self_attn.q_norm.weight", c.head_dim, s | kQNorm));
      t.push_back(norm(p + "self_attn.k_norm.weight", c.head_dim, s | kKNorm));
    }
    t.push_back(norm(p + "post_attention_layernorm.weight", dim, s | kFfnNorm));
    t.push_back(linear(p + "mlp.gate_proj.weight", hidden, dim, s | kGate));
    t.push_back(linear(p + "mlp.up_proj.weight", hidden, dim, s | kUp));
    t.push_back(down_proj(p + "mlp.down_proj.weight", dim, hidden, s | kDown));
  }
  t.push_back(SynthTensor{"model.norm.weight", {dim}, kLogitGain, 0.1f * kLogitGain, kFinalNorm});
  if (!c.tie_embeddings) t.push_back(uniform("lm_head.weight", {vocab, dim}, 0.0f, unit_rows, kLmHead));
  return t;
}

namespace {

// Uniform on (-1, 1) from 24 random bits, symmetric and exact in float.
inline float symmetric_unit(uint32_t bits) {
  return (static_cast<float>(bits >> 8) + 0.5f) * (1.0f / 8388608.0f) - 1.0f;
}

inline float value_of(const SynthTensor& t, uint32_t bits) {
  return t.mean + t.half_width * symmetric_unit(bits);
}

template <typename Out, typename Convert>
void fill_range(const SynthTensor& t, uint64_t seed, int64_t begin, int64_t count, Out* out, Convert convert) {
  // Work items are fixed runs of Philox groups (4 elements each), independent of the thread count; element i is
  // always word i % 4 of the draw for counter (stream, i / 4).
  const int64_t first_group = begin / 4, last_group = (begin + count + 3) / 4;
  constexpr int64_t groups_per_block = kBlock / 4;
  const int64_t n_blocks = (last_group - first_group + groups_per_block - 1) / groups_per_block;
#pragma omp parallel for schedule(static) if (n_blocks > 1)
  for (int64_t b = 0; b < n_blocks; ++b) {
    const int64_t g0 = first_group + b * groups_per_block;
    const int64_t g1 = std::min(last_group, g0 + groups_per_block);
    for (int64_t g = g0; g < g1; ++g) {
      const Philox4 r = philox4x32_10(seed, t.stream, static_cast<uint64_t>(g));
      for (int k = 0; k < 4; ++k) {
        const int64_t i = g * 4 + k;
        if (i >= begin && i < begin + count) out[i - begin] = convert(value_of(t, r.v[k]));
      }
    }
  }
}

}  // namespace

float synth_value(const SynthTensor& t, uint64_t seed, int64_t i) {
  const Philox4 r = philox4x32_10(seed, t.stream, static_cast<uint64_t>(i / 4));
  return value_of(t, r.v[i % 4]);
}

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (ax >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
  if (ax < 0x38800000u) {                        // below 2^-14: a subnormal half (or zero)
    float a;
    std::memcpy(&a, &ax, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));  // units of 2^-24, ties to even
  }
  uint32_t h = ((((ax >> 23) - 127 + 15) << 10) | ((ax & 0x7fffffu) >> 13));
  const uint32_t rest = ax & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is still correct
  return sign | static_cast<uint16_t>(h);
}

void fill_synth_tensor(const SynthTensor& t, uint64_t seed, DType dtype, int64_t begin, int64_t count, void* out) {
  if (begin < 0 || count < 0 || begin + count > t.numel())
    fail("synth", "element range out of bounds for tensor " + t.name);
  switch (dtype) {
    case DType::F32:
      fill_range(t, seed, begin, count, static_cast<float*>(out), [](float v) { return v; });
      break;
    case DType::BF16:
      fill_range(t, seed, begin, count, static_cast<uint16_t*>(out), [](float v) { return f32_to_bf16(v); });
      break;
    case DType::F16:
      fill_range(t, seed, begin, count, static_cast<uint16_t*>(out), [](float v) { return f32_to_f16(v); });
      break;
  }
}

json synth_config_json(const SynthArch& arch, const ModelConfig& c, DType dtype, uint64_t seed) {
  const TokenizerLayout l = arch.tokenizer_layout();
  json j;
  j["architectures"] = {hf_architecture(c.arch)};
  j["attention_dropout"] = 0.0;
  j["bos_token_id"] = c.bos_id;
  if (l.family == TokenizerFamily::Llama3)
    j["eos_token_id"] = l.stop_ids;
  else
    j["eos_token_id"] = l.eos_id;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["hidden_size"] = c.dim;
  j["initializer_range"] = 0.02;
  j["intermediate_size"] = c.hidden_dim;
  j["max_position_embeddings"] = c.max_seq_len;
  j["num_attention_heads"] = c.n_heads;
  j["num_hidden_layers"] = c.n_layers;
  j["num_key_value_heads"] = c.n_kv_heads;
  j["rms_norm_eps"] = clean(c.norm_eps);
  j["rope_theta"] = clean(c.rope_theta);
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["torch_dtype"] = torch_dtype(dtype);
  j["transformers_version"] = "4.51.0";
  j["use_cache"] = true;
  j["vocab_size"] = c.vocab_size;
  if (c.rope_scaling.type == RopeScaling::Type::Llama3) {
    const RopeScaling& r = c.rope_scaling;
    j["rope_scaling"] = {{"factor", clean(r.factor)},
                         {"high_freq_factor", clean(r.high_freq_factor)},
                         {"low_freq_factor", clean(r.low_freq_factor)},
                         {"original_max_position_embeddings", r.original_max_position_embeddings},
                         {"rope_type", "llama3"}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  switch (c.arch) {
    case Arch::Llama:
      j["model_type"] = "llama";
      j["attention_bias"] = false;
      j["mlp_bias"] = false;
      j["pretraining_tp"] = 1;
      break;
    case Arch::Qwen2:
    case Arch::Qwen3:
      j["model_type"] = c.arch == Arch::Qwen2 ? "qwen2" : "qwen3";
      if (c.arch == Arch::Qwen3) j["attention_bias"] = false;
      j["max_window_layers"] = c.n_layers;
      j["sliding_window"] = nullptr;
      j["use_sliding_window"] = false;
      break;
  }
  j["verbatim_synth"] = {{"arch", arch.name}, {"seed", seed}, {"note", "seeded random weights, not a trained model"}};
  return j;
}

json synth_generation_config_json(const SynthArch& arch, const ModelConfig& c) {
  const TokenizerLayout l = arch.tokenizer_layout();
  json j;
  j["bos_token_id"] = c.bos_id;
  j["eos_token_id"] = l.stop_ids.size() == 1 ? json(l.stop_ids[0]) : json(l.stop_ids);
  if (l.pad_id >= 0) j["pad_token_id"] = l.pad_id;
  switch (l.family) {
    case TokenizerFamily::Llama2:
      break;
    case TokenizerFamily::Llama3:
      j["do_sample"] = true;
      j["temperature"] = 0.6;
      j["top_p"] = 0.9;
      break;
    case TokenizerFamily::Qwen2:
    case TokenizerFamily::Qwen3:
      j["do_sample"] = true;
      j["temperature"] = l.family == TokenizerFamily::Qwen3 ? 0.6 : 0.7;
      j["top_k"] = 20;
      j["top_p"] = l.family == TokenizerFamily::Qwen3 ? 0.95 : 0.8;
      break;
  }
  j["transformers_version"] = "4.51.0";
  return j;
}

SynthResult write_synth_model(const SynthOptions& opt) {
  const SynthArch& arch = synth_arch(opt.arch);
  if (opt.max_shard_bytes == 0) fail("synth", "the shard size limit must be positive");
  const ModelConfig c = synth_config(arch, opt.layers);
  prepare_directory(opt.out_dir, opt.force);
  auto log = [&](const std::string& line) {
    if (opt.log) opt.log(line);
  };

  SynthResult result;
  result.config = c;
  result.parameters = parameter_count(c);
  auto record = [&](const std::string& name, uint64_t bytes) {
    result.files.push_back({name, bytes});
    result.total_bytes += bytes;
  };
  auto path_of = [&](const std::string& name) { return (fs::path(opt.out_dir) / name).string(); };
  auto text_file = [&](const std::string& name, const std::string& text) {
    write_text(path_of(name), text);
    record(name, text.size());
  };

  text_file("config.json", synth_config_json(arch, c, opt.dtype, opt.seed).dump(2) + "\n");
  text_file("generation_config.json", synth_generation_config_json(arch, c).dump(2) + "\n");
  const SynthTokenizerFiles tok = make_synth_tokenizer(arch.tokenizer_layout(), opt.seed, c.max_seq_len);
  text_file("tokenizer.json", tok.tokenizer_json);
  text_file("tokenizer_config.json", tok.tokenizer_config_json);

  const std::vector<SynthTensor> tensors = synth_tensors(c);
  const size_t elem = dtype_size(opt.dtype);
  const std::vector<Shard> shards = plan_shards(tensors, elem, opt.max_shard_bytes);
  std::vector<uint8_t> buffer(static_cast<size_t>(kChunkElements) * elem);
  json weight_map = json::object();
  uint64_t total_tensor_bytes = 0;
  for (const Shard& shard : shards) {
    std::vector<safetensors::TensorSpec> specs;
    std::map<std::string, const SynthTensor*> by_name;
    for (size_t i : shard.tensors) {
      specs.push_back({tensors[i].name, dtype_name(opt.dtype), tensors[i].shape});
      by_name[tensors[i].name] = &tensors[i];
      weight_map[tensors[i].name] = shard.file;
    }
    log("writing " + shard.file + " (" + std::to_string(shard.tensors.size()) + " tensors, " +
        std::to_string(shard.bytes) + " bytes)");
    safetensors::Writer writer(path_of(shard.file), std::move(specs));
    for (const safetensors::TensorSpec& spec : writer.order()) {
      const SynthTensor& t = *by_name.at(spec.name);
      for (int64_t begin = 0; begin < t.numel(); begin += kChunkElements) {
        const int64_t n = std::min(kChunkElements, t.numel() - begin);
        fill_synth_tensor(t, opt.seed, opt.dtype, begin, n, buffer.data());
        writer.write(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n) * elem));
      }
    }
    writer.finish();
    record(shard.file, writer.file_size());
    total_tensor_bytes += shard.bytes;
  }
  if (shards.size() > 1) {
    json index = {{"metadata", {{"total_parameters", result.parameters}, {"total_size", total_tensor_bytes}}},
                  {"weight_map", weight_map}};
    text_file("model.safetensors.index.json", index.dump(2) + "\n");
  }
  return result;
}

}  // namespace verbatim::synth

// Hugging Face config.json (and generation_config.json) -> ModelConfig.
#include <climits>
#include <nlohmann/json.hpp>

#include "formats/json_brief.h"
#include "model/config.h"
#include "util/error.h"

namespace verbatim {

namespace {

using nlohmann::json;

// Typed access to config.json fields; a present-but-null field counts as absent (HF writes nulls for defaults).
class Fields {
 public:
  Fields(const json& j, const std::string& where) : j_(j), where_(where) {}

  const json* find(const std::string& key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  int get_int(const std::string& key) const {
    const json* v = find(key);
    if (v == nullptr) fail(where_, "missing \"" + key + "\"");
    return as_int(*v, key);
  }
  int get_positive(const std::string& key) const {
    int v = get_int(key);
    if (v <= 0) fail(where_, "\"" + key + "\" = " + std::to_string(v) + " must be positive");
    return v;
  }
  int opt_int(const std::string& key, int def) const {
    const json* v = find(key);
    return v ? as_int(*v, key) : def;
  }
  float opt_float(const std::string& key, float def) const {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_number()) fail(where_, "\"" + key + "\" must be a number, got " + formats::json_brief(*v));
    return static_cast<float>(v->get<double>());
  }
  bool opt_bool(const std::string& key, bool def) const {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_boolean()) fail(where_, "\"" + key + "\" must be true or false, got " + formats::json_brief(*v));
    return v->get<bool>();
  }
  std::string opt_string(const std::string& key, const std::string& def) const {
    const json* v = find(key);
    if (v == nullptr) return def;
    if (!v->is_string()) fail(where_, "\"" + key + "\" must be a string, got " + formats::json_brief(*v));
    return v->get<std::string>();
  }
  int as_int(const json& v, const std::string& key) const {
    if (!v.is_number_integer()) fail(where_, "\"" + key + "\" must be an integer, got " + formats::json_brief(v));
    if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(INT_MAX)
                               : (v.get<int64_t>() < INT_MIN || v.get<int64_t>() > INT_MAX))
      fail(where_, "\"" + key + "\" = " + formats::json_brief(v) + " is out of range");
    return static_cast<int>(v.get<int64_t>());
  }
  // An int or a list of ints (eos_token_id), appended to `out` without duplicates.
  void int_or_list(const std::string& key, std::vector<int>& out) const {
    const json* v = find(key);
    if (v == nullptr) return;
    auto add = [&](int id) {
      for (int e : out)
        if (e == id) return;
      out.push_back(id);
    };
    if (v->is_array()) {
      for (const json& e : *v) add(as_int(e, key));
    } else {
      add(as_int(*v, key));
    }
  }

 private:
  const json& j_;
  const std::string& where_;
};

Arch arch_from(const Fields& f, const std::string& where) {
  if (const json* a = f.find("architectures")) {
    if (!a->is_array() || a->empty() || !(*a)[0].is_string())
      fail(where, "\"architectures\" must be a non-empty list of strings, got " + formats::json_brief(*a));
    const std::string name = (*a)[0].get<std::string>();
    if (name == "LlamaForCausalLM") return Arch::Llama;
    if (name == "Qwen2ForCausalLM") return Arch::Qwen2;
    if (name == "Qwen3ForCausalLM") return Arch::Qwen3;
    fail(where,
         "unsupported architecture " + name + " (supported: LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM)");
  }
  const std::string type = f.opt_string("model_type", "");
  if (type == "llama") return Arch::Llama;
  if (type == "qwen2") return Arch::Qwen2;
  if (type == "qwen3") return Arch::Qwen3;
  if (type.empty()) fail(where, "neither \"architectures\" nor \"model_type\" is present");
  fail(where, "unsupported architecture " + type + " (supported model types: llama, qwen2, qwen3)");
}

// RoPE: transformers >= 5 writes "rope_parameters" {rope_type, rope_theta, factor, ...}; older configs write
// "rope_theta" and "rope_scaling" {rope_type or type, factor, ...} at the top level.
void read_rope(const Fields& f, ModelConfig& c, const std::string& where) {
  c.rope_theta = f.opt_float("rope_theta", 10000.0f);
  std::string key = "rope_parameters";
  const json* rs = f.find(key);
  if (rs == nullptr) rs = f.find(key = "rope_scaling");
  if (rs == nullptr) return;
  if (!rs->is_object()) fail(where, "\"" + key + "\" must be an object or null, got " + formats::json_brief(*rs));
  Fields s(*rs, where);
  if (key == "rope_parameters") {
    if (s.find("rope_type") == nullptr && s.find("rope_theta") == nullptr)
      fail(where, "\"rope_parameters\" per layer type is not supported (need one {rope_type, rope_theta, ...})");
    c.rope_theta = s.opt_float("rope_theta", c.rope_theta);
  }
  std::string type = s.opt_string("rope_type", "");
  if (type.empty()) type = s.opt_string("type", "");
  if (type == "default" || type.empty()) return;
  RopeScaling& r = c.rope_scaling;
  if (type == "linear") {
    r.type = RopeScaling::Type::Linear;
    r.factor = s.opt_float("factor", 0.0f);
  } else if (type == "llama3") {
    r.type = RopeScaling::Type::Llama3;
    r.factor = s.opt_float("factor", 0.0f);
    r.low_freq_factor = s.opt_float("low_freq_factor", r.low_freq_factor);
    r.high_freq_factor = s.opt_float("high_freq_factor", r.high_freq_factor);
    r.original_max_position_embeddings =
        s.opt_int("original_max_position_embeddings", r.original_max_position_embeddings);
  } else {
    fail(where, "unsupported " + key + " type " + type + " (supported: default, linear, llama3)");
  }
  if (s.find("factor") == nullptr) fail(where, key + " of type " + type + " needs a \"factor\"");
}

}  // namespace

ModelConfig config_from_hf_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "config is not a JSON object");
  Fields f(j, where);
  ModelConfig c;
  c.arch = arch_from(f, where);

  // Unsupported variations: fail loudly rather than compute something else.
  if (const std::string act = f.opt_string("hidden_act", "silu"); act != "silu")
    fail(where, "unsupported hidden_act " + act + " (only silu)");
  if (c.arch != Arch::Qwen2 && f.opt_bool("attention_bias", false))
    fail(where, "attention_bias = true (biases on the q/k/v/o projections) is not supported");
  if (f.opt_bool("mlp_bias", false)) fail(where, "mlp_bias = true is not supported");
  if (f.opt_bool("use_sliding_window", false)) fail(where, "use_sliding_window = true is not supported");
  if (f.opt_float("partial_rotary_factor", 1.0f) != 1.0f) fail(where, "partial_rotary_factor != 1 is not supported");

  c.dim = f.get_positive("hidden_size");
  c.hidden_dim = f.get_positive("intermediate_size");
  c.n_layers = f.get_positive("num_hidden_layers");
  c.n_heads = f.get_positive("num_attention_heads");
  c.n_kv_heads = f.opt_int("num_key_value_heads", c.n_heads);
  c.vocab_size = f.get_positive("vocab_size");
  if (c.arch == Arch::Qwen3) {
    c.head_dim = f.opt_int("head_dim", 128);  // Qwen3Config's default
  } else if (f.find("head_dim") != nullptr) {
    c.head_dim = f.get_int("head_dim");
  } else {
    if (c.n_heads <= 0 || c.dim % c.n_heads != 0)
      fail(where, "invalid model config: hidden_size " + std::to_string(c.dim) +
                      " is not a multiple of num_attention_heads " + std::to_string(c.n_heads));
    c.head_dim = c.dim / c.n_heads;
  }
  c.max_seq_len = f.opt_int("max_position_embeddings", c.arch == Arch::Llama ? 2048 : 32768);
  c.norm_eps = f.opt_float("rms_norm_eps", 1e-6f);
  c.tie_embeddings = f.opt_bool("tie_word_embeddings", false);
  c.attn_qkv_bias = c.arch == Arch::Qwen2;
  c.qk_norm = c.arch == Arch::Qwen3;
  read_rope(f, c, where);
  c.bos_id = f.opt_int("bos_token_id", -1);
  f.int_or_list("eos_token_id", c.eos_ids);
  c.validate(where);
  return c;
}

void apply_hf_generation_config(ModelConfig& c, const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "generation config is not a JSON object");
  Fields f(j, where);
  c.bos_id = f.opt_int("bos_token_id", c.bos_id);
  f.int_or_list("eos_token_id", c.eos_ids);
  GenerationDefaults& g = c.generation;
  if (f.find("temperature")) g.temperature = f.opt_float("temperature", 1.0f);
  if (f.find("top_k")) g.top_k = f.opt_int("top_k", 0);
  if (f.find("top_p")) g.top_p = f.opt_float("top_p", 1.0f);
  if (f.find("min_p")) g.min_p = f.opt_float("min_p", 0.0f);
  if (g.temperature && !(*g.temperature >= 0.0f)) fail(where, "\"temperature\" must be >= 0");
  if (g.top_k && *g.top_k < 0) fail(where, "\"top_k\" must be >= 0");
  if (g.top_p && !(*g.top_p > 0.0f && *g.top_p <= 1.0f)) fail(where, "\"top_p\" must be in (0, 1]");
  if (g.min_p && !(*g.min_p >= 0.0f && *g.min_p <= 1.0f)) fail(where, "\"min_p\" must be in [0, 1]");
  c.validate(where);
}

}  // namespace verbatim

// The architecture hyper-parameters of a Llama-family model, read from HF config.json, GGUF metadata or a llama2.c
// header. One struct for Llama 1/2/3, Qwen2 and Qwen3: they differ by flags (q/k/v bias, q/k norm, RoPE scaling).
#pragma once

#include <cstdint>
#include <optional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace verbatim {

namespace gguf {
class File;
}
namespace llama2c {
struct Header;
}

enum class Arch { Llama, Qwen2, Qwen3 };
const char* arch_name(Arch a);

struct RopeScaling {
  enum class Type { None, Linear, Llama3 } type = Type::None;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;   // Llama 3
  float high_freq_factor = 4.0f;  // Llama 3
  int original_max_position_embeddings = 8192;
};

// Sampling defaults a Hugging Face generation_config.json sets. They apply wherever a request leaves the parameter
// unset, as in vLLM (which, like this, reads temperature / top_k / top_p / min_p and ignores do_sample).
struct GenerationDefaults {
  std::optional<float> temperature;
  std::optional<int> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
};

struct ModelConfig {
  Arch arch = Arch::Llama;
  int dim = 0;         // hidden size
  int hidden_dim = 0;  // MLP intermediate size
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;  // explicit in Qwen3; dim / n_heads otherwise
  int vocab_size = 0;
  int max_seq_len = 0;
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  RopeScaling rope_scaling;
  bool tie_embeddings = false;
  bool attn_qkv_bias = false;  // Qwen2
  bool qk_norm = false;        // Qwen3: RMSNorm over each head of q and k before RoPE
  int bos_id = -1;             // -1: none
  std::vector<int> eos_ids;
  GenerationDefaults generation;  // from generation_config.json; empty for other formats

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }

  // Throws Error("<where>: ...") for values no model can have: non-positive sizes, n_heads not a multiple of
  // n_kv_heads, odd head_dim, sizes so large they would overflow, non-finite or non-positive theta/eps.
  void validate(const std::string& where) const;
};

// Parsers. `where` names the file in error messages.
ModelConfig config_from_hf_json(const nlohmann::json& config, const std::string& where);
// Merges a Hugging Face generation_config.json: its eos_token_id (int or list) joins eos_ids, its bos_token_id
// replaces bos_id, and temperature / top_k / top_p / min_p become the sampling defaults. Validates the
// result.
void apply_hf_generation_config(ModelConfig& config, const nlohmann::json& generation_config, const std::string& where);
ModelConfig config_from_gguf(const gguf::File& file);
ModelConfig config_from_llama2c(const llama2c::Header& header, const std::string& where);

}  // namespace verbatim

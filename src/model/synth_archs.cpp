#include "model/synth_archs.h"

#include "util/error.h"

namespace verbatim::synth {

namespace {

struct Shape {
  Arch arch;
  int dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size, max_seq_len;
  float rope_theta, norm_eps;
  bool tied;
};

SynthArch make(std::string name, std::string description, const Shape& s, TokenizerFamily tok, int32_t regular,
               bool tiny, RopeScaling scaling = {}) {
  SynthArch a;
  a.name = std::move(name);
  a.description = std::move(description);
  a.tokenizer = tok;
  a.regular_tokens = regular;
  a.tiny = tiny;
  ModelConfig& c = a.config;
  c.arch = s.arch;
  c.dim = s.dim;
  c.hidden_dim = s.hidden_dim;
  c.n_layers = s.n_layers;
  c.n_heads = s.n_heads;
  c.n_kv_heads = s.n_kv_heads;
  c.head_dim = s.head_dim;
  c.vocab_size = s.vocab_size;
  c.max_seq_len = s.max_seq_len;
  c.rope_theta = s.rope_theta;
  c.norm_eps = s.norm_eps;
  c.rope_scaling = scaling;
  c.tie_embeddings = s.tied;
  c.attn_qkv_bias = s.arch == Arch::Qwen2;
  c.qk_norm = s.arch == Arch::Qwen3;
  const TokenizerLayout l = a.tokenizer_layout();
  // Qwen's config.json names <|endoftext|> as bos_token_id although its tokenizer adds no BOS.
  c.bos_id = l.bos_id >= 0 ? l.bos_id : l.pad_id;
  c.eos_ids.assign(l.stop_ids.begin(), l.stop_ids.end());
  c.validate("synth arch " + a.name);
  return a;
}

RopeScaling llama3_scaling(int original) {
  RopeScaling r;
  r.type = RopeScaling::Type::Llama3;
  r.factor = 8.0f;
  r.low_freq_factor = 1.0f;
  r.high_freq_factor = 4.0f;
  r.original_max_position_embeddings = original;
  return r;
}

std::vector<SynthArch> make_table() {
  using F = TokenizerFamily;
  constexpr int32_t kQwenRegular = 151643;  // the real Qwen2/Qwen3 BPE vocabulary: specials start at 151643
  constexpr int32_t kLlama3Regular = 128000;
  std::vector<SynthArch> t;
  // llama2.c's stories110M (Llama 2 architecture). llama2.c itself shares the classifier with the embeddings; the
  // Hugging Face form written here keeps a separate lm_head.
  t.push_back(make("llama2-110m", "llama2.c stories110M",
                   {Arch::Llama, 768, 2048, 12, 12, 12, 64, 32000, 1024, 10000.0f, 1e-5f, false}, F::Llama2, 0, false));
  t.push_back(make("qwen2.5-0.5b", "Qwen2.5-0.5B",
                   {Arch::Qwen2, 896, 4864, 24, 14, 2, 64, 151936, 32768, 1000000.0f, 1e-6f, true}, F::Qwen2,
                   kQwenRegular, false));
  t.push_back(make("qwen3-0.6b", "Qwen3-0.6B",
                   {Arch::Qwen3, 1024, 3072, 28, 16, 8, 128, 151936, 40960, 1000000.0f, 1e-6f, true}, F::Qwen3,
                   kQwenRegular, false));
  t.push_back(make("llama3-8b", "Llama 3.1 8B",
                   {Arch::Llama, 4096, 14336, 32, 32, 8, 128, 128256, 131072, 500000.0f, 1e-5f, false}, F::Llama3,
                   kLlama3Regular, false, llama3_scaling(8192)));
  t.push_back(make("qwen3-8b", "Qwen3-8B",
                   {Arch::Qwen3, 4096, 12288, 36, 32, 8, 128, 151936, 40960, 1000000.0f, 1e-6f, false}, F::Qwen3,
                   kQwenRegular, false));
  t.push_back(make("qwen3-tiny", "tiny Qwen3 (tests, CPU demo)",
                   {Arch::Qwen3, 256, 768, 4, 8, 4, 32, 4096, 4096, 1000000.0f, 1e-6f, true}, F::Qwen3, 0, true));
  t.push_back(make("qwen2-tiny", "tiny Qwen2 with q/k/v bias (tests)",
                   {Arch::Qwen2, 256, 768, 4, 8, 2, 32, 4096, 4096, 1000000.0f, 1e-6f, true}, F::Qwen2, 0, true));
  t.push_back(make("llama-tiny", "tiny Llama 3 with Llama 3 RoPE scaling (tests, CPU demo)",
                   {Arch::Llama, 256, 768, 4, 8, 4, 32, 4096, 4096, 500000.0f, 1e-5f, false}, F::Llama3, 0, true,
                   llama3_scaling(512)));
  return t;
}

}  // namespace

TokenizerLayout SynthArch::tokenizer_layout() const {
  return synth::tokenizer_layout(tokenizer, config.vocab_size, regular_tokens);
}

const std::vector<SynthArch>& synth_archs() {
  static const std::vector<SynthArch> table = make_table();
  return table;
}

const SynthArch* find_synth_arch(std::string_view name) {
  for (const SynthArch& a : synth_archs())
    if (a.name == name) return &a;
  return nullptr;
}

const SynthArch& synth_arch(std::string_view name) {
  const SynthArch* a = find_synth_arch(name);
  if (a == nullptr)
    fail("synth", "unknown architecture \"" + std::string(name) + "\" (valid: " + synth_arch_names() + ")");
  return *a;
}

std::string synth_arch_names() {
  std::string s;
  for (const SynthArch& a : synth_archs()) s += (s.empty() ? "" : ", ") + a.name;
  return s;
}

ModelConfig synth_config(const SynthArch& arch, int n_layers) {
  ModelConfig c = arch.config;
  if (n_layers < 0 || n_layers > 1024)
    fail("synth", "--layers " + std::to_string(n_layers) + " must lie in [1, 1024] (0: the arch's own count)");
  if (n_layers > 0) c.n_layers = n_layers;
  return c;
}

int64_t parameter_count(const ModelConfig& c) {
  const int64_t dim = c.dim, q = c.q_dim(), kv = c.kv_dim(), hidden = c.hidden_dim;
  int64_t layer = 2 * dim + q * dim + 2 * kv * dim + dim * q + 3 * hidden * dim;
  if (c.attn_qkv_bias) layer += q + 2 * kv;
  if (c.qk_norm) layer += 2 * c.head_dim;
  const int64_t embed = static_cast<int64_t>(c.vocab_size) * dim;
  return embed * (c.tie_embeddings ? 1 : 2) + c.n_layers * layer + dim;
}

}  // namespace verbatim::synth

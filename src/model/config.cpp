// ModelConfig validation and the config parsers for GGUF metadata and llama2.c headers (HF JSON: config_hf.cpp).
#include "model/config.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <optional>

#include "formats/gguf.h"
#include "formats/llama2c.h"
#include "util/error.h"

namespace verbatim {

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama:
      return "llama";
    case Arch::Qwen2:
      return "qwen2";
    case Arch::Qwen3:
      return "qwen3";
  }
  return "?";
}

void ModelConfig::validate(const std::string& where) const {
  auto bad = [&](const std::string& what) { fail(where, "invalid model config: " + what); };
  auto positive = [&](const char* name, int v) {
    if (v <= 0) bad(std::string(name) + " = " + std::to_string(v) + " must be positive");
  };
  positive("dim", dim);
  positive("hidden_dim", hidden_dim);
  positive("n_layers", n_layers);
  positive("n_heads", n_heads);
  positive("n_kv_heads", n_kv_heads);
  positive("head_dim", head_dim);
  positive("vocab_size", vocab_size);
  positive("max_seq_len", max_seq_len);
  if (n_heads % n_kv_heads != 0)
    bad("n_heads = " + std::to_string(n_heads) + " is not a multiple of n_kv_heads = " + std::to_string(n_kv_heads));
  if (head_dim % 2 != 0) bad("head_dim = " + std::to_string(head_dim) + " is odd (RoPE rotates pairs)");
  if (static_cast<int64_t>(n_heads) * head_dim > INT_MAX) bad("n_heads * head_dim overflows");
  // Every weight's element count must fit in int64 with room for byte sizes: each factor is an int, so the
  // products of two are below 2^62; the per-layer stack is bounded by the file size checks of the loaders.
  if (!std::isfinite(rope_theta) || rope_theta <= 0) bad("rope_theta = " + std::to_string(rope_theta) + " must be > 0");
  if (!std::isfinite(norm_eps) || norm_eps <= 0) bad("norm_eps = " + std::to_string(norm_eps) + " must be > 0");
  const RopeScaling& rs = rope_scaling;
  if (rs.type != RopeScaling::Type::None) {
    if (!std::isfinite(rs.factor) || rs.factor <= 0) bad("rope scaling factor must be > 0");
    if (rs.type == RopeScaling::Type::Llama3) {
      if (!std::isfinite(rs.low_freq_factor) || !std::isfinite(rs.high_freq_factor) || rs.low_freq_factor <= 0 ||
          rs.high_freq_factor <= rs.low_freq_factor)
        bad("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor");
      if (rs.original_max_position_embeddings <= 0) bad("llama3 rope scaling original_max_position_embeddings <= 0");
    }
  }
  if (bos_id < -1 || bos_id >= vocab_size)
    bad("bos token id " + std::to_string(bos_id) + " is outside the vocabulary of " + std::to_string(vocab_size));
  for (int id : eos_ids)
    if (id < 0 || id >= vocab_size)
      bad("eos token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab_size));
}

ModelConfig config_from_llama2c(const llama2c::Header& h, const std::string& where) {
  ModelConfig c;
  c.arch = Arch::Llama;
  c.dim = h.dim;
  c.hidden_dim = h.hidden_dim;
  c.n_layers = h.n_layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  if (h.n_heads <= 0 || h.dim % h.n_heads != 0)
    fail(where, "invalid model config: dim " + std::to_string(h.dim) + " is not a multiple of n_heads " +
                    std::to_string(h.n_heads));
  c.head_dim = h.dim / h.n_heads;
  c.vocab_size = h.vocab_size;
  c.max_seq_len = h.seq_len;
  c.rope_theta = 10000.0f;  // run.c hard-codes these
  c.norm_eps = 1e-5f;
  c.tie_embeddings = h.shared_classifier;
  // llama2.c's run.c stops when the model generates BOS (1); the SentencePiece EOS of its tokenizers is 2.
  c.bos_id = 1;
  c.eos_ids = {2};
  c.validate(where);
  return c;
}

namespace {

bool same_tensor_bytes(const gguf::File& f, const gguf::TensorInfo& a, const gguf::TensorInfo& b) {
  if (a.type != b.type || a.ne != b.ne) return false;
  auto da = f.tensor_data(a), db = f.tensor_data(b);
  return da.size() == db.size() && std::memcmp(da.data(), db.data(), da.size()) == 0;
}

}  // namespace

ModelConfig config_from_gguf(const gguf::File& f) {
  const std::string& where = f.path();
  ModelConfig c;
  const std::string arch = f.get_string("general.architecture");
  if (arch == "llama")
    c.arch = Arch::Llama;
  else if (arch == "qwen2")
    c.arch = Arch::Qwen2;
  else if (arch == "qwen3")
    c.arch = Arch::Qwen3;
  else
    fail(where, "unsupported architecture " + arch + " (supported: llama, qwen2, qwen3)");

  auto key = [&](const std::string& k) { return arch + "." + k; };
  auto to_int = [&](const std::string& k, int64_t v) {
    if (v < INT_MIN || v > INT_MAX)
      fail(where, "metadata key '" + k + "' value " + std::to_string(v) + " is out of range");
    return static_cast<int>(v);
  };
  auto get = [&](const std::string& k) { return to_int(key(k), f.get_int(key(k))); };

  c.dim = get("embedding_length");
  c.n_layers = get("block_count");
  c.hidden_dim = get("feed_forward_length");
  c.n_heads = get("attention.head_count");
  c.n_kv_heads = c.n_heads;
  if (auto v = f.find_int(key("attention.head_count_kv"))) c.n_kv_heads = to_int(key("attention.head_count_kv"), *v);
  c.max_seq_len = get("context_length");
  if (auto v = f.find_int(key("attention.key_length"))) {
    c.head_dim = to_int(key("attention.key_length"), *v);
  } else {
    if (c.n_heads <= 0 || c.dim % c.n_heads != 0)
      fail(where, "invalid model config: embedding_length " + std::to_string(c.dim) +
                      " is not a multiple of head_count " + std::to_string(c.n_heads));
    c.head_dim = c.dim / c.n_heads;
  }
  if (auto v = f.find_int(key("attention.value_length")); v && *v != c.head_dim)
    fail(where, "attention.value_length " + std::to_string(*v) + " differs from key_length " +
                    std::to_string(c.head_dim) + " (not supported)");
  if (auto v = f.find_int(key("rope.dimension_count")); v && *v != c.head_dim)
    fail(where, "partial rotary embeddings (rope.dimension_count " + std::to_string(*v) + ", head_dim " +
                    std::to_string(c.head_dim) + ") are not supported");
  c.norm_eps = static_cast<float>(f.get_float(key("attention.layer_norm_rms_epsilon")));
  c.rope_theta = static_cast<float>(f.find_float(key("rope.freq_base")).value_or(10000.0));

  if (auto type = f.find_string(key("rope.scaling.type"))) {
    if (*type == "linear") {
      c.rope_scaling.type = RopeScaling::Type::Linear;
      c.rope_scaling.factor = static_cast<float>(f.get_float(key("rope.scaling.factor")));
    } else if (*type != "none") {
      fail(where, "unsupported rope scaling type " + *type + " (supported: none, linear)");
    }
  } else if (auto factor = f.find_float(key("rope.scale_linear")); factor && *factor != 1.0) {
    c.rope_scaling.type = RopeScaling::Type::Linear;  // older converters
    c.rope_scaling.factor = static_cast<float>(*factor);
  }
  if (f.find_tensor("rope_freqs.weight") != nullptr)
    fail(where,
         "tensor rope_freqs.weight (per-dimension RoPE frequency factors, as in Llama 3.1) is not supported yet");

  if (const auto* tokens = f.find_string_array("tokenizer.ggml.tokens")) {
    if (tokens->size() > static_cast<size_t>(INT_MAX)) fail(where, "tokenizer.ggml.tokens is too large");
    c.vocab_size = static_cast<int>(tokens->size());
  } else if (const auto* emb = f.find_tensor("token_embd.weight"); emb && emb->ne.size() == 2) {
    c.vocab_size = to_int("token_embd.weight ne[1]", static_cast<int64_t>(emb->ne[1]));
  } else {
    fail(where, "cannot tell the vocabulary size: no tokenizer.ggml.tokens and no 2-D token_embd.weight");
  }

  // Tied when there is no output.weight, or when it is a byte-identical copy of the embedding (what converters
  // write for tied models; llama2.c's export uses the same test for its shared classifier).
  const gguf::TensorInfo* out = f.find_tensor("output.weight");
  const gguf::TensorInfo* emb = f.find_tensor("token_embd.weight");
  c.tie_embeddings = out == nullptr || (emb != nullptr && same_tensor_bytes(f, *emb, *out));
  c.attn_qkv_bias = c.arch == Arch::Qwen2 || (c.arch == Arch::Llama && f.find_tensor("blk.0.attn_q.bias") != nullptr);
  c.qk_norm = c.arch == Arch::Qwen3;

  // Special token ids; UINT32_MAX (or -1) means "none" in llama.cpp files.
  auto token_id = [&](const std::string& k) -> std::optional<int> {
    auto v = f.find_int(k);
    if (!v || *v == -1 || *v == 0xffffffffLL) return std::nullopt;
    return to_int(k, *v);
  };
  if (auto v = token_id("tokenizer.ggml.bos_token_id")) c.bos_id = *v;
  for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (auto v = token_id(k))
      if (std::find(c.eos_ids.begin(), c.eos_ids.end(), *v) == c.eos_ids.end()) c.eos_ids.push_back(*v);
  c.validate(where);
  return c;
}

}  // namespace verbatim

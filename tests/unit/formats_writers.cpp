#include "unit/formats_writers.h"

#include <fstream>

#include "support/test_support.h"

namespace verbatim::testing {

namespace {

std::vector<float> lcg_values(size_t n, uint32_t& state) {
  std::vector<float> v(n);
  for (auto& x : v) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) / static_cast<float>(1 << 23);
  }
  return v;
}

}  // namespace

TinyModel make_tiny(const std::string& arch, bool tied, int kv_heads) {
  TinyModel m;
  m.arch = arch;
  m.tied = tied;
  m.kv_heads = kv_heads;
  fill_tiny(m);
  return m;
}

void fill_tiny(TinyModel& m) {
  const std::string& arch = m.arch;
  const bool tied = m.tied;
  m.hf.clear();
  uint32_t state = 12345;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    m.hf[name] = {shape, lcg_values(n, state)};
  };
  const int64_t dim = m.dim, hid = m.hidden, q = m.q_dim(), kv = m.kv_dim(), vocab = m.vocab;
  add("model.embed_tokens.weight", {vocab, dim});
  for (int i = 0; i < m.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {dim});
    add(p + "self_attn.q_proj.weight", {q, dim});
    add(p + "self_attn.k_proj.weight", {kv, dim});
    add(p + "self_attn.v_proj.weight", {kv, dim});
    add(p + "self_attn.o_proj.weight", {dim, q});
    if (arch == "qwen2") {
      add(p + "self_attn.q_proj.bias", {q});
      add(p + "self_attn.k_proj.bias", {kv});
      add(p + "self_attn.v_proj.bias", {kv});
    }
    if (arch == "qwen3") {
      add(p + "self_attn.q_norm.weight", {m.head_dim});
      add(p + "self_attn.k_norm.weight", {m.head_dim});
    }
    add(p + "post_attention_layernorm.weight", {dim});
    add(p + "mlp.gate_proj.weight", {hid, dim});
    add(p + "mlp.up_proj.weight", {hid, dim});
    add(p + "mlp.down_proj.weight", {dim, hid});
  }
  add("model.norm.weight", {dim});
  if (!tied) add("lm_head.weight", {vocab, dim});
}

nlohmann::json tiny_hf_config(const TinyModel& m) {
  static const std::map<std::string, std::string> archs = {
      {"llama", "LlamaForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}, {"qwen3", "Qwen3ForCausalLM"}};
  nlohmann::json j = {{"architectures", {archs.at(m.arch)}},
                      {"model_type", m.arch},
                      {"hidden_size", m.dim},
                      {"intermediate_size", m.hidden},
                      {"num_hidden_layers", m.layers},
                      {"num_attention_heads", m.heads},
                      {"num_key_value_heads", m.kv_heads},
                      {"vocab_size", m.vocab},
                      {"max_position_embeddings", m.seq},
                      {"rope_theta", 10000.0},
                      {"rms_norm_eps", 1e-5},
                      {"tie_word_embeddings", m.tied},
                      {"bos_token_id", 1},
                      {"eos_token_id", 2},
                      {"hidden_act", "silu"}};
  if (m.arch == "qwen3") j["head_dim"] = m.head_dim;
  return j;
}

void write_tiny_hf(const TinyModel& m, const std::string& dir) {
  write_file(dir + "/config.json", tiny_hf_config(m).dump(2));
  SafetensorsWriter w;
  for (const auto& [name, t] : m.hf) w.tensor_f32(name, t.first, t.second);
  std::string bytes = w.build();
  write_file(dir + "/model.safetensors", bytes);
}

std::vector<float> interleave_rows(const std::vector<float>& hf, int rows, int cols, int head_dim) {
  std::vector<float> out(hf.size());
  const int half = head_dim / 2;
  for (int h = 0; h < rows / head_dim; ++h)
    for (int i = 0; i < half; ++i)
      for (int s = 0; s < 2; ++s)
        for (int c = 0; c < cols; ++c)
          out[static_cast<size_t>((h * head_dim + 2 * i + s) * cols + c)] =
              hf[static_cast<size_t>((h * head_dim + s * half + i) * cols + c)];
  return out;
}

std::string tiny_gguf(const TinyModel& m, GgufWriter* writer) {
  GgufWriter local;
  GgufWriter& w = writer ? *writer : local;
  const std::string a = m.arch;
  w.kv_str("general.architecture", a);
  w.kv_u32(a + ".context_length", static_cast<uint32_t>(m.seq));
  w.kv_u32(a + ".embedding_length", static_cast<uint32_t>(m.dim));
  w.kv_u32(a + ".feed_forward_length", static_cast<uint32_t>(m.hidden));
  w.kv_u32(a + ".block_count", static_cast<uint32_t>(m.layers));
  w.kv_u32(a + ".attention.head_count", static_cast<uint32_t>(m.heads));
  w.kv_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(m.kv_heads));
  if (a == "qwen3") w.kv_u32(a + ".attention.key_length", static_cast<uint32_t>(m.head_dim));
  w.kv_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  w.kv_f32(a + ".rope.freq_base", 10000.0f);
  std::vector<std::string> tokens;
  for (int i = 0; i < m.vocab; ++i) tokens.push_back(std::string("t").append(std::to_string(i)));
  w.kv_str_array("tokenizer.ggml.tokens", tokens);
  w.kv_u32("tokenizer.ggml.bos_token_id", 1);
  w.kv_u32("tokenizer.ggml.eos_token_id", 2);

  const bool permute = a == "llama";
  auto put_t = [&](const std::string& gguf_name, const std::string& hf_name, bool qk, int rows_per_head) {
    const auto& [shape, values] = m.hf.at(hf_name);
    std::vector<uint64_t> ne(shape.rbegin(), shape.rend());
    const int rows = static_cast<int>(shape[0]);
    const int cols = shape.size() > 1 ? static_cast<int>(shape[1]) : 1;
    if (auto q = m.gguf_blocks.find(hf_name); q != m.gguf_blocks.end()) {
      // Raw ggml blocks: whole rows are whole blocks, so the Q/K row permutation moves bytes of rows.
      const std::string& bytes = q->second.second;
      std::string out = bytes;
      if (permute && qk) {
        const size_t row_bytes = bytes.size() / static_cast<size_t>(rows);
        const int half = rows_per_head / 2;
        for (int h = 0; h < rows / rows_per_head; ++h)
          for (int i = 0; i < half; ++i)
            for (int s = 0; s < 2; ++s)
              out.replace(static_cast<size_t>(h * rows_per_head + 2 * i + s) * row_bytes, row_bytes, bytes,
                          static_cast<size_t>(h * rows_per_head + s * half + i) * row_bytes, row_bytes);
      }
      w.tensor(gguf_name, ne, q->second.first, std::move(out));
      return;
    }
    w.tensor_f32(gguf_name, ne, permute && qk ? interleave_rows(values, rows, cols, rows_per_head) : values);
  };
  put_t("token_embd.weight", "model.embed_tokens.weight", false, 0);
  for (int i = 0; i < m.layers; ++i) {
    const std::string g = "blk." + std::to_string(i) + ".", h = "model.layers." + std::to_string(i) + ".";
    put_t(g + "attn_norm.weight", h + "input_layernorm.weight", false, 0);
    put_t(g + "attn_q.weight", h + "self_attn.q_proj.weight", true, m.head_dim);
    put_t(g + "attn_k.weight", h + "self_attn.k_proj.weight", true, m.head_dim);
    put_t(g + "attn_v.weight", h + "self_attn.v_proj.weight", false, 0);
    put_t(g + "attn_output.weight", h + "self_attn.o_proj.weight", false, 0);
    if (a == "qwen2") {
      put_t(g + "attn_q.bias", h + "self_attn.q_proj.bias", true, m.head_dim);
      put_t(g + "attn_k.bias", h + "self_attn.k_proj.bias", true, m.head_dim);
      put_t(g + "attn_v.bias", h + "self_attn.v_proj.bias", false, 0);
    }
    if (a == "qwen3") {
      put_t(g + "attn_q_norm.weight", h + "self_attn.q_norm.weight", false, 0);
      put_t(g + "attn_k_norm.weight", h + "self_attn.k_norm.weight", false, 0);
    }
    put_t(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", false, 0);
    put_t(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", false, 0);
    put_t(g + "ffn_up.weight", h + "mlp.up_proj.weight", false, 0);
    put_t(g + "ffn_down.weight", h + "mlp.down_proj.weight", false, 0);
  }
  put_t("output_norm.weight", "model.norm.weight", false, 0);
  if (!m.tied) put_t("output.weight", "lm_head.weight", false, 0);
  return w.build();
}

std::string tiny_llama2c(const TinyModel& m, int version) {
  std::string out;
  const int vocab_field = m.tied ? m.vocab : -m.vocab;
  if (version == 1) {
    put<uint32_t>(out, 0x616b3432);
    put<int32_t>(out, 1);
  }
  for (int x : {m.dim, m.hidden, m.layers, m.heads, m.kv_heads, version == 1 ? m.vocab : vocab_field, m.seq})
    put<int32_t>(out, x);
  if (version == 1) {
    out += static_cast<char>(m.tied ? 1 : 0);
    out.resize(256, '\0');
  }
  auto all_layers = [&](const std::string& suffix, bool qk) {
    for (int i = 0; i < m.layers; ++i) {
      const auto& [shape, values] = m.hf.at("model.layers." + std::to_string(i) + "." + suffix);
      out += float_bytes(
          qk ? interleave_rows(values, static_cast<int>(shape[0]), static_cast<int>(shape[1]), m.head_dim) : values);
    }
  };
  auto one = [&](const std::string& name) { out += float_bytes(m.v(name)); };
  if (version == 0) {
    one("model.embed_tokens.weight");
    all_layers("input_layernorm.weight", false);
  } else {
    all_layers("input_layernorm.weight", false);
    all_layers("post_attention_layernorm.weight", false);
    one("model.norm.weight");
    one("model.embed_tokens.weight");
  }
  all_layers("self_attn.q_proj.weight", true);
  all_layers("self_attn.k_proj.weight", true);
  all_layers("self_attn.v_proj.weight", false);
  all_layers("self_attn.o_proj.weight", false);
  if (version == 0) all_layers("post_attention_layernorm.weight", false);
  all_layers("mlp.gate_proj.weight", false);
  all_layers("mlp.down_proj.weight", false);
  all_layers("mlp.up_proj.weight", false);
  if (version == 0) {
    one("model.norm.weight");
    out += float_bytes(std::vector<float>(static_cast<size_t>(m.seq * m.head_dim), 0.5f));  // freq_cis real + imag
  }
  if (!m.tied) one("lm_head.weight");
  return out;
}

}  // namespace verbatim::testing

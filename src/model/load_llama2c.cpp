// llama2.c checkpoints: fp32 views into the map, Q/K rows permuted from interleaved-pair RoPE to rotate-halves.
#include "formats/llama2c.h"
#include "model/load_common.h"
#include "util/error.h"

namespace verbatim::detail {

std::unique_ptr<Model> load_llama2c(const std::string& path) {
  return load_llama2c(std::make_shared<const llama2c::Checkpoint>(path));
}

std::unique_ptr<Model> load_llama2c(std::shared_ptr<const llama2c::Checkpoint> ck) {
  const std::string& path = ck->path();
  auto m = std::make_unique<Model>();
  m->format = ModelFormat::Llama2c;
  m->path = path;
  m->storage.push_back(ck);
  const ModelConfig& c = m->config = config_from_llama2c(ck->header(), path);
  const llama2c::Weights& w = ck->weights();

  // Layer `i` of a layer-stacked array, as a tensor of `shape`.
  auto slice = [&](const std::string& name, std::span<const float> all, int i, std::vector<int64_t> shape) {
    Tensor t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = std::move(shape);
    const size_t n = static_cast<size_t>(t.numel());
    if (all.size() < (static_cast<size_t>(i) + 1) * n) fail(path, "internal error: " + name + " view too short");
    t.data = all.data() + static_cast<size_t>(i) * n;
    return t;
  };
  const int64_t dim = c.dim, hidden = c.hidden_dim, q = c.q_dim(), kv = c.kv_dim(), vocab = c.vocab_size;
  ModelWeights& mw = m->weights;
  mw.tok_embeddings = slice("token_embedding_table", w.token_embedding, 0, {vocab, dim});
  mw.layers.resize(static_cast<size_t>(c.n_layers));
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerWeights& l = mw.layers[static_cast<size_t>(i)];
    l.attn_norm = slice(p + "rms_att_weight", w.rms_att, i, {dim});
    l.wq = permute_rope_rows(slice(p + "wq", w.wq, i, {q, dim}), c.head_dim, m->storage);
    l.wk = permute_rope_rows(slice(p + "wk", w.wk, i, {kv, dim}), c.head_dim, m->storage);
    l.wv = slice(p + "wv", w.wv, i, {kv, dim});
    l.wo = slice(p + "wo", w.wo, i, {dim, q});
    l.ffn_norm = slice(p + "rms_ffn_weight", w.rms_ffn, i, {dim});
    l.w_gate = slice(p + "w1", w.w1, i, {hidden, dim});
    l.w_down = slice(p + "w2", w.w2, i, {dim, hidden});
    l.w_up = slice(p + "w3", w.w3, i, {hidden, dim});
  }
  mw.final_norm = slice("rms_final_weight", w.rms_final, 0, {dim});
  mw.lm_head = c.tie_embeddings ? mw.tok_embeddings : slice("wcls", w.wcls, 0, {vocab, dim});
  return m;
}

}  // namespace verbatim::detail

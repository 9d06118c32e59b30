// Internal to the model loaders: tensor naming schemes, shape checks, and the exact Q/K row permutation that turns
// interleaved-pair RoPE weights into the canonical rotate-halves layout (see model.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace verbatim::gguf {
class File;
}
namespace verbatim::llama2c {
class Checkpoint;
}

namespace verbatim::detail {

// Where each weight lives in a file: global names plus per-layer suffixes after "<layer_prefix><N>.".
struct NameScheme {
  std::string tok_embeddings, final_norm, lm_head;
  std::string layer_prefix;
  std::string attn_norm, wq, wk, wv, wo, bq, bk, bv, q_norm, k_norm, ffn_norm, w_gate, w_up, w_down;
};
extern const NameScheme kHfNames;
extern const NameScheme kGgufNames;

// Returns the named tensor checked against `shape` (row-major, outermost first); throws Error naming the file and
// tensor when it is missing, has an unsupported dtype or another shape.
using FetchTensor = std::function<Tensor(const std::string& name, const std::vector<int64_t>& shape)>;

// Fills every weight the config calls for (biases only with attn_qkv_bias, q/k norms only with qk_norm; lm_head
// aliases tok_embeddings when tied).
ModelWeights fetch_weights(const ModelConfig& c, const NameScheme& names, const FetchTensor& fetch);

std::string shape_string(const std::vector<int64_t>& shape);

// A copy of `bytes` in memory owned by `storage`, aligned for any element type.
const void* own_copy(const void* bytes, size_t n, std::vector<std::shared_ptr<const void>>& storage);

// Tensor `t` viewed in place when `data` is aligned for its dtype, else copied into `storage`.
Tensor aligned_view(Tensor t, std::vector<std::shared_ptr<const void>>& storage);

// Q/K rows (or biases) stored for RoPE on interleaved pairs (x[2i], x[2i+1]) -> rotate-halves order: within each
// head of `head_dim` rows, new row j = old row 2j and new row head_dim/2 + j = old row 2j + 1. Copies into storage.
Tensor permute_rope_rows(const Tensor& t, int head_dim, std::vector<std::shared_ptr<const void>>& storage);

std::unique_ptr<Model> load_hf(const std::string& dir);
std::unique_ptr<Model> load_gguf(const std::string& path);
std::unique_ptr<Model> load_llama2c(const std::string& path);
// The same from parsed files (the fuzz targets load from memory this way). The model keeps `file` alive.
std::unique_ptr<Model> load_gguf(std::shared_ptr<const gguf::File> file);
std::unique_ptr<Model> load_llama2c(std::shared_ptr<const llama2c::Checkpoint> checkpoint);

}  // namespace verbatim::detail

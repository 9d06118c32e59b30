// A loaded model: its config and its weights in one canonical layout, whatever the file format was.
//
// Canonical layout (what every forward pass and kernel may assume):
// - Linear weights are [out_features, in_features], row-major; y = W x.
// - RoPE rotates halves (the Hugging Face / NeoX convention): within each head of size d, element i pairs with
//   element i + d/2, frequency theta^(-2i/d). Loaders of formats that store Q/K for interleaved rotation (llama2.c,
//   GGUF `llama`) permute the Q/K rows (and biases) at load; that copy is exact, so every format gives the same bits.
//   Within each head, canonical row j < d/2 is stored row 2j and canonical row d/2 + j is stored row 2j + 1.
//   What the files hold: llama2.c (and Meta) checkpoints are natively interleaved; llama.cpp's converter permutes HF
//   checkpoints into that same order for arch `llama`, so stories260K.bin and stories260K-f32.gguf hold
//   byte-identical Q/K rows (tests/golden/load_stories260k_test.cpp). GGUF `qwen2`/`qwen3` use NeoX RoPE: HF order.
// - F32/F16/BF16 weights are kept as stored (memory-mapped); quantized GGUF types are dequantized at load.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/tensor.h"
#include "util/mapped_file.h"

namespace verbatim {

struct LayerWeights {
  Tensor attn_norm;  // [dim]
  Tensor wq;         // [n_heads * head_dim, dim]
  Tensor wk;         // [n_kv_heads * head_dim, dim]
  Tensor wv;         // [n_kv_heads * head_dim, dim]
  Tensor wo;         // [dim, n_heads * head_dim]
  Tensor bq;         // [n_heads * head_dim]     Qwen2 only, else empty
  Tensor bk;         // [n_kv_heads * head_dim]  Qwen2 only, else empty
  Tensor bv;         // [n_kv_heads * head_dim]  Qwen2 only, else empty
  Tensor q_norm;     // [head_dim]  Qwen3 only, else empty
  Tensor k_norm;     // [head_dim]  Qwen3 only, else empty
  Tensor ffn_norm;   // [dim]
  Tensor w_gate;     // [hidden_dim, dim]
  Tensor w_up;       // [hidden_dim, dim]
  Tensor w_down;     // [dim, hidden_dim]
};

struct ModelWeights {
  Tensor tok_embeddings;  // [vocab, dim]
  std::vector<LayerWeights> layers;
  Tensor final_norm;  // [dim]
  Tensor lm_head;     // [vocab, dim]; the same memory as tok_embeddings when tied
};

enum class ModelFormat { HfDirectory, Gguf, Llama2c };

class Model {
 public:
  // Loads a Hugging Face directory (config.json + safetensors), a .gguf file or a llama2.c .bin checkpoint; the
  // format is detected from the path and the file's magic. Throws Error naming the file and the problem.
  static std::unique_ptr<Model> load(const std::string& path);

  ModelConfig config;
  ModelWeights weights;
  ModelFormat format = ModelFormat::HfDirectory;
  std::string path;
  // Where the tokenizer lives: the HF directory's tokenizer.json, the GGUF file itself; empty for llama2.c (whose
  // tokenizer is a separate file the user names).
  std::string tokenizer_path;

  // Storage behind the tensors. Kept alive with the model; never mutated after load.
  std::vector<std::shared_ptr<const void>> storage;
};

}  // namespace verbatim

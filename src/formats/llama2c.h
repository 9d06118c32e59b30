// llama2.c checkpoints (the legacy fp32 format of run.c: a header of 7 int32, then the weights) and llama2.c
// tokenizer files (tok512.bin / tokenizer.bin). Validated against the file size; malformed input throws
// verbatim::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/mapped_file.h"

namespace verbatim::llama2c {

struct Header {
  int32_t dim = 0;
  int32_t hidden_dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t vocab_size = 0;  // absolute value of the header field
  int32_t seq_len = 0;
  bool shared_classifier = true;  // header vocab_size > 0: the classifier is the token embedding
};

// fp32 views into the map, in llama2.c's layout (row-major, outermost first). Layer-stacked tensors have the layer
// as their outermost dimension. Q and K rows are in llama2.c's order (RoPE on interleaved pairs).
struct Weights {
  std::span<const float> token_embedding;  // [vocab, dim]
  std::span<const float> rms_att;          // [n_layers, dim]
  std::span<const float> wq;               // [n_layers, n_heads * head_size, dim]
  std::span<const float> wk;               // [n_layers, n_kv_heads * head_size, dim]
  std::span<const float> wv;               // [n_layers, n_kv_heads * head_size, dim]
  std::span<const float> wo;               // [n_layers, dim, n_heads * head_size]
  std::span<const float> rms_ffn;          // [n_layers, dim]
  std::span<const float> w1;               // [n_layers, hidden_dim, dim]  (gate)
  std::span<const float> w2;               // [n_layers, dim, hidden_dim]  (down)
  std::span<const float> w3;               // [n_layers, hidden_dim, dim]  (up)
  std::span<const float> rms_final;        // [dim]
  std::span<const float> wcls;             // [vocab, dim]; equals token_embedding when shared
};

class Checkpoint {
 public:
  explicit Checkpoint(const std::string& path);  // throws Error
  static std::unique_ptr<Checkpoint> parse_memory(const uint8_t* data, size_t size, const std::string& name);
  const std::string& path() const { return name_; }
  const Header& header() const { return header_; }
  const Weights& weights() const { return weights_; }

 private:
  Checkpoint() = default;
  void parse(std::span<const uint8_t> bytes);
  std::string name_;
  std::unique_ptr<MappedFile> mapped_;
  Header header_;
  Weights weights_;
};

struct TokenizerFile {
  int32_t max_token_length = 0;
  std::vector<std::string> pieces;  // raw bytes as stored (llama2.c stores spaces, not U+2581)
  std::vector<float> scores;
};

// Reads records until the end of the file. Throws Error on truncation, negative lengths, or lengths past the end.
TokenizerFile read_tokenizer(const std::string& path);
TokenizerFile parse_tokenizer(std::span<const uint8_t> bytes, const std::string& name);

}  // namespace verbatim::llama2c

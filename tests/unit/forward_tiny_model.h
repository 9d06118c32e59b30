// Tiny random Llama-family models built in memory (weights owned by Model::storage), and an independent naive
// double-precision forward pass over a whole sequence, for the tests of the fp32 reference forward pass.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "model/model.h"

namespace verbatim::testing {

struct TinySpec {
  std::string label = "llama";
  Arch arch = Arch::Llama;
  int dim = 32;
  int hidden_dim = 48;
  int n_layers = 2;
  int n_heads = 4;
  int n_kv_heads = 2;
  int head_dim = 8;
  int vocab_size = 64;
  int max_seq_len = 64;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  bool tied = true;
  bool qkv_bias = false;
  bool qk_norm = false;
  DType dtype = DType::F32;  // every tensor is stored as this (values rounded to it)
  uint64_t seed = 1;
};

// gtest prints a TinySpec parameter by its label.
inline void PrintTo(const TinySpec& spec, std::ostream* os) {
  *os << spec.label;
}

// A model with uniform random weights scaled so activations stay O(1). The same spec and seed give the same values
// whatever the dtype, up to the dtype's rounding.
std::unique_ptr<Model> make_tiny_model(const TinySpec& spec);

// The same model with every tensor converted exactly to F32 (tied lm_head stays shared).
std::unique_ptr<Model> to_f32_model(const Model& model);

// Logits [tokens.size()][vocab] of the whole sequence, computed in double from the definitions (causal attention over
// the full sequence, RoPE with double frequencies and angles), without the KV cache or the kernels.
std::vector<std::vector<double>> naive_forward(const Model& model, const std::vector<int32_t>& tokens);

}  // namespace verbatim::testing

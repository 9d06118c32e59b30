// Loading llama2.c checkpoints: the same canonical weights as the HF layout (Q/K rows permuted from interleaved-pair
// RoPE to rotate-halves), checked both against the tiny model and against RoPE itself.
#include <gtest/gtest.h>

#include <cmath>

#include "formats/llama2c.h"
#include "model/model.h"
#include "support/test_support.h"
#include "unit/formats_writers.h"
#include "unit/model_load_support.h"

namespace verbatim {
namespace {

using testing::error_of;
using testing::make_tiny;
using testing::TinyModel;

std::string write_bin(const std::string& bytes) {
  const std::string path = testing::temp_dir() + "/model.bin";
  testing::write_file(path, bytes);
  return path;
}

TEST(ModelLoadLlama2c, MatchesHfWeights) {
  for (int version : {0, 1}) {
    for (bool tied : {true, false}) {
      SCOPED_TRACE("version " + std::to_string(version) + (tied ? " tied" : " untied"));
      TinyModel m = make_tiny("llama", tied);
      const std::string path = write_bin(testing::tiny_llama2c(m, version));
      auto model = Model::load(path);
      EXPECT_EQ(model->format, ModelFormat::Llama2c);
      EXPECT_EQ(model->path, path);
      EXPECT_EQ(model->tokenizer_path, "");
      const ModelConfig& c = model->config;
      EXPECT_EQ(c.arch, Arch::Llama);
      EXPECT_EQ(c.max_seq_len, m.seq);
      EXPECT_EQ(c.rope_theta, 10000.0f);
      EXPECT_EQ(c.norm_eps, 1e-5f);
      EXPECT_EQ(c.bos_id, 1);
      EXPECT_EQ(c.eos_ids, std::vector<int>{2});
      EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::None);
      testing::expect_matches_tiny(*model, m);
    }
  }
}

// RoPE on one head vector, llama2.c style (pairs x[2i], x[2i+1]) or HF style (pairs x[i], x[i + d/2]).
void rope(std::vector<float>& v, int head_dim, int pos, bool interleaved) {
  const int half = head_dim / 2;
  for (size_t h = 0; h < v.size() / static_cast<size_t>(head_dim); ++h) {
    float* x = v.data() + h * static_cast<size_t>(head_dim);
    for (int i = 0; i < half; ++i) {
      const float freq = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / static_cast<float>(head_dim));
      const float angle = static_cast<float>(pos) * freq, c = std::cos(angle), s = std::sin(angle);
      float& a = x[interleaved ? 2 * i : i];
      float& b = x[interleaved ? 2 * i + 1 : i + half];
      const float a0 = a, b0 = b;
      a = a0 * c - b0 * s;
      b = a0 * s + b0 * c;
    }
  }
}

std::vector<float> matvec(const float* w, int rows, int cols, const std::vector<float>& x) {
  std::vector<float> y(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    float acc = 0;
    for (int c = 0; c < cols; ++c) acc += w[static_cast<size_t>(r) * cols + c] * x[static_cast<size_t>(c)];
    y[static_cast<size_t>(r)] = acc;
  }
  return y;
}

// The canonical weights with rotate-halves RoPE compute exactly what llama2.c computes with its own weights and
// interleaved RoPE: element i of a canonical head is element 2i of llama2.c's, element d/2 + i is element 2i + 1.
void expect_rope_equivalent(const Tensor& canonical, const float* raw, int head_dim, const std::vector<float>& x) {
  const int rows = static_cast<int>(canonical.shape[0]), cols = static_cast<int>(canonical.shape[1]);
  ASSERT_EQ(canonical.dtype, DType::F32);
  const int half = head_dim / 2;
  for (int pos : {0, 1, 7, 31}) {
    std::vector<float> ours = matvec(static_cast<const float*>(canonical.data), rows, cols, x);
    std::vector<float> theirs = matvec(raw, rows, cols, x);
    rope(ours, head_dim, pos, false);
    rope(theirs, head_dim, pos, true);
    for (int h = 0; h < rows / head_dim; ++h)
      for (int i = 0; i < half; ++i) {
        const size_t b = static_cast<size_t>(h * head_dim);
        ASSERT_EQ(ours[b + i], theirs[b + 2 * i]) << "pos " << pos << " head " << h << " i " << i;
        ASSERT_EQ(ours[b + half + i], theirs[b + 2 * i + 1]) << "pos " << pos << " head " << h << " i " << i;
      }
  }
}

TEST(ModelLoadLlama2c, PermutedQkGiveTheSameRope) {
  TinyModel m = make_tiny("llama", true, 2);
  const std::string path = write_bin(testing::tiny_llama2c(m));
  auto model = Model::load(path);
  llama2c::Checkpoint raw(path);
  std::vector<float> x(static_cast<size_t>(m.dim));
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 1.5f;
  for (int l = 0; l < m.layers; ++l) {
    const size_t q_n = static_cast<size_t>(m.q_dim() * m.dim), k_n = static_cast<size_t>(m.kv_dim() * m.dim);
    expect_rope_equivalent(model->weights.layers[l].wq, raw.weights().wq.data() + l * q_n, m.head_dim, x);
    expect_rope_equivalent(model->weights.layers[l].wk, raw.weights().wk.data() + l * k_n, m.head_dim, x);
    // V is not rotated: its rows keep llama2.c's order.
    EXPECT_EQ(std::memcmp(model->weights.layers[l].wv.data, raw.weights().wv.data() + l * k_n, k_n * 4), 0);
  }
}

TEST(ModelLoadLlama2c, BadFilesNameThePath) {
  const std::string good = testing::tiny_llama2c(make_tiny());
  const std::string path = testing::temp_dir() + "/bad.bin";
  auto load_error = [&](const std::string& bytes) {
    testing::write_file(path, bytes);
    return error_of([&] { Model::load(path); });
  };
  // Sampled cut points (writing files is slow); formats_llama2c_test tries every prefix in memory.
  for (size_t n = 0; n < good.size(); n += (n < 40 ? 3 : 997)) {
    std::string msg = load_error(good.substr(0, n));
    ASSERT_EQ(msg.rfind(path + ": truncated", 0), 0u) << "cut at " << n << ": " << msg;
  }
  std::string v2 = testing::tiny_llama2c(make_tiny(), 1);
  testing::poke<int32_t>(v2, 4, 3);
  EXPECT_EQ(load_error(v2),
            path + ": unsupported llama2.c export version 3 (supported: the legacy format and version 1, fp32)");
  std::string msg = load_error("this is not a model file at all, just some text long enough");
  EXPECT_EQ(msg.rfind(path + ": invalid llama2.c header", 0), 0u) << msg;
}

}  // namespace
}  // namespace verbatim

// The in-memory synthetic model (the demo's embedded default) is bitwise the model `verbatim synth` writes and
// Model::load reads back: same config, same tensor bytes, and a tokenizer that encodes and stops the same.
#include "model/synth_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "app/model_bundle.h"
#include "model/synth_model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace verbatim::synth {
namespace {

namespace fs = std::filesystem;

void expect_same_tensor(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.empty(), b.empty()) << a.name;
  if (a.empty()) return;
  EXPECT_EQ(a.dtype, b.dtype) << a.name;
  ASSERT_EQ(a.shape, b.shape) << a.name;
  EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes()), 0) << a.name << " differs";
}

TEST(SynthMemory, BitwiseTheWrittenAndLoadedModel) {
  for (const char* arch : {"qwen3-tiny", "qwen2-tiny", "llama-tiny"}) {
    const std::string dir = testing::temp_dir();
    SynthOptions o;
    o.arch = arch;
    o.seed = 7;
    o.layers = 2;
    o.out_dir = dir;
    write_synth_model(o);
    auto loaded = Model::load(dir);
    auto mem = make_synth_model({.arch = arch, .seed = 7, .dtype = DType::BF16, .layers = 2});

    const ModelConfig &a = loaded->config, &b = mem->config;
    EXPECT_EQ(a.arch, b.arch);
    EXPECT_EQ(a.dim, b.dim);
    EXPECT_EQ(a.n_layers, 2);
    EXPECT_EQ(b.n_layers, 2);
    EXPECT_EQ(a.vocab_size, b.vocab_size);
    EXPECT_EQ(a.rope_theta, b.rope_theta);
    EXPECT_EQ(a.norm_eps, b.norm_eps);
    EXPECT_EQ(a.tie_embeddings, b.tie_embeddings);
    EXPECT_EQ(a.bos_id, b.bos_id);
    EXPECT_EQ(a.eos_ids, b.eos_ids);
    EXPECT_EQ(a.rope_scaling.type, b.rope_scaling.type);
    EXPECT_EQ(a.generation.temperature, b.generation.temperature);
    EXPECT_EQ(a.generation.top_k, b.generation.top_k);

    expect_same_tensor(loaded->weights.tok_embeddings, mem->weights.tok_embeddings);
    expect_same_tensor(loaded->weights.final_norm, mem->weights.final_norm);
    expect_same_tensor(loaded->weights.lm_head, mem->weights.lm_head);
    ASSERT_EQ(loaded->weights.layers.size(), mem->weights.layers.size());
    for (size_t l = 0; l < mem->weights.layers.size(); ++l) {
      const LayerWeights &x = loaded->weights.layers[l], &y = mem->weights.layers[l];
      for (auto m :
           {&LayerWeights::attn_norm, &LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv, &LayerWeights::wo,
            &LayerWeights::bq, &LayerWeights::bk, &LayerWeights::bv, &LayerWeights::q_norm, &LayerWeights::k_norm,
            &LayerWeights::ffn_norm, &LayerWeights::w_gate, &LayerWeights::w_up, &LayerWeights::w_down})
        expect_same_tensor(x.*m, y.*m);
    }

    // The tokenizer of the bundle matches the directory's.
    auto tok = load_tokenizer(dir);
    app::ModelBundle bundle = app::synth_bundle({.arch = arch, .seed = 7, .dtype = DType::BF16, .layers = 2});
    EXPECT_TRUE(bundle.synthetic);
    EXPECT_EQ(bundle.tokenizer->vocab_size(), tok->vocab_size());
    EXPECT_EQ(bundle.tokenizer->eos_ids(), tok->eos_ids());
    EXPECT_EQ(bundle.tokenizer->bos_id(), tok->bos_id());
    EXPECT_EQ(bundle.tokenizer->add_bos(), tok->add_bos());
    const std::string text = "Tell me about Richard Feynman, the physicist.";
    EXPECT_EQ(bundle.tokenizer->encode(text), tok->encode(text));
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}

TEST(SynthMemory, UnknownArchIsAnError) {
  EXPECT_THROW(make_synth_model({.arch = "no-such-arch"}), Error);
  EXPECT_THROW(make_synth_model({.arch = "qwen3-tiny", .layers = -1}), Error);
}

}  // namespace
}  // namespace verbatim::synth

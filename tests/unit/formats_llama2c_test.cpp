// llama2.c checkpoints (legacy and "ak42" version 1) and tokenizer files: valid parses and malformed variants.
#include <gtest/gtest.h>

#include <limits>

#include "formats/llama2c.h"
#include "support/test_support.h"
#include "unit/formats_writers.h"
#include "util/error.h"

namespace verbatim {
namespace {

using testing::make_tiny;
using testing::poke;
using testing::put;
using testing::tiny_llama2c;

const std::string kName = "tiny.bin";

// Parses `bytes` from float-aligned memory, as a map would give; returns the Error message or "".
std::string checkpoint_error(const std::string& bytes) {
  std::vector<float> buf(bytes.size() / 4 + 1);
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  try {
    llama2c::Checkpoint::parse_memory(reinterpret_cast<const uint8_t*>(buf.data()), bytes.size(), kName);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Like checkpoint_error for every prefix, copying the bytes once.
std::vector<std::string> prefix_errors(const std::string& bytes) {
  std::vector<float> buf(bytes.size() / 4 + 1);
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  std::vector<std::string> out;
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      llama2c::Checkpoint::parse_memory(reinterpret_cast<const uint8_t*>(buf.data()), n, kName);
      out.push_back("");
    } catch (const Error& e) {
      out.push_back(e.what());
    }
  }
  return out;
}

#define EXPECT_CHECKPOINT_ERROR(bytes, phrase)               \
  do {                                                       \
    std::string msg_ = checkpoint_error(bytes);              \
    EXPECT_EQ(msg_.rfind(kName + ": ", 0), 0u) << msg_;      \
    EXPECT_NE(msg_.find(phrase), std::string::npos) << msg_; \
  } while (0)

void expect_tiny_weights(const llama2c::Checkpoint& c, const testing::TinyModel& m) {
  const auto& h = c.header();
  EXPECT_EQ(h.dim, m.dim);
  EXPECT_EQ(h.hidden_dim, m.hidden);
  EXPECT_EQ(h.n_layers, m.layers);
  EXPECT_EQ(h.n_heads, m.heads);
  EXPECT_EQ(h.n_kv_heads, m.kv_heads);
  EXPECT_EQ(h.vocab_size, m.vocab);
  EXPECT_EQ(h.seq_len, m.seq);
  EXPECT_EQ(h.shared_classifier, m.tied);
  const auto& w = c.weights();
  auto same = [](std::span<const float> got, const std::vector<float>& want, size_t at) {
    return std::memcmp(got.data() + at, want.data(), want.size() * 4) == 0;
  };
  EXPECT_EQ(w.token_embedding.size(), static_cast<size_t>(m.vocab * m.dim));
  EXPECT_TRUE(same(w.token_embedding, m.v("model.embed_tokens.weight"), 0));
  EXPECT_TRUE(same(w.rms_att, m.v("model.layers.1.input_layernorm.weight"), m.dim));
  EXPECT_TRUE(same(w.rms_ffn, m.v("model.layers.1.post_attention_layernorm.weight"), m.dim));
  EXPECT_TRUE(same(w.wv, m.v("model.layers.1.self_attn.v_proj.weight"), m.kv_dim() * m.dim));
  EXPECT_TRUE(same(w.wo, m.v("model.layers.0.self_attn.o_proj.weight"), 0));
  EXPECT_TRUE(same(w.w1, m.v("model.layers.1.mlp.gate_proj.weight"), m.hidden * m.dim));
  EXPECT_TRUE(same(w.w2, m.v("model.layers.1.mlp.down_proj.weight"), m.hidden * m.dim));
  EXPECT_TRUE(same(w.w3, m.v("model.layers.0.mlp.up_proj.weight"), 0));
  EXPECT_TRUE(same(w.rms_final, m.v("model.norm.weight"), 0));
  EXPECT_EQ(w.wq.size(), static_cast<size_t>(m.layers * m.q_dim() * m.dim));
  EXPECT_EQ(w.wk.size(), static_cast<size_t>(m.layers * m.kv_dim() * m.dim));
  if (m.tied) {
    EXPECT_EQ(w.wcls.data(), w.token_embedding.data());
  } else {
    EXPECT_TRUE(same(w.wcls, m.v("lm_head.weight"), 0));
  }
}

TEST(FormatsLlama2c, LegacySharedAndUnshared) {
  for (bool tied : {true, false}) {
    auto m = make_tiny("llama", tied);
    const std::string bytes = tiny_llama2c(m);
    std::vector<float> buf(bytes.size() / 4);
    std::memcpy(buf.data(), bytes.data(), bytes.size());
    auto c = llama2c::Checkpoint::parse_memory(reinterpret_cast<const uint8_t*>(buf.data()), bytes.size(), kName);
    expect_tiny_weights(*c, m);
  }
}

TEST(FormatsLlama2c, ExportVersion1) {
  for (bool tied : {true, false}) {
    auto m = make_tiny("llama", tied);
    const std::string bytes = tiny_llama2c(m, 1);
    const std::string path = testing::temp_dir() + "/v1.bin";
    testing::write_file(path, bytes);
    llama2c::Checkpoint c(path);
    EXPECT_EQ(c.path(), path);
    expect_tiny_weights(c, m);
  }
  std::string bytes = tiny_llama2c(make_tiny(), 1);
  poke<int32_t>(bytes, 4, 2);
  EXPECT_CHECKPOINT_ERROR(bytes, "unsupported llama2.c export version 2");
  bytes[36] = 7;
  poke<int32_t>(bytes, 4, 1);
  EXPECT_CHECKPOINT_ERROR(bytes, "shared_classifier flag is 7");
}

TEST(FormatsLlama2c, EveryTruncationIsAnError) {
  for (int version : {0, 1}) {
    const std::string bytes = tiny_llama2c(make_tiny(), version);
    ASSERT_EQ(checkpoint_error(bytes), "");
    const std::vector<std::string> errors = prefix_errors(bytes);
    for (size_t n = 0; n < bytes.size(); ++n) {
      const std::string& msg = errors[n];
      ASSERT_EQ(msg.rfind(kName + ": truncated", 0), 0u) << "version " << version << " prefix " << n << ": " << msg;
    }
  }
}

TEST(FormatsLlama2c, TrailingBytesAreAnError) {
  EXPECT_CHECKPOINT_ERROR(tiny_llama2c(make_tiny()) + std::string(4, '\0'), "trailing data");
  // A positive vocab with an unshared classifier written after it shows up as trailing data too.
  auto m = make_tiny("llama", false);
  std::string bytes = tiny_llama2c(m);
  poke<int32_t>(bytes, 20, m.vocab);
  EXPECT_CHECKPOINT_ERROR(bytes, "trailing data");
}

TEST(FormatsLlama2c, NonsenseHeadersAreRejected) {
  const std::string good = tiny_llama2c(make_tiny());
  auto with = [&](int field, int32_t value) {
    std::string b = good;
    poke<int32_t>(b, static_cast<size_t>(field) * 4, value);
    return b;
  };
  EXPECT_CHECKPOINT_ERROR(with(0, 0), "every size must be positive");
  EXPECT_CHECKPOINT_ERROR(with(1, -4), "every size must be positive");
  EXPECT_CHECKPOINT_ERROR(with(2, 0), "every size must be positive");
  EXPECT_CHECKPOINT_ERROR(with(4, 0), "every size must be positive");
  EXPECT_CHECKPOINT_ERROR(with(5, 0), "every size must be positive");
  EXPECT_CHECKPOINT_ERROR(with(5, std::numeric_limits<int32_t>::min()), "every size must be positive");
  EXPECT_CHECKPOINT_ERROR(with(6, -1), "every size must be positive");
  EXPECT_CHECKPOINT_ERROR(with(3, 3), "dim is not a multiple of n_heads");
  EXPECT_CHECKPOINT_ERROR(with(4, 3), "n_heads is not a multiple of n_kv_heads");
  EXPECT_CHECKPOINT_ERROR(with(3, 16), "head size dim / n_heads is odd");
  EXPECT_CHECKPOINT_ERROR(with(0, 0x7ffffffe), "invalid llama2.c header");
  // Huge but valid-looking sizes: the layout overflows or exceeds the file; never allocates or reads.
  std::string huge = with(0, 0x40000000);
  poke<int32_t>(huge, 4, 0x7fffffff);
  poke<int32_t>(huge, 8, 0x7fffffff);
  poke<int32_t>(huge, 12, 2);
  poke<int32_t>(huge, 16, 2);
  EXPECT_CHECKPOINT_ERROR(huge, "weight sizes overflow");
  EXPECT_CHECKPOINT_ERROR(with(2, 1000), "truncated: the header (dim 16, hidden_dim 24, n_layers 1000");
  EXPECT_CHECKPOINT_ERROR(std::string(3, '\0'), "truncated");
}

// ---- tokenizer ----

std::string tokenizer_bytes(const std::vector<std::pair<float, std::string>>& tokens, int32_t max_len = 8) {
  std::string out;
  put<int32_t>(out, max_len);
  for (const auto& [score, piece] : tokens) {
    put<float>(out, score);
    put<int32_t>(out, static_cast<int32_t>(piece.size()));
    out += piece;
  }
  return out;
}

std::string tokenizer_error(const std::string& bytes) {
  try {
    llama2c::parse_tokenizer({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "tok.bin");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(FormatsLlama2c, TokenizerParses) {
  const std::string bytes = tokenizer_bytes({{0.0f, "<unk>"}, {-1.5f, " the"}, {2.0f, ""}, {0.25f, "\xe2\x96\x81"}});
  auto t = llama2c::parse_tokenizer({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "tok.bin");
  EXPECT_EQ(t.max_token_length, 8);
  EXPECT_EQ(t.pieces, (std::vector<std::string>{"<unk>", " the", "", "\xe2\x96\x81"}));
  EXPECT_EQ(t.scores, (std::vector<float>{0.0f, -1.5f, 2.0f, 0.25f}));

  const std::string path = testing::temp_dir() + "/tok.bin";
  testing::write_file(path, bytes);
  EXPECT_EQ(llama2c::read_tokenizer(path).pieces.size(), 4u);
}

TEST(FormatsLlama2c, TokenizerErrors) {
  const std::string bytes = tokenizer_bytes({{0.0f, "ab"}, {1.0f, "cde"}});
  // Records run to the end of the file, so a cut at a record boundary (after "ab": 4 + 4 + 4 + 2 bytes) is a valid,
  // shorter vocabulary; every other cut is an error.
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string msg = tokenizer_error(bytes.substr(0, n));
    if (n == 14) {
      EXPECT_EQ(msg, "");
      continue;
    }
    ASSERT_NE(msg, "") << "prefix " << n;
    EXPECT_EQ(msg.rfind("tok.bin: ", 0), 0u) << msg;
    EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("holds no tokens") != std::string::npos) << msg;
  }
  std::string bad = bytes;
  poke<int32_t>(bad, 8, -1);
  EXPECT_NE(tokenizer_error(bad).find("tok.bin: token #0 has negative length -1"), std::string::npos);
  poke<int32_t>(bad, 8, 0x7fffffff);
  EXPECT_NE(tokenizer_error(bad).find("tok.bin: truncated: token #0 bytes needs 2147483647 bytes"), std::string::npos)
      << tokenizer_error(bad);
  EXPECT_NE(tokenizer_error(tokenizer_bytes({}, -3)).find("invalid max_token_length -3"), std::string::npos);
  EXPECT_NE(tokenizer_error(tokenizer_bytes({})).find("holds no tokens"), std::string::npos);
  const std::string dir = testing::temp_dir();
  testing::write_file(dir + "/empty.bin", "");
  try {
    llama2c::read_tokenizer(dir + "/empty.bin");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir + "/empty.bin: truncated", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace verbatim

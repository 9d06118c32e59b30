// The safetensors writer: HF's exact layout (checked byte for byte against files HF's library wrote), streaming in
// any chunking, read-back through safetensors::File, and its errors.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "formats/safetensors.h"
#include "formats/safetensors_writer.h"
#include "support/test_support.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace verbatim {
namespace {

namespace fs = std::filesystem;

// A fresh temporary directory removed with everything in it when the test ends (the models add up otherwise).
struct ScratchDir {
  std::string path = testing::temp_dir();
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
using safetensors::TensorSpec;

std::string file_bytes(const std::string& path) {
  return read_text_file(path);
}

std::span<const uint8_t> as_bytes(const std::vector<uint8_t>& v) {
  return {v.data(), v.size()};
}

TEST(SynthSafetensorsWriter, HeaderLayoutMatchesTheSafetensorsLibrary) {
  // F32 sorts before BF16 (larger dtypes first), then names; 8-byte length prefix, space padding to 8.
  std::vector<TensorSpec> order = safetensors::data_order({{"b", "BF16", {3}}, {"a", "BF16", {1}}, {"z", "F32", {2}}});
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0].name, "z");
  EXPECT_EQ(order[1].name, "a");
  EXPECT_EQ(order[2].name, "b");
  const std::string h = safetensors::file_header(order, {{"format", "pt"}});
  const std::string json =
      R"({"__metadata__":{"format":"pt"},"z":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[10,16]}})";
  ASSERT_EQ((h.size() - 8) % 8, 0u);
  uint64_t len = 0;
  std::memcpy(&len, h.data(), 8);
  EXPECT_EQ(len, h.size() - 8);
  EXPECT_EQ(h.substr(8, json.size()), json);
  EXPECT_EQ(h.substr(8 + json.size()), std::string(h.size() - 8 - json.size(), ' '));
  EXPECT_LT(h.size() - 8 - json.size(), 8u);
  // No metadata: no "__metadata__" entry at all.
  EXPECT_EQ(safetensors::file_header({}, {}).substr(8, 2), "{}");
}

// Rewrites every tensor of a file HF's safetensors library wrote and expects the very same bytes.
void expect_rewrite_identical(const std::string& path, const std::string& out) {
  safetensors::File f(path);
  std::vector<std::pair<TensorSpec, std::span<const uint8_t>>> tensors;
  for (const auto& t : f.tensors()) tensors.push_back({{t.name, t.dtype, t.shape}, f.data(t)});
  safetensors::write_file(out, tensors, f.metadata());
  EXPECT_EQ(file_bytes(out), file_bytes(path)) << path;
}

TEST(SynthSafetensorsWriter, ByteIdenticalToFilesWrittenByHuggingFace) {
  const std::string hf = testing::fixtures_dir() + "/hf/";
  const ScratchDir scratch;
  const std::string& dir = scratch.path;
  expect_rewrite_identical(hf + "qwen3_tied_bf16/model.safetensors", dir + "/a.safetensors");
  expect_rewrite_identical(hf + "qwen2_tied_f16/model.safetensors", dir + "/b.safetensors");
  expect_rewrite_identical(hf + "llama_tied_bf16_sharded/model-00002-of-00003.safetensors", dir + "/c.safetensors");
  // Mixed dtypes (F32 logits, I32 tokens) and no metadata.
  expect_rewrite_identical(hf + "llama3_gqa/expected.safetensors", dir + "/d.safetensors");
}

TEST(SynthSafetensorsWriter, StreamsInAnyChunkingAndReadsBack) {
  const ScratchDir scratch;
  const std::string& dir = scratch.path;
  std::vector<uint8_t> w(5 * 7 * 2), bias(7 * 4), scalar(4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = static_cast<uint8_t>(200 - i);
  scalar = {1, 2, 3, 4};
  const std::string whole = dir + "/whole.safetensors", streamed = dir + "/streamed.safetensors";
  safetensors::write_file(whole, {{{"w", "BF16", {5, 7}}, as_bytes(w)},
                                  {{"bias", "F32", {7}}, as_bytes(bias)},
                                  {{"s", "I32", {}}, as_bytes(scalar)}});

  safetensors::Writer writer(streamed, {{"w", "BF16", {5, 7}}, {"bias", "F32", {7}}, {"s", "I32", {}}});
  std::vector<uint8_t> all;  // data order: bias (F32), s (I32), w (BF16)
  ASSERT_EQ(writer.order()[0].name, "bias");
  ASSERT_EQ(writer.order()[1].name, "s");
  all.insert(all.end(), bias.begin(), bias.end());
  all.insert(all.end(), scalar.begin(), scalar.end());
  all.insert(all.end(), w.begin(), w.end());
  for (size_t at = 0, step = 1; at < all.size(); at += step, step = step * 2 + 1)
    writer.write(std::span<const uint8_t>(all.data() + at, std::min(step, all.size() - at)));
  EXPECT_FALSE(fs::exists(streamed)) << "the file appears only when finished";
  writer.finish();
  EXPECT_EQ(writer.file_size(), fs::file_size(streamed));
  EXPECT_EQ(file_bytes(streamed), file_bytes(whole));
  EXPECT_FALSE(fs::exists(streamed + ".partial"));

  safetensors::File f(streamed);
  ASSERT_EQ(f.tensors().size(), 3u);
  const auto* t = f.find("w");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, "BF16");
  EXPECT_EQ(t->shape, (std::vector<int64_t>{5, 7}));
  auto d = f.data(*t);
  EXPECT_EQ(std::vector<uint8_t>(d.begin(), d.end()), w);
  const auto* s = f.find("s");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->shape.empty());
  EXPECT_EQ(f.metadata().at("format"), "pt");
}

TEST(SynthSafetensorsWriter, RejectsBadInput) {
  const ScratchDir scratch;
  const std::string& dir = scratch.path;
  const std::string path = dir + "/x.safetensors";
  EXPECT_THROW(safetensors::Writer(path, {{"a", "F33", {1}}}), Error);
  EXPECT_THROW(safetensors::Writer(path, {{"a", "F32", {1}}, {"a", "F16", {1}}}), Error);
  EXPECT_THROW(safetensors::Writer(path, {{"", "F32", {1}}}), Error);
  EXPECT_THROW(safetensors::Writer(path, {{"a", "F32", {-1}}}), Error);
  EXPECT_THROW(safetensors::Writer(path, {{"a", "F32", {int64_t{1} << 40, int64_t{1} << 40}}}), Error);
  std::vector<uint8_t> bytes(12);
  {
    safetensors::Writer w(path, {{"a", "F32", {2}}});
    EXPECT_THROW(w.write(as_bytes(bytes)), Error);  // 12 bytes into an 8-byte tensor
    w.write(std::span<const uint8_t>(bytes.data(), 4));
    EXPECT_THROW(w.finish(), Error);  // 4 of 8 bytes
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".partial")) << "an unfinished writer removes its partial file";
  EXPECT_THROW(safetensors::write_file(path, {{{"a", "F32", {2}}, as_bytes(bytes)}}), Error);  // size mismatch
  try {
    safetensors::Writer w(dir + "/no/such/dir/x.safetensors", {{"a", "F32", {1}}});
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace verbatim

// safetensors parser and sharded collections: valid files, and malformed variants that must each throw one clear
// Error naming the file.
#include <gtest/gtest.h>

#include <filesystem>

#include "formats/safetensors.h"
#include "support/test_support.h"
#include "unit/formats_writers.h"
#include "util/error.h"

namespace verbatim {
namespace {

using testing::SafetensorsWriter;

const std::string kName = "tiny.safetensors";

std::unique_ptr<safetensors::File> parse(const std::string& bytes) {
  return safetensors::File::parse_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kName);
}

std::string parse_error(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_PARSE_ERROR(bytes, phrase)                    \
  do {                                                       \
    std::string msg_ = parse_error(bytes);                   \
    EXPECT_EQ(msg_.rfind(kName + ": ", 0), 0u) << msg_;      \
    EXPECT_NE(msg_.find(phrase), std::string::npos) << msg_; \
  } while (0)

template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

SafetensorsWriter small_writer() {
  SafetensorsWriter w;
  w.tensor_f32("a", {2, 3}, {1, 2, 3, 4, 5, 6});
  w.tensor("b", "BF16", {2}, std::string("\x80\x3f\x00\x40", 4));
  w.tensor("c", "I64", {1}, std::string(8, '\x01'));
  w.tensor("empty", "F16", {0, 4}, "");
  w.header["__metadata__"] = {{"format", "pt"}};
  return w;
}

TEST(FormatsSafetensors, ParsesTensorsAndMetadata) {
  const std::string bytes = small_writer().build(5);
  auto f = parse(bytes);
  ASSERT_EQ(f->tensors().size(), 4u);
  const auto* a = f->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, "F32");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->end - a->begin, 24u);
  float x;
  std::memcpy(&x, f->data(*a).data() + 20, 4);
  EXPECT_EQ(x, 6.0f);
  const auto* b = f->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, "BF16");
  EXPECT_EQ(f->data(*b)[1], 0x3f);
  EXPECT_EQ(f->find("empty")->shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(f->find("missing"), nullptr);
  EXPECT_EQ(f->metadata().at("format"), "pt");
}

TEST(FormatsSafetensors, EveryTruncationIsAnError) {
  const std::string bytes = small_writer().build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string msg = parse_error(bytes.substr(0, n));
    ASSERT_NE(msg, "") << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(msg.rfind(kName + ": ", 0), 0u) << msg;
  }
  EXPECT_EQ(parse_error(bytes), "");
}

TEST(FormatsSafetensors, HeaderLengthErrors) {
  SafetensorsWriter w = small_writer();
  std::string bytes = w.build();
  std::string bad = bytes;
  testing::poke<uint64_t>(bad, 0, bytes.size());
  EXPECT_PARSE_ERROR(bad, "truncated: header length");
  testing::poke<uint64_t>(bad, 0, uint64_t{1} << 62);
  EXPECT_PARSE_ERROR(bad, "exceeds the 100 MB limit");
  EXPECT_PARSE_ERROR(std::string("\x01\x00", 2), "too short");
}

TEST(FormatsSafetensors, JsonErrors) {
  SafetensorsWriter w;
  w.data = std::string(8, '\0');
  EXPECT_PARSE_ERROR(w.build_with_header("{\"a\": "), "invalid JSON header");
  EXPECT_PARSE_ERROR(w.build_with_header("[1, 2]"), "the JSON header is not an object");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": 5})"), "tensor a: entry is not an object");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"shape": [2], "data_offsets": [0, 8]}})"),
                     "tensor a: missing or non-string \"dtype\"");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "F32", "data_offsets": [0, 8]}})"),
                     "tensor a: missing or non-array \"shape\"");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})"),
                     "\"data_offsets\" must be an array of two integers");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})"),
                     "tensor a shape dimension must be a non-negative integer, got -2");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})"),
                     "must be a non-negative integer");
  const std::string nested = std::string(50000, '[') + std::string(50000, ']');
  EXPECT_PARSE_ERROR(
      w.build_with_header(R"({"a": {"dtype": "F32", "shape": [2, )" + nested + R"(], "data_offsets": [0, 8]}})"),
      "tensor a shape dimension must be a non-negative integer, got an array of 1 elements");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})"),
                     "tensor a has unknown dtype Q4");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"__metadata__": {"k": 1}})"),
                     "__metadata__ value for 'k' is not a string");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"__metadata__": []})"), "__metadata__ is not an object");
}

TEST(FormatsSafetensors, OffsetErrors) {
  SafetensorsWriter w;
  w.data = std::string(16, '\0');
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 24]}})"),
                     "tensor a data_offsets [8, 24] lie outside the data section (16 bytes)");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})"),
                     "begin after end");
  EXPECT_PARSE_ERROR(w.build_with_header(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})"),
                     "tensor a holds 8 bytes, but dtype F32 and shape [3] need 12");
  EXPECT_PARSE_ERROR(
      w.build_with_header(R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})"),
      "overflows");
  EXPECT_PARSE_ERROR(
      w.build_with_header(R"({"a": {"dtype": "F64", "shape": [4611686018427387904], "data_offsets": [0, 8]}})"),
      "need more than 2^64");
  EXPECT_PARSE_ERROR(
      w.build_with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 18446744073709551615]}})"),
      "lie outside the data section");
  // Overlapping and out-of-order tensors are fine while they stay in range.
  EXPECT_EQ(parse_error(w.build_with_header(R"({"b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
                                                "a": {"dtype": "U8", "shape": [10], "data_offsets": [2, 12]}})")),
            "");
}

TEST(FormatsSafetensors, FileConstructorNamesThePath) {
  const std::string dir = testing::temp_dir();
  testing::write_file(dir + "/m.safetensors", small_writer().build());
  safetensors::File f(dir + "/m.safetensors");
  EXPECT_EQ(f.path(), dir + "/m.safetensors");
  EXPECT_NE(f.find("c"), nullptr);
  testing::write_file(dir + "/bad.safetensors", std::string("\x08\0\0\0\0\0\0\0{}", 10));
  std::string msg = error_of([&] { safetensors::File g(dir + "/bad.safetensors"); });
  EXPECT_EQ(msg.rfind(dir + "/bad.safetensors: truncated", 0), 0u) << msg;
}

TEST(FormatsSafetensors, CollectionSingleFile) {
  const std::string dir = testing::temp_dir();
  testing::write_file(dir + "/model.safetensors", small_writer().build());
  safetensors::Collection c(dir);
  const safetensors::File* file = nullptr;
  const auto* a = c.find("a", &file);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->path(), dir + "/model.safetensors");
  EXPECT_EQ(c.names(), (std::vector<std::string>{"a", "b", "c", "empty"}));
  EXPECT_EQ(c.find("nope"), nullptr);
}

TEST(FormatsSafetensors, CollectionShards) {
  const std::string dir = testing::temp_dir();
  SafetensorsWriter s1, s2;
  s1.tensor_f32("x", {1}, {1.0f});
  s2.tensor_f32("y", {2}, {2.0f, 3.0f});
  s2.tensor_f32("unlisted", {1}, {0.0f});
  testing::write_file(dir + "/model-00001-of-00002.safetensors", s1.build());
  testing::write_file(dir + "/model-00002-of-00002.safetensors", s2.build());
  const std::string index = dir + "/model.safetensors.index.json";
  testing::write_file(index, R"({"metadata": {"total_size": 12}, "weight_map": {
      "x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})");
  safetensors::Collection c(dir);
  EXPECT_EQ(c.files().size(), 2u);
  const safetensors::File* file = nullptr;
  const auto* y = c.find("y", &file);
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(file->path(), dir + "/model-00002-of-00002.safetensors");
  float v;
  std::memcpy(&v, file->data(*y).data() + 4, 4);
  EXPECT_EQ(v, 3.0f);
  EXPECT_EQ(c.names(), (std::vector<std::string>{"x", "y"}));

  auto index_error = [&](const std::string& json) {
    testing::write_file(index, json);
    return error_of([&] { safetensors::Collection bad(dir); });
  };
  auto expect = [&](const std::string& msg, const std::string& phrase) {
    EXPECT_EQ(msg.rfind(index + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(phrase), std::string::npos) << msg;
  };
  expect(index_error(R"({"weight_map": {"x": "missing.safetensors"}})"),
         "shard missing.safetensors (listed for x) is missing");
  expect(index_error(R"({"weight_map": {"z": "model-00001-of-00002.safetensors"}})"),
         "tensor z is listed in shard model-00001-of-00002.safetensors but absent from it");
  expect(index_error(R"({"weight_map": {"x": "../model-00001-of-00002.safetensors"}})"), "not a plain relative path");
  expect(index_error(R"({"weight_map": {"x": "/etc/passwd"}})"), "not a plain relative path");
  expect(index_error(R"({"weight_map": {"x": "a/../../b"}})"), "not a plain relative path");
  expect(index_error(R"({"weight_map": {"x": ""}})"), "not a plain relative path");
  expect(index_error(R"({"weight_map": {"x": 3}})"), "weight_map entry for x is not a string");
  expect(index_error(R"({"weight_map": []})"), "missing or non-object \"weight_map\"");
  expect(index_error(R"({"weight_map": )"), "invalid JSON");
}

TEST(FormatsSafetensors, CollectionNeedsWeights) {
  const std::string dir = testing::temp_dir();
  std::string msg = error_of([&] { safetensors::Collection c(dir); });
  EXPECT_EQ(msg, dir + ": no model.safetensors or model.safetensors.index.json in this directory");
}

}  // namespace
}  // namespace verbatim

// GGUF parser: valid files of every metadata type, and malformed variants (truncation at every length, bad magic,
// huge counts, bad tensor infos) that must each throw one clear Error naming the file.
#include <gtest/gtest.h>

#include <limits>

#include "formats/gguf.h"
#include "support/test_support.h"
#include "unit/formats_writers.h"
#include "util/error.h"

namespace verbatim {
namespace {

using testing::GgufWriter;
using testing::poke;
using testing::put;
using testing::put_str;

const std::string kName = "tiny.gguf";

std::unique_ptr<gguf::File> parse(const std::string& bytes) {
  return gguf::File::parse_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kName);
}

// Parses `bytes` and returns the Error message ("" when it parsed).
std::string parse_error(const std::string& bytes) {
  try {
    parse(bytes);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_PARSE_ERROR(bytes, phrase)                          \
  do {                                                             \
    std::string msg_ = parse_error(bytes);                         \
    EXPECT_NE(msg_.find(kName + ": "), std::string::npos) << msg_; \
    EXPECT_NE(msg_.find(phrase), std::string::npos) << msg_;       \
  } while (0)

GgufWriter small_writer() {
  GgufWriter w;
  w.kv_str("general.architecture", "llama");
  w.kv_u32("llama.block_count", 2);
  w.kv_f32("llama.rope.freq_base", 500000.0f);
  w.kv_bool("flag", true);
  w.kv_str_array("tokenizer.ggml.tokens", {"a", "bc", ""});
  w.kv_i32_array("ints", {-1, 7});
  w.kv_f32_array("floats", {0.5f, -2.0f});
  w.tensor_f32("a.weight", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  w.tensor_f32("b.weight", {3}, {9, 10, 11});
  return w;
}

TEST(FormatsGguf, ParsesMetadataAndTensors) {
  GgufWriter w = small_writer();
  const std::string bytes = w.build();
  auto f = parse(bytes);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_int("llama.block_count"), 2);
  EXPECT_EQ(f->get_float("llama.rope.freq_base"), 500000.0);
  EXPECT_EQ(f->find_bool("flag"), true);
  ASSERT_NE(f->find_string_array("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(*f->find_string_array("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(*f->find_int_array("ints"), (std::vector<int64_t>{-1, 7}));
  EXPECT_EQ(*f->find_float_array("floats"), (std::vector<double>{0.5, -2.0}));
  EXPECT_FALSE(f->find_int("absent").has_value());
  EXPECT_EQ(f->find_string_array("absent"), nullptr);

  ASSERT_EQ(f->tensors().size(), 2u);
  const gguf::TensorInfo* a = f->find_tensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ne, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(a->numel(), 8u);
  EXPECT_EQ(a->nbytes, 32u);
  auto data = f->tensor_data(*a);
  ASSERT_EQ(data.size(), 32u);
  float x;
  std::memcpy(&x, data.data() + 4 * 7, 4);
  EXPECT_EQ(x, 8.0f);
  const gguf::TensorInfo* b = f->find_tensor("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->offset, 32u);  // after a.weight, aligned to 32
  std::memcpy(&x, f->tensor_data(*b).data(), 4);
  EXPECT_EQ(x, 9.0f);
  EXPECT_EQ(f->find_tensor("c.weight"), nullptr);
}

TEST(FormatsGguf, AllScalarTypesAndVersion2) {
  GgufWriter w;
  w.version = 2;
  std::string v;
  w.kv_raw("u8", 0, std::string(1, '\xff'));
  w.kv_raw("i8", 1, std::string(1, '\xff'));
  v.clear();
  put<uint16_t>(v, 65535);
  w.kv_raw("u16", 2, v);
  v.clear();
  put<int16_t>(v, -300);
  w.kv_raw("i16", 3, v);
  w.kv_i32("i32", -70000);
  w.kv_u64("u64big", std::numeric_limits<uint64_t>::max());
  v.clear();
  put<int64_t>(v, -5);
  w.kv_raw("i64", 11, v);
  v.clear();
  put<double>(v, 0.125);
  w.kv_raw("f64", 12, v);
  auto f = parse(w.build());
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(f->get_int("u8"), 255);
  EXPECT_EQ(f->get_int("i8"), -1);
  EXPECT_EQ(f->get_int("u16"), 65535);
  EXPECT_EQ(f->get_int("i16"), -300);
  EXPECT_EQ(f->get_int("i32"), -70000);
  EXPECT_EQ(f->get_int("i64"), -5);
  EXPECT_EQ(f->get_float("f64"), 0.125);
  EXPECT_EQ(f->metadata().at("u64big").u, std::numeric_limits<uint64_t>::max());
  try {
    f->get_int("u64big");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
}

TEST(FormatsGguf, AccessorTypeErrorsNameFileAndKey) {
  auto f = parse(small_writer().build());
  auto expect = [&](auto&& fn, const std::string& phrase) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << phrase;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(kName), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << e.what();
    }
  };
  expect([&] { f->get_int("general.architecture"); }, "'general.architecture' has type STRING, expected an integer");
  expect([&] { f->get_string("llama.block_count"); }, "expected a string");
  expect([&] { f->get_float("llama.block_count"); }, "expected a float");
  expect([&] { f->get_int("missing.key"); }, "'missing.key' is missing");
  expect([&] { f->find_int_array("tokenizer.ggml.tokens"); }, "ARRAY of STRING, expected an array of integers");
  expect([&] { f->find_string_array("ints"); }, "expected an array of strings");
  expect([&] { f->find_bool("ints"); }, "expected a bool");
}

TEST(FormatsGguf, EveryTruncationIsAnError) {
  const std::string bytes = small_writer().build();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string msg = parse_error(bytes.substr(0, n));
    ASSERT_NE(msg, "") << "prefix of " << n << " bytes parsed";
    EXPECT_EQ(msg.rfind(kName + ": ", 0), 0u) << msg;
    EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("outside the file") != std::string::npos ||
                msg.find("too short") != std::string::npos)
        << "prefix " << n << ": " << msg;
  }
  EXPECT_EQ(parse_error(bytes), "");
}

TEST(FormatsGguf, BadMagicAndVersion) {
  std::string bytes = small_writer().build();
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_PARSE_ERROR(bad, "bad magic");
  bad = bytes;
  poke<uint32_t>(bad, 4, 1);
  EXPECT_PARSE_ERROR(bad, "unsupported GGUF version 1");
  poke<uint32_t>(bad, 4, 0x03000000);
  EXPECT_PARSE_ERROR(bad, "big-endian");
  EXPECT_PARSE_ERROR(std::string("GG"), "too short");
}

TEST(FormatsGguf, HugeCountsFailWithoutAllocating) {
  std::string bytes = small_writer().build();
  std::string bad = bytes;
  poke<uint64_t>(bad, 16, uint64_t{1} << 60);  // kv count
  EXPECT_PARSE_ERROR(bad, "metadata count 1152921504606846976");
  bad = bytes;
  poke<uint64_t>(bad, 8, uint64_t{1} << 60);  // tensor count
  EXPECT_PARSE_ERROR(bad, "tensor count 1152921504606846976");
  bad = bytes;
  poke<uint64_t>(bad, 8, std::numeric_limits<uint64_t>::max());
  EXPECT_PARSE_ERROR(bad, "tensor count");

  GgufWriter w;
  std::string v;
  put<uint32_t>(v, 8);  // array of strings
  put<uint64_t>(v, uint64_t{1} << 60);
  w.kv_raw("tokens", 9, v);
  EXPECT_PARSE_ERROR(w.build(), "claims 1152921504606846976 elements");

  GgufWriter s;
  v.clear();
  put<uint64_t>(v, std::numeric_limits<uint64_t>::max());  // string length
  s.kv_raw("name", 8, v);
  EXPECT_PARSE_ERROR(s.build(), "truncated");
}

TEST(FormatsGguf, MetadataErrors) {
  GgufWriter nested;
  std::string v;
  put<uint32_t>(v, 9);
  put<uint64_t>(v, 1);
  nested.kv_raw("nested", 9, v);
  EXPECT_PARSE_ERROR(nested.build(), "'nested': arrays of arrays are not supported");

  GgufWriter unknown;
  unknown.kv_raw("weird", 13, "");
  EXPECT_PARSE_ERROR(unknown.build(), "'weird' has unknown value type 13");

  GgufWriter dup;
  dup.kv_u32("k", 1);
  dup.kv_u32("k", 2);
  EXPECT_PARSE_ERROR(dup.build(), "duplicate metadata key 'k'");

  GgufWriter bad_bool;
  bad_bool.kv_raw("b", 7, std::string(1, '\x05'));
  EXPECT_PARSE_ERROR(bad_bool.build(), "invalid value 5");

  for (uint32_t a : {0u, 48u, 3u}) {
    GgufWriter w;
    w.kv_u32("general.alignment", a);
    EXPECT_PARSE_ERROR(w.build(), "general.alignment " + std::to_string(a) + " is not a power of two");
  }
  GgufWriter wrong_type;
  wrong_type.kv_str("general.alignment", "64");
  EXPECT_PARSE_ERROR(wrong_type.build(), "expected an integer");
}

TEST(FormatsGguf, CustomAlignmentIsHonoured) {
  GgufWriter w;
  w.alignment = 64;
  w.kv_u32("general.alignment", 64);
  w.tensor_f32("a", {3}, {1, 2, 3});
  w.tensor_f32("b", {1}, {4});
  const std::string bytes = w.build();
  auto f = parse(bytes);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(w.data_start % 64, 0u);
  EXPECT_EQ(f->find_tensor("b")->offset, 64u);
  float x;
  std::memcpy(&x, f->tensor_data(*f->find_tensor("b")).data(), 4);
  EXPECT_EQ(x, 4.0f);
}

TEST(FormatsGguf, TensorInfoErrors) {
  GgufWriter base = small_writer();
  std::string bytes = base.build();

  std::string bad = bytes;
  poke<uint64_t>(bad, base.offset_field_pos[1], 1u << 20);
  EXPECT_PARSE_ERROR(bad, "tensor b.weight data (offset 1048576");
  EXPECT_PARSE_ERROR(bad, "lies outside the file");
  poke<uint64_t>(bad, base.offset_field_pos[1], std::numeric_limits<uint64_t>::max() - 31);  // overflow
  EXPECT_PARSE_ERROR(bad, "lies outside the file");
  bad = bytes;
  poke<uint64_t>(bad, base.offset_field_pos[1], 4);
  EXPECT_PARSE_ERROR(bad, "tensor b.weight offset 4 is not a multiple of the alignment 32");

  // Overlapping tensors are fine as long as they stay inside the file.
  bad = bytes;
  poke<uint64_t>(bad, base.offset_field_pos[1], 0);
  EXPECT_EQ(parse_error(bad), "");

  auto one = [](const std::string& name, std::vector<uint64_t> ne, uint32_t type, size_t data_bytes) {
    GgufWriter w;
    w.tensor(name, std::move(ne), type, std::string(data_bytes, '\0'));
    return w.build();
  };
  EXPECT_PARSE_ERROR(one("t", {4}, 99, 16), "tensor t has unknown ggml type 99");
  EXPECT_PARSE_ERROR(one("t", {4}, 20, 16), "unknown ggml type 20");
  EXPECT_PARSE_ERROR(one("q", {48, 2}, 2, 54), "tensor q: ne[0] = 48 is not a multiple of the Q4_0 block size 32");
  EXPECT_PARSE_ERROR(one("k", {128}, 12, 144), "Q4_K block size 256");
  EXPECT_PARSE_ERROR(one("z", {4, 0}, 0, 0), "tensor z has invalid dimensions [4, 0] (zero-sized)");
  EXPECT_PARSE_ERROR(one("five", {1, 1, 1, 1, 1}, 0, 4), "tensor five has 5 dimensions");
  EXPECT_PARSE_ERROR(one("none", {}, 0, 4), "tensor none has 0 dimensions");
  EXPECT_PARSE_ERROR(one("big", {uint64_t{1} << 32, uint64_t{1} << 32}, 0, 4), "(element count overflows)");
  EXPECT_PARSE_ERROR(one("big", {uint64_t{1} << 62, 2}, 0, 4), "(element count overflows)");

  GgufWriter dup;
  dup.tensor_f32("t", {1}, {1});
  dup.tensor_f32("t", {1}, {2});
  EXPECT_PARSE_ERROR(dup.build(), "duplicate tensor name t");
}

TEST(FormatsGguf, QuantizedLayouts) {
  struct L {
    gguf::GgmlType t;
    const char* name;
    uint64_t bytes, elems;
  };
  const L table[] = {{gguf::GgmlType::F32, "F32", 4, 1},       {gguf::GgmlType::F16, "F16", 2, 1},
                     {gguf::GgmlType::BF16, "BF16", 2, 1},     {gguf::GgmlType::Q4_0, "Q4_0", 18, 32},
                     {gguf::GgmlType::Q4_1, "Q4_1", 20, 32},   {gguf::GgmlType::Q5_0, "Q5_0", 22, 32},
                     {gguf::GgmlType::Q5_1, "Q5_1", 24, 32},   {gguf::GgmlType::Q8_0, "Q8_0", 34, 32},
                     {gguf::GgmlType::Q8_1, "Q8_1", 36, 32},   {gguf::GgmlType::Q2_K, "Q2_K", 84, 256},
                     {gguf::GgmlType::Q3_K, "Q3_K", 110, 256}, {gguf::GgmlType::Q4_K, "Q4_K", 144, 256},
                     {gguf::GgmlType::Q5_K, "Q5_K", 176, 256}, {gguf::GgmlType::Q6_K, "Q6_K", 210, 256},
                     {gguf::GgmlType::Q8_K, "Q8_K", 292, 256}};
  for (const L& l : table) {
    uint64_t b = 0, e = 0;
    ASSERT_TRUE(gguf::ggml_type_layout(static_cast<uint32_t>(l.t), &b, &e)) << l.name;
    EXPECT_EQ(b, l.bytes) << l.name;
    EXPECT_EQ(e, l.elems) << l.name;
    EXPECT_STREQ(gguf::ggml_type_name(l.t), l.name);
  }
  EXPECT_FALSE(gguf::ggml_type_layout(4, nullptr, nullptr));
  EXPECT_STREQ(gguf::ggml_type_name(static_cast<gguf::GgmlType>(4)), "unknown");

  GgufWriter w;
  w.tensor("q4k", {512, 3}, static_cast<uint32_t>(gguf::GgmlType::Q4_K), std::string(2 * 3 * 144, '\x11'));
  w.tensor("q8", {64}, static_cast<uint32_t>(gguf::GgmlType::Q8_0), std::string(2 * 34, '\x22'));
  auto f = parse(w.build());
  EXPECT_EQ(f->find_tensor("q4k")->nbytes, 864u);
  EXPECT_EQ(f->find_tensor("q8")->nbytes, 68u);
  EXPECT_EQ(f->tensor_data(*f->find_tensor("q8"))[67], 0x22);
}

TEST(FormatsGguf, FileConstructorNamesThePath) {
  const std::string dir = testing::temp_dir();
  const std::string path = dir + "/x.gguf";
  testing::write_file(path, small_writer().build());
  gguf::File f(path);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.get_int("llama.block_count"), 2);
  testing::write_file(path, "GGUF\x03");
  try {
    gguf::File g(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": truncated", 0), 0u) << e.what();
  }
  EXPECT_THROW(gguf::File(dir + "/absent.gguf"), Error);
}

}  // namespace
}  // namespace verbatim

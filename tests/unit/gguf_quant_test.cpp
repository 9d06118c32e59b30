// Dequantization of ggml block types: hand-built blocks of every type (odd and negative super-scales, subnormals,
// extreme quants, scales and mins) against values computed from the formats' definitions in the test, literal blocks
// worked out by hand, the gguf Python package's own output (the code transformers' gguf loader runs), determinism
// over threads, and malformed sizes.
#include "formats/gguf_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "support/test_support.h"
#include "unit/gguf_quant_blocks.h"
#include "util/error.h"

namespace verbatim {
namespace {

using testing::make_quant_blocks;
using testing::quant_type_name;
using testing::quant_types;

std::span<const uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<float> dequant(uint32_t type, const std::string& bytes, size_t n, int threads = 1) {
  std::vector<float> out(n, std::nanf(""));
  gguf::dequantize(type, span_of(bytes), out, "test", threads);
  return out;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Bitwise equality, reporting the first few differing elements.
void expect_bits_equal(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  int shown = 0;
  for (size_t i = 0; i < got.size() && shown < 5; ++i) {
    if (bits_of(got[i]) != bits_of(want[i])) {
      ADD_FAILURE() << "element " << i << ": got " << got[i] << " want " << want[i];
      ++shown;
    }
  }
}

TEST(GgufQuant, EveryTypeMatchesTheDefinition) {
  for (uint32_t type : quant_types()) {
    SCOPED_TRACE(quant_type_name(type));
    EXPECT_TRUE(gguf::can_dequantize(type));
    const auto blocks = make_quant_blocks(type, 7, 1);
    uint64_t bb = 0, be = 0;
    ASSERT_TRUE(gguf::ggml_type_layout(type, &bb, &be));
    ASSERT_EQ(blocks.bytes.size(), 7 * bb);
    ASSERT_EQ(blocks.values.size(), 7 * be);
    expect_bits_equal(dequant(type, blocks.bytes, blocks.values.size()), blocks.values);
    // The extremes block really has negative values and both signs of zero-free output.
    bool negative = false, positive = false;
    for (float v : blocks.values) negative |= v<0, positive |= v> 0;
    EXPECT_TRUE(negative && positive);
  }
}

TEST(GgufQuant, ThreadsChangeNothing) {
  for (uint32_t type : {2u, 12u, 14u}) {
    SCOPED_TRACE(quant_type_name(type));
    const auto blocks = make_quant_blocks(type, 3000, 7);
    const auto one = dequant(type, blocks.bytes, blocks.values.size(), 1);
    expect_bits_equal(one, blocks.values);
    expect_bits_equal(dequant(type, blocks.bytes, blocks.values.size(), 4), one);
  }
}

// Literal blocks, values worked out by hand from the layouts.
TEST(GgufQuant, LiteralQ4_0) {
  std::string b(18, '\0');
  b[0] = '\x00', b[1] = '\xC0';  // d = -2
  for (int j = 0; j < 16; ++j) b[2 + j] = '\x88';
  b[2] = '\xF0';  // element 0: q 0 -> -8 * -2 = 16; element 16: q 15 -> 7 * -2 = -14
  b[3] = '\x8F';  // element 1: 15 -> -14; element 17: 8 -> -0
  const auto y = dequant(2, b, 32);
  EXPECT_EQ(y[0], 16.0f);
  EXPECT_EQ(y[16], -14.0f);
  EXPECT_EQ(y[1], -14.0f);
  EXPECT_EQ(bits_of(y[17]), bits_of(-0.0f));
  EXPECT_EQ(bits_of(y[5]), bits_of(-0.0f));
}

TEST(GgufQuant, LiteralQ4_1AndQ5_1) {
  std::string b(20, '\0');
  b[0] = '\x00', b[1] = '\x38';  // d = 0.5
  b[2] = '\x00', b[3] = '\xBC';  // m = -1
  b[4] = '\xF3';                 // element 0: 3 -> 0.5; element 16: 15 -> 6.5
  const auto y = dequant(3, b, 32);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[16], 6.5f);
  EXPECT_EQ(y[1], -1.0f);

  std::string c(24, '\0');
  c[0] = '\x00', c[1] = '\x3C';  // d = 1
  c[2] = '\x00', c[3] = '\x40';  // m = 2
  c[4] = '\x01';                 // qh bit 0: element 0 gets 16
  c[7] = '\x80';                 // qh bit 31: element 31 gets 16
  c[8] = '\x05';                 // element 0: 5 | 16 = 21 -> 23
  c[23] = '\xF0';                // element 31: 15 | 16 = 31 -> 33
  const auto z = dequant(7, c, 32);
  EXPECT_EQ(z[0], 23.0f);
  EXPECT_EQ(z[31], 33.0f);
  EXPECT_EQ(z[15], 2.0f);
}

TEST(GgufQuant, LiteralQ4_K) {
  std::string b(144, '\0');
  b[0] = '\x00', b[1] = '\x3C';  // d = 1
  b[2] = '\x00', b[3] = '\x38';  // dmin = 0.5
  // scale 0 = 5, scale 4 = 42 (0b10'1010), min 0 = 3, min 4 = 23 (0b01'0111)
  b[4 + 0] = static_cast<char>(5 | (2 << 6));
  b[4 + 4] = static_cast<char>(3 | (1 << 6));
  b[4 + 8] = static_cast<char>(0xA | (7 << 4));
  b[16 + 0] = '\x92';   // element 0 (sub-block 0, low nibble): 2; element 32 (sub-block 1, high): 9
  b[16 + 64] = '\x0F';  // element 128 (sub-block 4, low nibble of byte 64): 15
  const auto y = dequant(12, b, 256);
  EXPECT_EQ(y[0], 5.0f * 2 - 0.5f * 3);       // 8.5
  EXPECT_EQ(y[32], 0.0f);                     // scale 1 and min 1 are 0
  EXPECT_EQ(y[128], 42.0f * 15 - 0.5f * 23);  // 618.5
  EXPECT_EQ(y[129], -0.5f * 23);
  EXPECT_EQ(y[1], -1.5f);
}

TEST(GgufQuant, LiteralQ6_K) {
  std::string b(210, '\0');
  b[192 + 0] = '\xFD';               // scale 0 = -3 (elements 0-15)
  b[192 + 4] = '\x01';               // scale 4 = 1 (elements 64-79)
  b[192 + 8] = '\x07';               // scale 8 = 7 (elements 128-143)
  b[208] = '\x00', b[209] = '\x38';  // d = 0.5
  b[0] = '\x21';                     // element 0 low 4 bits 1; element 64 low 4 bits 2
  b[128 + 0] = '\xE4';               // qh[0]: element 0 high bits 0, element 64 high bits 2
  b[64] = '\x0F';                    // element 128 low 4 bits 15
  b[128 + 32] = '\x03';              // element 128 high bits 3
  const auto y = dequant(14, b, 256);
  EXPECT_EQ(y[0], 0.5f * -3 * (1 - 32));             // 46.5
  EXPECT_EQ(y[64], 0.5f * 1 * ((2 | 2 << 4) - 32));  // 1
  EXPECT_EQ(y[128], 0.5f * 7 * 31);                  // 108.5
  EXPECT_EQ(y[1], 0.5f * -3 * -32);                  // 48
}

TEST(GgufQuant, LiteralQ8_0) {
  std::string b(34, '\0');
  b[0] = '\x66', b[1] = '\x2E';  // d = 0.0999755859375
  b[2] = '\x80';                 // -128
  b[3] = '\x7F';                 // 127
  const auto y = dequant(8, b, 32);
  EXPECT_EQ(y[0], -128.0f * 0.0999755859375f);
  EXPECT_EQ(y[1], 127.0f * 0.0999755859375f);
}

// The gguf Python package's dequantize() on random blocks (tools/make_gguf_quant_fixture.py): the exact floats
// transformers' gguf loader puts into the model.
TEST(GgufQuant, MatchesTheGgufPythonPackage) {
  const std::string path = testing::fixtures_dir() + "/gguf_quant/gguf_py.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "missing fixture " << path;
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto unhex = [](const std::string& h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
      out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
  };
  size_t types = 0;
  for (const auto& t : j.at("types")) {
    const std::string name = t.at("name");
    SCOPED_TRACE(name);
    const auto type = t.at("type").get<uint32_t>();
    const std::string bytes = unhex(t.at("blocks_hex"));
    const std::string want_bytes = unhex(t.at("f32_hex"));
    std::vector<float> want(want_bytes.size() / 4);
    std::memcpy(want.data(), want_bytes.data(), want_bytes.size());
    expect_bits_equal(dequant(type, bytes, want.size()), want);
    ++types;
  }
  EXPECT_GE(types, 10u);
}

TEST(GgufQuant, MalformedSizesAreErrors) {
  const auto blocks = make_quant_blocks(12, 2, 3);
  std::vector<float> out(512);
  const std::string short_bytes = blocks.bytes.substr(0, blocks.bytes.size() - 1);
  EXPECT_THROW(gguf::dequantize(12, span_of(short_bytes), out, "t"), Error);
  const std::string long_bytes = blocks.bytes + "x";
  EXPECT_THROW(gguf::dequantize(12, span_of(long_bytes), out, "t"), Error);
  std::vector<float> partial(300);  // not a whole number of 256-element blocks
  EXPECT_THROW(gguf::dequantize(12, span_of(blocks.bytes), partial, "t"), Error);
  std::vector<float> fewer(256);  // one block of output for two of input
  EXPECT_THROW(gguf::dequantize(12, span_of(blocks.bytes), fewer, "t"), Error);
  for (uint32_t unknown : {9u, 15u, 99u}) {  // Q8_1 and Q8_K are not file formats; 99 is not a type
    EXPECT_FALSE(gguf::can_dequantize(unknown));
    try {
      gguf::dequantize(unknown, span_of(blocks.bytes), out, "t.gguf: tensor x");
      ADD_FAILURE() << "no error for type " << unknown;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("t.gguf: tensor x"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("cannot dequantize"), std::string::npos) << e.what();
    }
  }
  std::vector<float> none;
  EXPECT_NO_THROW(gguf::dequantize(12, {}, none, "t"));
}

TEST(GgufQuant, PlainFloatTypesConvertExactly) {
  const std::vector<float> f = {1.5f, -0.0f, 3.0e-39f, -65504.0f};
  std::string b(reinterpret_cast<const char*>(f.data()), 16);
  expect_bits_equal(dequant(0, b, 4), f);
  std::string h = {'\x00', '\x3C', '\x01', '\x80'};  // f16 1.0, -smallest subnormal
  const auto y = dequant(1, h, 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -std::ldexp(1.0f, -24));
  std::string bf = {'\x80', '\x3F'};  // bf16 1.0
  EXPECT_EQ(dequant(30, bf, 1)[0], 1.0f);
}

}  // namespace
}  // namespace verbatim

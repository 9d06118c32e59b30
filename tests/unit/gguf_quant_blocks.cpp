#include "unit/gguf_quant_blocks.h"

#include <cstring>
#include <stdexcept>

#include "unit/formats_writers.h"
#include "util/half.h"

namespace verbatim::testing {

namespace {

struct Lcg {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
  int range(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint32_t>(hi - lo + 1)); }
};

// A finite f16 bit pattern; block 0 gets a fixed negative odd one, block 1 a subnormal.
uint16_t scale_bits(Lcg& r, size_t block, int which) {
  if (block == 0) return which == 0 ? 0xB5A3 : 0x2E6D;  // -0.3523..., 0.0983...
  if (block == 1) return which == 0 ? 0x0123 : 0x83FF;  // subnormals, the second negative
  uint16_t h;
  do {
    h = static_cast<uint16_t>(r.next());
  } while (((h >> 10) & 0x1F) == 0x1F);  // no inf / NaN
  return h;
}

void put_half(std::string& out, uint16_t h) {
  out.push_back(static_cast<char>(h & 0xFF));
  out.push_back(static_cast<char>(h >> 8));
}
void put_bytes(std::string& out, const std::vector<uint8_t>& b) {
  out.append(reinterpret_cast<const char*>(b.data()), b.size());
}

// A quant in [lo, hi]: block 0 alternates the two extremes (then a ramp), other blocks are random.
int quant(Lcg& r, size_t block, int e, int lo, int hi) {
  if (block == 0) return e < 8 ? (e % 2 ? hi : lo) : lo + e % (hi - lo + 1);
  return r.range(lo, hi);
}

// ---- the formats, element by element ----

// Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0: one f16 d (and f16 m for the _1 kinds), 32 quants.
void legacy_block(uint32_t type, Lcg& r, size_t block, std::string& out, std::vector<float>& values) {
  const bool has_min = type == 3 || type == 7;
  const int bits = (type == 2 || type == 3) ? 4 : (type == 8 ? 8 : 5);
  const uint16_t dh = scale_bits(r, block, 0), mh = scale_bits(r, block, 1);
  const float d = f16_to_f32(dh), m = f16_to_f32(mh);
  int q[32];  // stored (unsigned) quants; Q8_0 stores int8
  for (int e = 0; e < 32; ++e)
    q[e] = bits == 8 ? quant(r, block, e, -128, 127) : quant(r, block, e, 0, (1 << bits) - 1);
  put_half(out, dh);
  if (has_min) put_half(out, mh);
  if (bits == 8) {
    for (int e = 0; e < 32; ++e) out.push_back(static_cast<char>(static_cast<int8_t>(q[e])));
  } else {
    if (bits == 5) {
      uint32_t qh = 0;
      for (int e = 0; e < 32; ++e) qh |= static_cast<uint32_t>(q[e] >> 4) << e;
      for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((qh >> (8 * k)) & 0xFF));
    }
    for (int j = 0; j < 16; ++j) out.push_back(static_cast<char>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4)));
  }
  const int offset = has_min ? 0 : (bits == 8 ? 0 : (1 << (bits - 1)));
  for (int e = 0; e < 32; ++e) {
    const float qf = static_cast<float>(q[e] - offset);
    if (bits == 8)
      values.push_back(qf * d);
    else if (has_min)
      values.push_back(d * qf + m);
    else
      values.push_back(d * qf);
  }
}

// 2-bit fields of Q2_K/Q3_K: element e = h*128 + s*32 + l lives in byte h*32 + l at bit 2s.
void put2(std::vector<uint8_t>& qs, int e, int v) {
  qs[static_cast<size_t>((e / 128) * 32 + e % 32)] |= static_cast<uint8_t>(v << (2 * ((e % 128) / 32)));
}

void q2_k_block(Lcg& r, size_t block, std::string& out, std::vector<float>& values) {
  int sc[16], mn[16], q[256];
  for (int k = 0; k < 16; ++k) {
    sc[k] = block == 0 ? (k % 2 ? 15 : 0) : r.range(0, 15);
    mn[k] = block == 0 ? (k % 3 ? 15 : 1) : r.range(0, 15);
  }
  for (int e = 0; e < 256; ++e) q[e] = quant(r, block, e, 0, 3);
  const uint16_t dh = scale_bits(r, block, 0), mh = scale_bits(r, block, 1);
  std::vector<uint8_t> scales(16), qs(64, 0);
  for (int k = 0; k < 16; ++k) scales[k] = static_cast<uint8_t>(sc[k] | (mn[k] << 4));
  for (int e = 0; e < 256; ++e) put2(qs, e, q[e]);
  put_bytes(out, scales);
  put_bytes(out, qs);
  put_half(out, dh);
  put_half(out, mh);
  const float d = f16_to_f32(dh), dmin = f16_to_f32(mh);
  for (int e = 0; e < 256; ++e) {
    const float dl = d * static_cast<float>(sc[e / 16]);
    const float ml = dmin * static_cast<float>(mn[e / 16]);
    values.push_back(dl * static_cast<float>(q[e]) - ml);
  }
}

void q3_k_block(Lcg& r, size_t block, std::string& out, std::vector<float>& values) {
  int sc[16], q[256];  // sc: the stored 6-bit value (scale + 32); q in [-4, 3]
  for (int k = 0; k < 16; ++k) sc[k] = block == 0 ? (k % 2 ? 63 : 0) : r.range(0, 63);
  for (int e = 0; e < 256; ++e) q[e] = quant(r, block, e, -4, 3);
  const uint16_t dh = scale_bits(r, block, 0);
  std::vector<uint8_t> hmask(32, 0), qs(64, 0), scales(12, 0);
  for (int e = 0; e < 256; ++e) {
    const bool high = q[e] >= 0;  // a set mask bit means "no -4"
    if (high) hmask[static_cast<size_t>(e % 32)] |= static_cast<uint8_t>(1 << (e / 32));
    put2(qs, e, high ? q[e] : q[e] + 4);
  }
  for (int k = 0; k < 16; ++k) {
    scales[static_cast<size_t>(k % 8)] |= static_cast<uint8_t>((sc[k] & 0xF) << (k < 8 ? 0 : 4));
    scales[static_cast<size_t>(8 + k % 4)] |= static_cast<uint8_t>((sc[k] >> 4) << (2 * (k / 4)));
  }
  put_bytes(out, hmask);
  put_bytes(out, qs);
  put_bytes(out, scales);
  put_half(out, dh);
  const float d = f16_to_f32(dh);
  for (int e = 0; e < 256; ++e) {
    const float dl = d * static_cast<float>(sc[e / 16] - 32);
    values.push_back(dl * static_cast<float>(q[e]));
  }
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scale and min each.
void q45_k_block(bool five, Lcg& r, size_t block, std::string& out, std::vector<float>& values) {
  int sc[8], mn[8], q[256];
  for (int j = 0; j < 8; ++j) {
    sc[j] = block == 0 ? (j % 2 ? 63 : 0) : r.range(0, 63);
    mn[j] = block == 0 ? (j % 3 ? 63 : 1) : r.range(0, 63);
  }
  for (int e = 0; e < 256; ++e) q[e] = quant(r, block, e, 0, five ? 31 : 15);
  const uint16_t dh = scale_bits(r, block, 0), mh = scale_bits(r, block, 1);
  std::vector<uint8_t> scales(12, 0), qh(32, 0), qs(128, 0);
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, l = e % 32;
    qs[static_cast<size_t>((j / 2) * 32 + l)] |= static_cast<uint8_t>((q[e] & 0xF) << (4 * (j % 2)));
    if (five) qh[static_cast<size_t>(l)] |= static_cast<uint8_t>((q[e] >> 4) << j);
  }
  put_half(out, dh);
  put_half(out, mh);
  put_bytes(out, scales);
  if (five) put_bytes(out, qh);
  put_bytes(out, qs);
  const float d = f16_to_f32(dh), dmin = f16_to_f32(mh);
  for (int e = 0; e < 256; ++e) {
    const float scale = d * static_cast<float>(sc[e / 32]);
    const float min = dmin * static_cast<float>(mn[e / 32]);
    values.push_back(scale * static_cast<float>(q[e]) - min);
  }
}

void q6_k_block(Lcg& r, size_t block, std::string& out, std::vector<float>& values) {
  int sc[16], q[256];  // sc signed 8-bit, q in [-32, 31]
  for (int k = 0; k < 16; ++k) sc[k] = block == 0 ? (k % 2 ? 127 : -128) : r.range(-128, 127);
  for (int e = 0; e < 256; ++e) q[e] = quant(r, block, e, -32, 31);
  const uint16_t dh = scale_bits(r, block, 0);
  std::vector<uint8_t> ql(128, 0), qh(64, 0);
  for (int e = 0; e < 256; ++e) {
    const int u = q[e] + 32, h = e / 128, i = e % 128;
    ql[static_cast<size_t>(h * 64 + i % 64)] |= static_cast<uint8_t>((u & 0xF) << (4 * (i / 64)));
    qh[static_cast<size_t>(h * 32 + i % 32)] |= static_cast<uint8_t>((u >> 4) << (2 * (i / 32)));
  }
  put_bytes(out, ql);
  put_bytes(out, qh);
  for (int k = 0; k < 16; ++k) out.push_back(static_cast<char>(static_cast<int8_t>(sc[k])));
  put_half(out, dh);
  const float d = f16_to_f32(dh);
  for (int e = 0; e < 256; ++e) values.push_back((d * static_cast<float>(sc[e / 16])) * static_cast<float>(q[e]));
}

}  // namespace

const std::vector<uint32_t>& quant_types() {
  static const std::vector<uint32_t> types = {2, 3, 6, 7, 8, 10, 11, 12, 13, 14};
  return types;
}

const char* quant_type_name(uint32_t type) {
  switch (type) {
    case 2:
      return "Q4_0";
    case 3:
      return "Q4_1";
    case 6:
      return "Q5_0";
    case 7:
      return "Q5_1";
    case 8:
      return "Q8_0";
    case 10:
      return "Q2_K";
    case 11:
      return "Q3_K";
    case 12:
      return "Q4_K";
    case 13:
      return "Q5_K";
    case 14:
      return "Q6_K";
  }
  return "?";
}

int quant_block_elems(uint32_t type) {
  return type >= 10 ? 256 : 32;
}

QuantBlocks make_quant_blocks(uint32_t type, size_t n_blocks, uint32_t seed) {
  Lcg r{seed * 2654435761ull + type};
  QuantBlocks out;
  for (size_t b = 0; b < n_blocks; ++b) {
    switch (type) {
      case 2:
      case 3:
      case 6:
      case 7:
      case 8:
        legacy_block(type, r, b, out.bytes, out.values);
        break;
      case 10:
        q2_k_block(r, b, out.bytes, out.values);
        break;
      case 11:
        q3_k_block(r, b, out.bytes, out.values);
        break;
      case 12:
        q45_k_block(false, r, b, out.bytes, out.values);
        break;
      case 13:
        q45_k_block(true, r, b, out.bytes, out.values);
        break;
      case 14:
        q6_k_block(r, b, out.bytes, out.values);
        break;
      default:
        throw std::logic_error("make_quant_blocks: unknown type");
    }
  }
  return out;
}

void quantize_tiny(TinyModel& m, const std::vector<uint32_t>& types, uint32_t seed) {
  size_t k = 0;
  for (auto& [name, tensor] : m.hf) {
    auto& [shape, values] = tensor;
    if (shape.size() != 2) continue;
    const uint32_t type = types[k % types.size()];
    const auto elems = static_cast<size_t>(quant_block_elems(type));
    if (static_cast<size_t>(shape[1]) % elems != 0) throw std::logic_error("quantize_tiny: " + name + " row too short");
    QuantBlocks b = make_quant_blocks(type, values.size() / elems, seed + static_cast<uint32_t>(k));
    values = std::move(b.values);
    m.gguf_blocks[name] = {type, std::move(b.bytes)};
    ++k;
  }
}

}  // namespace verbatim::testing

#include "formats/gguf_quant.h"

#include <cstring>

#include "formats/byte_reader.h"
#include "formats/gguf.h"
#include "util/error.h"
#include "util/half.h"

namespace verbatim::gguf {

namespace {

inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

inline float f(int v) {
  return static_cast<float>(v);
}

// One block each: `b` points at the block's bytes, `y` at its elements.

void block_q4_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * f((qs[j] & 0x0F) - 8);
    y[j + 16] = d * f((qs[j] >> 4) - 8);
  }
}

void block_q4_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * f(qs[j] & 0x0F) + m;
    y[j + 16] = d * f(qs[j] >> 4) + m;
  }
}

// The 5-bit values of a Q5_0/Q5_1 block: nibbles as Q4_x, bit e of qh is the fifth bit of element e.
inline void q5_values(const uint8_t* qh_bytes, const uint8_t* qs, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}

void block_q5_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  int q[32];
  q5_values(b + 2, b + 6, q);
  for (int e = 0; e < 32; ++e) y[e] = d * f(q[e] - 16);
}

void block_q5_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  int q[32];
  q5_values(b + 4, b + 8, q);
  for (int e = 0; e < 32; ++e) y[e] = d * f(q[e]) + m;
}

void block_q8_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  for (int e = 0; e < 32; ++e) y[e] = f(static_cast<int8_t>(b[2 + e])) * d;
}

// K-quants: 256 elements. In Q2_K/Q3_K/Q6_K element e = h*128 + s*32 + l takes 2 bits of qs[h*32 + l] at shift 2s.

void block_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = half_at(b + 80), dmin = half_at(b + 82);
  for (int e = 0; e < 256; ++e) {
    const int k = e / 16;
    const float dl = d * f(scales[k] & 0x0F);
    const float ml = dmin * f(scales[k] >> 4);
    const int q = (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    y[e] = dl * f(q) - ml;
  }
}

void block_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* sc = b + 96;
  const float d = half_at(b + 108);
  float dl[16];
  for (int k = 0; k < 16; ++k) {
    const int low = k < 8 ? (sc[k] & 0x0F) : (sc[k - 8] >> 4);
    const int high = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
    dl[k] = d * f((low | (high << 4)) - 32);
  }
  for (int e = 0; e < 256; ++e) {
    const int low = (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    const int hbit = (hmask[e % 32] >> (e / 32)) & 1;
    y[e] = dl[e / 16] * f(low - (hbit ? 0 : 4));
  }
}

// The 8 six-bit scales and mins of Q4_K/Q5_K: bytes 0-3 hold scales 0-3 (low 6 bits) and the top bits of scales
// 4-7, bytes 4-7 the same for the mins, bytes 8-11 the low nibbles of scale (low half) and min (high half) 4-7.
inline void k4_scales(const uint8_t* s, int* sc, int* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 0x3F;
    mn[j] = s[j + 4] & 0x3F;
    sc[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 6) << 4);
    mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
  }
}

// Q4_K/Q5_K: sub-block j (32 elements) takes the low (j even) or high (j odd) nibbles of qs[(j/2)*32 ...].
void block_q4_k(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  int sc[8], mn[8];
  k4_scales(b + 4, sc, mn);
  const uint8_t* qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    const float dj = d * f(sc[j]), mj = dmin * f(mn[j]);
    for (int l = 0; l < 32; ++l) y[j * 32 + l] = dj * f((qs[(j / 2) * 32 + l] >> (4 * (j % 2))) & 0x0F) - mj;
  }
}

void block_q5_k(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  int sc[8], mn[8];
  k4_scales(b + 4, sc, mn);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int j = 0; j < 8; ++j) {
    const float dj = d * f(sc[j]), mj = dmin * f(mn[j]);
    for (int l = 0; l < 32; ++l) {
      const int q = ((qs[(j / 2) * 32 + l] >> (4 * (j % 2))) & 0x0F) | (((qh[l] >> j) & 1) << 4);
      y[j * 32 + l] = dj * f(q) - mj;
    }
  }
}

// Q6_K: element e = h*128 + r; low 4 bits from ql[h*64 + r%64] (low nibble for r < 64, else high), high 2 bits from
// qh[h*32 + r%32] at shift 2*(r/32); 16 signed scales of 16 elements.
void block_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half_at(b + 208);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, r = e % 128;
    const int low = (ql[h * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
    const int high = (qh[h * 32 + r % 32] >> (2 * (r / 32))) & 3;
    y[e] = (d * f(scales[e / 16])) * f((low | (high << 4)) - 32);
  }
}

void block_f32(const uint8_t* b, float* y) {
  std::memcpy(y, b, 4);
}
void block_f16(const uint8_t* b, float* y) {
  *y = half_at(b);
}
void block_bf16(const uint8_t* b, float* y) {
  uint16_t h;
  std::memcpy(&h, b, 2);
  *y = bf16_to_f32(h);
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      return block_f32;
    case GgmlType::F16:
      return block_f16;
    case GgmlType::BF16:
      return block_bf16;
    case GgmlType::Q4_0:
      return block_q4_0;
    case GgmlType::Q4_1:
      return block_q4_1;
    case GgmlType::Q5_0:
      return block_q5_0;
    case GgmlType::Q5_1:
      return block_q5_1;
    case GgmlType::Q8_0:
      return block_q8_0;
    case GgmlType::Q2_K:
      return block_q2_k;
    case GgmlType::Q3_K:
      return block_q3_k;
    case GgmlType::Q4_K:
      return block_q4_k;
    case GgmlType::Q5_K:
      return block_q5_k;
    case GgmlType::Q6_K:
      return block_q6_k;
    default:
      return nullptr;
  }
}

}  // namespace

bool can_dequantize(uint32_t type) {
  return block_fn(type) != nullptr;
}

void dequantize(uint32_t type, std::span<const uint8_t> bytes, std::span<float> out, const std::string& where,
                int threads) {
  const BlockFn fn = block_fn(type);
  uint64_t block_bytes = 0, block_elems = 0;
  if (fn == nullptr || !ggml_type_layout(type, &block_bytes, &block_elems))
    fail(where, std::string("cannot dequantize ggml type ") + ggml_type_name(static_cast<GgmlType>(type)) + " (" +
                    std::to_string(type) +
                    "; supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
  if (out.size() % block_elems != 0)
    fail(where, std::to_string(out.size()) + " elements are not a whole number of " +
                    ggml_type_name(static_cast<GgmlType>(type)) + " blocks of " + std::to_string(block_elems));
  const uint64_t n_blocks = out.size() / block_elems;
  uint64_t need = 0;
  if (!formats::mul_ok(n_blocks, block_bytes, &need) || need != bytes.size())
    fail(where, std::to_string(n_blocks) + " " + ggml_type_name(static_cast<GgmlType>(type)) + " blocks need " +
                    std::to_string(n_blocks * block_bytes) + " bytes, got " + std::to_string(bytes.size()));
  const uint8_t* src = bytes.data();
  float* dst = out.data();
  const auto n = static_cast<int64_t>(n_blocks);
  const auto bb = static_cast<int64_t>(block_bytes), be = static_cast<int64_t>(block_elems);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && n > 1024)
  for (int64_t i = 0; i < n; ++i) fn(src + i * bb, dst + i * be);
}

}  // namespace verbatim::gguf

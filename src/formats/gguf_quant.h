// Dequantization of ggml tensor types into fp32: raw block bytes in, floats out. The arithmetic is that of the
// formats' definitions as the gguf Python package (and so Hugging Face's gguf loader) evaluates them, one fp32
// operation at a time (the build has -ffp-contract=off: no fused multiply-add), so the floats are bit-identical to
// what transformers loads from the same file. Deterministic; the work may be split over blocks, which are independent.
//
// Block layouts (little-endian; "f16" is an IEEE half; elements numbered within a block):
//   Q4_0  (32 el, 18 B): f16 d, u8 qs[16]. el j<16 = low nibble of qs[j], j>=16 = high nibble of qs[j-16];
//                        x = d * (q - 8).
//   Q4_1  (32 el, 20 B): f16 d, f16 m, u8 qs[16] (nibbles as Q4_0); x = d * q + m.
//   Q5_0  (32 el, 22 B): f16 d, u32 qh, u8 qs[16]; q = nibble | (bit j of qh) << 4; x = d * (q - 16).
//   Q5_1  (32 el, 24 B): f16 d, f16 m, u32 qh, u8 qs[16]; x = d * q + m.
//   Q8_0  (32 el, 34 B): f16 d, i8 qs[32]; x = qs[j] * d.
//   Q2_K (256 el, 84 B): u8 scales[16] (low nibble scale, high nibble min), u8 qs[64], f16 d, f16 dmin.
//   Q3_K (256 el,110 B): u8 hmask[32], u8 qs[64], u8 scales[12] (16 six-bit scales, offset 32), f16 d.
//   Q4_K (256 el,144 B): f16 d, f16 dmin, u8 scales[12] (8 six-bit scales and mins), u8 qs[128];
//                        x = (d * sc) * q - (dmin * mn) per 32-element sub-block.
//   Q5_K (256 el,176 B): f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128].
//   Q6_K (256 el,210 B): u8 ql[128], u8 qh[64], i8 scales[16], f16 d; x = (d * sc) * (q - 32).
// F32, F16 and BF16 are accepted too (exact conversions).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace verbatim::gguf {

// Whether dequantize() handles ggml type `type` (a GgmlType value).
bool can_dequantize(uint32_t type);

// Writes the out.size() elements that `bytes` encode in ggml type `type` into `out`. Throws Error("<where>: ...") when
// the type is not supported, out.size() is not a whole number of blocks, or bytes.size() is not exactly the size of
// those blocks; nothing is read outside `bytes`. `threads` > 1 splits the blocks over OpenMP threads (each block is
// computed the same way whichever thread does it).
void dequantize(uint32_t type, std::span<const uint8_t> bytes, std::span<float> out, const std::string& where,
                int threads = 1);

}  // namespace verbatim::gguf

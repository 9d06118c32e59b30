#include "kernels/cpu/gemm_amx.h"

#include <immintrin.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <cstring>

#include "kernels/cpu/check.h"
#include "kernels/cpu/gemm_bf16dot_tiles.h"
#include "kernels/cpu/simd.h"

namespace verbatim::kernels::cpu {
namespace {

constexpr int64_t kBlockPairs = 16;             // one k block: 16 pairs = 32 k = one 64-byte tile row
constexpr int64_t kTileRows = 16;               // rows of x per A tile (and of y per C tile)
constexpr int64_t kRowBlock = 2 * kTileRows;    // rows per work item: one or two A tiles
constexpr int64_t kPairBytes = kGemmPanel * 4;  // one pair s of one panel: 32 words
constexpr int64_t kHalfBytes = 64;              // 16 columns of one pair: a B tile row

int64_t pairs_of(int64_t k) {
  return (k + 1) / 2;
}

int64_t padded_pairs(int64_t k) {
  return (pairs_of(k) + kBlockPairs - 1) / kBlockPairs * kBlockPairs;
}

bool ask_tile_permission() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023;  // arch_prctl: ask for an XSAVE feature's state (Linux >= 5.16)
  constexpr long kXfeatureXtiledata = 18;     // the AMX tile data
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

// The 64-byte operand of ldtilecfg (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles: tmm0 .. tmm3 accumulate y; tmm4 (rows ma) and tmm5 (rows mb, 0: unused) hold x; tmm6 and tmm7 hold W.
//   mb == 0: one row tile, four column groups of 16 (two panels): tmm0 .. tmm3 are ma rows each.
//   mb > 0:  two row tiles (ma = 16 and mb rows), two column groups (one panel): tmm0, tmm1 rows 16; tmm2, tmm3 mb.
TileConfig config_for(int ma, int mb) {
  TileConfig c;
  for (int t = 0; t < 8; ++t) c.colsb[t] = kHalfBytes;
  c.rows[0] = c.rows[1] = c.rows[4] = static_cast<uint8_t>(ma);
  c.rows[2] = c.rows[3] = static_cast<uint8_t>(mb > 0 ? mb : ma);
  c.rows[5] = static_cast<uint8_t>(mb > 0 ? mb : ma);
  c.rows[6] = c.rows[7] = kBlockPairs;
  return c;
}

struct Work {
  const uint32_t* xs;     // rounded x: [m][khp] pairs
  const uint8_t* packed;  // gemm_bf16dot_pack's panels
  float* y;               // [m, n]
  int64_t n, kh, khp;     // khp: kh padded to whole blocks
};

// Where B operand (panel q of the chunk, half h) of block b comes from: the packed panel itself, or for the last
// block when kh is not a whole number of blocks, a copy padded with zero pairs (the panel has no rows past kh).
struct BSource {
  const uint8_t* base;
  int64_t stride;
};

struct TailCopy {
  alignas(64) uint8_t bytes[2][2][kBlockPairs * kHalfBytes];  // [panel][half][pair][16 words]
};

void fill_tail(const uint8_t* panel0, int64_t pb, int np, int64_t b, int64_t kh, TailCopy& t) {
  const int64_t s0 = b * kBlockPairs, valid = kh - s0;
  std::memset(t.bytes, 0, sizeof t.bytes);
  for (int q = 0; q < np; ++q)
    for (int h = 0; h < 2; ++h)
      for (int64_t r = 0; r < valid; ++r)
        std::memcpy(t.bytes[q][h] + r * kHalfBytes, panel0 + q * pb + (s0 + r) * kPairBytes + h * kHalfBytes,
                    kHalfBytes);
}

}  // namespace

VERBATIM_AMX_BEGIN
namespace {

// _tile_stored of accumulator tile t (0 .. 3; the tile number must be a literal: GCC's intrinsic is a macro).
void store_c(int t, float* dst, int64_t stride_bytes) {
  switch (t) {
    case 0:
      _tile_stored(0, dst, stride_bytes);
      break;
    case 1:
      _tile_stored(1, dst, stride_bytes);
      break;
    case 2:
      _tile_stored(2, dst, stride_bytes);
      break;
    default:
      _tile_stored(3, dst, stride_bytes);
      break;
  }
}

// Stores accumulator tile t (rows `rows` of y from row i, columns col .. col + 15, of which those < n are real).
void store_tile(int t, const Work& w, int64_t i, int64_t col, int rows) {
  if (col >= w.n) return;
  float* dst = w.y + i * w.n + col;
  if (col + 16 <= w.n) {
    store_c(t, dst, w.n * 4);
    return;
  }
  alignas(64) float tmp[kTileRows * 16];
  store_c(t, tmp, 16 * 4);
  const int64_t valid = w.n - col;
  for (int r = 0; r < rows; ++r) std::memcpy(dst + r * w.n, tmp + r * 16, static_cast<size_t>(valid) * 4);
}

// Loads the 32 cache lines of one panel's k block (2 KiB) with plain zmm loads whose values nobody reads, just before
// the tile loads of that block read them. On the Xeon of docs/performance.md a tile load that misses the caches
// streams memory at ~14.6 GB/s on one core, zmm loads at ~17: the 32 independent loads occupy the line-fill buffers at
// once, and the tile loads then hit L1. Touching the block ahead of use, software prefetches on top, or loads whose
// values feed a register were all slower there. Only timing: no value changes.
inline void touch_block(const uint8_t* p) {
#pragma GCC unroll 32
  for (int l = 0; l < 32; ++l) __asm__ volatile("vmovdqu64 (%0), %%zmm31" : : "r"(p + 64 * l) : "xmm31");
}

// One row tile (rows i .. i + ma - 1) x NP panels (NP = 1 or 2) starting at panel p, over every k block.
template <int NP>
void chunk_one_row_tile(const Work& w, int64_t i, int ma, int64_t p) {
  const int64_t pb = w.kh * kPairBytes;
  const uint8_t* panel0 = w.packed + p * pb;
  const uint32_t* xrow = w.xs + i * w.khp;
  const int64_t ldx = w.khp * 4;
  const int64_t nb = w.khp / kBlockPairs, full = w.kh / kBlockPairs;
  TailCopy tail;
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (NP == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int64_t b = 0; b < nb; ++b) {
    _tile_loadd(4, xrow + b * kBlockPairs, ldx);
    const bool is_tail = b >= full;
    if (is_tail) fill_tail(panel0, pb, NP, b, w.kh, tail);
    auto src = [&](int q, int h) -> BSource {
      if (is_tail) return {tail.bytes[q][h], kHalfBytes};
      return {panel0 + q * pb + b * kBlockPairs * kPairBytes + h * kHalfBytes, kPairBytes};
    };
    if (!is_tail) touch_block(panel0 + b * kBlockPairs * kPairBytes);
    BSource s = src(0, 0);
    _tile_loadd(6, s.base, s.stride);
    _tile_dpbf16ps(0, 4, 6);
    s = src(0, 1);
    _tile_loadd(7, s.base, s.stride);
    _tile_dpbf16ps(1, 4, 7);
    if constexpr (NP == 2) {
      if (!is_tail) touch_block(panel0 + pb + b * kBlockPairs * kPairBytes);
      s = src(1, 0);
      _tile_loadd(6, s.base, s.stride);
      _tile_dpbf16ps(2, 4, 6);
      s = src(1, 1);
      _tile_loadd(7, s.base, s.stride);
      _tile_dpbf16ps(3, 4, 7);
    }
  }
  const int64_t col = p * kGemmPanel;
  store_tile(0, w, i, col, ma);
  store_tile(1, w, i, col + 16, ma);
  if constexpr (NP == 2) {
    store_tile(2, w, i, col + 32, ma);
    store_tile(3, w, i, col + 48, ma);
  }
}

// Two row tiles (rows i .. i + 15 and i + 16 .. i + 15 + mb) x one panel p, over every k block.
void chunk_two_row_tiles(const Work& w, int64_t i, int mb, int64_t p) {
  const int64_t pb = w.kh * kPairBytes;
  const uint8_t* panel0 = w.packed + p * pb;
  const uint32_t* xa = w.xs + i * w.khp;
  const uint32_t* xb = xa + kTileRows * w.khp;
  const int64_t ldx = w.khp * 4;
  const int64_t nb = w.khp / kBlockPairs, full = w.kh / kBlockPairs;
  TailCopy tail;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t b = 0; b < nb; ++b) {
    _tile_loadd(4, xa + b * kBlockPairs, ldx);
    _tile_loadd(5, xb + b * kBlockPairs, ldx);
    const bool is_tail = b >= full;
    if (is_tail) fill_tail(panel0, pb, 1, b, w.kh, tail);
    const uint8_t* w0 = is_tail ? tail.bytes[0][0] : panel0 + b * kBlockPairs * kPairBytes;
    const uint8_t* w1 = is_tail ? tail.bytes[0][1] : w0 + kHalfBytes;
    const int64_t stride = is_tail ? kHalfBytes : kPairBytes;
    if (!is_tail) touch_block(w0);
    _tile_loadd(6, w0, stride);
    _tile_loadd(7, w1, stride);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  const int64_t col = p * kGemmPanel;
  store_tile(0, w, i, col, kTileRows);
  store_tile(1, w, i, col + 16, kTileRows);
  store_tile(2, w, i + kTileRows, col, mb);
  store_tile(3, w, i + kTileRows, col + 16, mb);
}

// The tile configuration this thread has loaded, (ma, mb); ldtilecfg only when it changes.
struct LoadedConfig {
  int ma = -1, mb = -1;
  void ensure(int a, int b) {
    if (a == ma && b == mb) return;
    const TileConfig c = config_for(a, b);
    // GCC 12 does not treat ldtilecfg as reading its 64 bytes and drops the stores into them as dead (seen in a
    // benchmark's copy of this code): the empty asm with a memory clobber makes the stores happen first.
    __asm__ volatile("" : : "r"(&c) : "memory");
    _tile_loadconfig(&c);
    ma = a;
    mb = b;
  }
};

// Rows [r0, r1) (at most kRowBlock) x panels [p0, p1).
void run_item(const Work& w, int64_t r0, int64_t r1, int64_t p0, int64_t p1, LoadedConfig& cfg) {
  const int64_t rows = r1 - r0;
  if (rows <= kTileRows) {
    cfg.ensure(static_cast<int>(rows), 0);
    int64_t p = p0;
    for (; p + 2 <= p1; p += 2) chunk_one_row_tile<2>(w, r0, static_cast<int>(rows), p);
    if (p < p1) chunk_one_row_tile<1>(w, r0, static_cast<int>(rows), p);
  } else {
    const int mb = static_cast<int>(rows - kTileRows);
    cfg.ensure(kTileRows, mb);
    for (int64_t p = p0; p < p1; ++p) chunk_two_row_tiles(w, r0, mb, p);
  }
}

void release_tiles() {
  _tile_release();
}

}  // namespace
VERBATIM_AMX_END

bool gemm_amx_available() {
  static const bool ok = cpu_has_amx_bf16() && ask_tile_permission();  // once per process: permission is too
  return ok;
}

size_t gemm_amx_scratch_bytes(int64_t m, int64_t k) {
  return static_cast<size_t>(std::max<int64_t>(m, 0)) * static_cast<size_t>(padded_pairs(k)) * 4;
}

void gemm_amx(const float* x, const void* packed, float* y, void* scratch, const GemmBf16DotParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && packed != nullptr && y != nullptr && scratch != nullptr);
  VERBATIM_KERNEL_CHECK(p.m >= 0 && p.n > 0 && p.k > 0 && p.threads > 0 && gemm_amx_available());
  if (p.m == 0) return;
  const int64_t kh = pairs_of(p.k), khp = padded_pairs(p.k);
  uint32_t* xs = static_cast<uint32_t*>(scratch);
  const bf16dot_detail::WorkSplit split(p.m, p.n, p.threads, kRowBlock);
  const Work w{.xs = xs, .packed = static_cast<const uint8_t*>(packed), .y = y, .n = p.n, .kh = kh, .khp = khp};
#pragma omp parallel num_threads(p.threads) if (p.threads > 1 && split.n_items > 1)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < p.m; ++i) {
      uint32_t* row = xs + i * khp;
      bf16dot_detail::round_row_pairs(x + i * p.k, p.k, row);
      std::fill(row + kh, row + khp, 0u);
    }
    LoadedConfig cfg;
#pragma omp for schedule(static)
    for (int64_t item = 0; item < split.n_items; ++item) {
      int64_t r0, r1, p0, p1;
      split.item(item, r0, r1, p0, p1);
      run_item(w, r0, r1, p0, p1, cfg);
    }
    if (cfg.ma >= 0) release_tiles();
  }
}

}  // namespace verbatim::kernels::cpu

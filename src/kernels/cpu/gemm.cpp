#include "kernels/cpu/gemm.h"

#include <algorithm>

#include "kernels/cpu/check.h"
#include "kernels/cpu/gemm_tiles.h"
#include "kernels/cpu/simd.h"

namespace verbatim::kernels::cpu {
namespace {

using gemm_detail::Item;
using gemm_detail::panel_bytes;

// Work split: the output is cut into items of (up to) kColBlockPanels panels x kRowBlock rows; threads take whole items
// (column-block-major, so one thread's consecutive items reuse a column block's weights from its cache). Every
// output element is computed by exactly one tile, start to finish, in the fixed order of the header; the tiling only
// decides who computes it and when.
constexpr int64_t kColBlockPanels = 4;  // 128 columns
constexpr int64_t kRowBlock = 48;       // rows of one work item (cut into row tiles by the path)

int64_t panels_of(int64_t n) {
  return (n + kGemmPanel - 1) / kGemmPanel;
}

GemmIsa best_isa() {
  if (cpu_has_avx512f()) return GemmIsa::Avx512;
  if (cpu_has_avx2_fma()) return GemmIsa::Avx2;
  return GemmIsa::Scalar;
}

// ---- Packing ---------------------------------------------------------------------------------------------------

// Index, in 16-bit units within one t of a panel, of column c (BF16 pairs columns c and 16 + c in one word).
inline int64_t half_slot(DType d, int c) {
  return d == DType::BF16 ? 2 * (c % 16) + c / 16 : c;
}

void pack_panel(const void* w, DType d, int64_t n, int64_t k, int64_t p, uint8_t* dst) {
  for (int c = 0; c < kGemmPanel; ++c) {
    const int64_t j = p * kGemmPanel + c;  // W row (output column)
    if (d == DType::F32) {
      float* out = reinterpret_cast<float*>(dst);  // [k][32]
      const float* src = static_cast<const float*>(w) + j * k;
      for (int64_t t = 0; t < k; ++t) out[t * kGemmPanel + c] = j < n ? src[t] : 0.0f;
    } else {
      uint16_t* out = reinterpret_cast<uint16_t*>(dst);  // [k][32]
      const uint16_t* src = static_cast<const uint16_t*>(w) + j * k;
      const int64_t slot = half_slot(d, c);
      for (int64_t t = 0; t < k; ++t) out[t * kGemmPanel + slot] = j < n ? src[t] : uint16_t{0};
    }
  }
}

template <DType D>
void gemm_typed(const float* x, const uint8_t* packed, float* y, const GemmParams& p, GemmIsa isa) {
  const int64_t n_panels = panels_of(p.n);
  // Column blocks of kColBlockPanels panels, down to 2 when that leaves threads idle.
  const int64_t cb_panels = std::clamp<int64_t>(n_panels / (4 * p.threads), 2, kColBlockPanels);
  const int64_t n_cb = (n_panels + cb_panels - 1) / cb_panels;
  const int64_t n_rb = (p.m + kRowBlock - 1) / kRowBlock;
  const int64_t n_items = n_cb * n_rb;
#pragma omp parallel for num_threads(p.threads) schedule(static) if (p.threads > 1 && n_items > 1)
  for (int64_t item = 0; item < n_items; ++item) {
    const int64_t cb = item / n_rb, rb = item % n_rb;
    const int64_t p0 = cb * cb_panels, p1 = std::min(n_panels, p0 + cb_panels);
    const int64_t r0 = rb * kRowBlock, r1 = std::min(p.m, r0 + kRowBlock);
    const Item it{.x = x, .packed = packed, .y = y, .n = p.n, .k = p.k, .r0 = r0, .r1 = r1, .p0 = p0, .p1 = p1};
    switch (isa) {
      case GemmIsa::Avx512:
        gemm_detail::item_avx512<D>(it);
        break;
      case GemmIsa::Avx2:
        gemm_detail::item_avx2<D>(it);
        break;
      default:
        gemm_detail::item_scalar<D>(it);
        break;
    }
  }
}

}  // namespace

size_t gemm_packed_bytes(DType dtype, int64_t n, int64_t k) {
  return static_cast<size_t>(panels_of(n)) * static_cast<size_t>(panel_bytes(dtype, k));
}

void gemm_pack(const void* w, DType dtype, void* packed, const GemmPackParams& p) {
  VERBATIM_KERNEL_CHECK(w != nullptr && packed != nullptr && p.n > 0 && p.k > 0 && p.threads > 0);
  const int64_t n_panels = panels_of(p.n);
  const int64_t pb = panel_bytes(dtype, p.k);
  uint8_t* dst = static_cast<uint8_t*>(packed);
#pragma omp parallel for num_threads(p.threads) schedule(static) if (p.threads > 1)
  for (int64_t pi = 0; pi < n_panels; ++pi) pack_panel(w, dtype, p.n, p.k, pi, dst + pi * pb);
}

bool gemm_isa_available(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::Avx512:
      return cpu_has_avx512f();
    case GemmIsa::Avx2:
      return cpu_has_avx2_fma();
    default:
      return true;
  }
}

void gemm(const float* x, const void* packed, DType dtype, float* y, const GemmParams& p) {
  VERBATIM_KERNEL_CHECK(x != nullptr && packed != nullptr && y != nullptr && p.m >= 0 && p.n > 0 && p.k > 0);
  VERBATIM_KERNEL_CHECK(p.threads > 0 && gemm_isa_available(p.isa));
  if (p.m == 0) return;
  const GemmIsa isa = p.isa == GemmIsa::Auto ? best_isa() : p.isa;
  const uint8_t* pk = static_cast<const uint8_t*>(packed);
  switch (dtype) {
    case DType::F32:
      gemm_typed<DType::F32>(x, pk, y, p, isa);
      break;
    case DType::F16:
      gemm_typed<DType::F16>(x, pk, y, p, isa);
      break;
    case DType::BF16:
      gemm_typed<DType::BF16>(x, pk, y, p, isa);
      break;
  }
}

const char* gemm_path(DType) {
  switch (best_isa()) {
    case GemmIsa::Avx512:
      return "avx512";
    case GemmIsa::Avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

}  // namespace verbatim::kernels::cpu

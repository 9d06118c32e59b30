#include "tokenizer/piece_index.h"

#include <functional>

namespace verbatim {

namespace {

uint64_t hash_of(std::string_view s) {
  return std::hash<std::string_view>{}(s);
}

}  // namespace

void PieceIndex::build(const std::vector<std::string>& pieces, const std::vector<int32_t>& ids) {
  size_t cap = 16;
  while (cap < ids.size() * 2) cap *= 2;
  slots_.assign(cap, 0);
  for (int32_t id : ids) insert(id, pieces);
}

void PieceIndex::build_all(const std::vector<std::string>& pieces) {
  std::vector<int32_t> ids(pieces.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  build(pieces, ids);
}

void PieceIndex::insert(int32_t id, const std::vector<std::string>& pieces) {
  const std::string& s = pieces[id];
  const uint64_t h = hash_of(s);
  const uint64_t tag = h & 0xFFFFFFFF00000000ULL;
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0 || ((slot & 0xFFFFFFFF00000000ULL) == tag && pieces[(slot & 0xFFFFFFFFULL) - 1] == s)) {
      slots_[i] = tag | (static_cast<uint64_t>(id) + 1);
      return;
    }
  }
}

int32_t PieceIndex::find(std::string_view s, const std::vector<std::string>& pieces) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_of(s);
  const uint64_t tag = h & 0xFFFFFFFF00000000ULL;
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return -1;
    if ((slot & 0xFFFFFFFF00000000ULL) == tag) {
      const auto id = static_cast<int32_t>((slot & 0xFFFFFFFFULL) - 1);
      if (pieces[id] == s) return id;
    }
  }
}

}  // namespace verbatim

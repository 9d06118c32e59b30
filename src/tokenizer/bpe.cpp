#include "tokenizer/bpe.h"

#include <algorithm>
#include <cstdio>
#include <queue>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace verbatim {

namespace {

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr uint64_t kEmpty = ~uint64_t{0};

}  // namespace

void BpeModel::MergeMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap *= 2;
  if (cap <= keys_.size()) return;
  std::vector<uint64_t> old_keys = std::move(keys_);
  std::vector<MergeValue> old_values = std::move(values_);
  keys_.assign(cap, kEmpty);
  values_.assign(cap, MergeValue{0, 0});
  size_ = 0;
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] != kEmpty) insert(old_keys[i], old_values[i]);
  }
}

void BpeModel::MergeMap::insert(uint64_t key, MergeValue v) {
  if ((size_ + 1) * 2 > keys_.size()) reserve(size_ + 1);
  const size_t mask = keys_.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys_[i] == kEmpty) {
      keys_[i] = key;
      values_[i] = v;
      ++size_;
      return;
    }
    if (keys_[i] == key) {
      values_[i] = v;
      return;
    }
  }
}

const BpeModel::MergeValue* BpeModel::MergeMap::find(uint64_t key) const {
  if (keys_.empty()) return nullptr;
  const size_t mask = keys_.size() - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (keys_[i] == key) return &values_[i];
    if (keys_[i] == kEmpty) return nullptr;
  }
}

BpeModel::BpeModel(BpeOptions options, std::string where) : opt_(std::move(options)), where_(std::move(where)) {
  for (int32_t& id : byte_ids_) id = -1;
}

void BpeModel::set_vocab(std::vector<std::pair<std::string, int32_t>> entries, size_t n_merges) {
  int32_t max_id = -1;
  for (const auto& [piece, id] : entries) {
    if (id < 0 || id >= kMaxVocab) {
      fail(where_, "token id " + std::to_string(id) + " of '" + piece + "' is out of range [0, " +
                       std::to_string(kMaxVocab) + ")");
    }
    max_id = std::max(max_id, id);
  }
  if (max_id >= 2 * static_cast<int64_t>(entries.size()) + kIdSlack) {
    fail(where_, "token ids are too sparse: id " + std::to_string(max_id) + " in a vocabulary of " +
                     std::to_string(entries.size()) + " pieces");
  }
  pieces_.assign(static_cast<size_t>(max_id + 1), std::string());
  std::vector<int32_t> order;
  order.reserve(entries.size());
  for (auto& [piece, id] : entries) {
    pieces_[id] = std::move(piece);
    order.push_back(id);
  }
  index_.build(pieces_, order);
  merges_.reserve(n_merges);
}

int32_t BpeModel::find(std::string_view piece) const {
  return index_.find(piece, pieces_);
}

void BpeModel::add_merge(std::string_view left, std::string_view right) {
  const auto what = [&] {
    return "merge #" + std::to_string(n_merges_) + " '" + std::string(left) + " " + std::string(right) + "'";
  };
  const int32_t a = find(left), b = find(right);
  if (a < 0) fail(where_, what() + " uses '" + std::string(left) + "', which is not in the vocabulary");
  if (b < 0) fail(where_, what() + " uses '" + std::string(right) + "', which is not in the vocabulary");
  const size_t prefix_len = opt_.continuing_subword_prefix.size();
  if (right.size() < prefix_len) fail(where_, what() + " is shorter than the continuing-subword prefix");
  std::string merged(left);
  merged.append(right.substr(prefix_len));
  const int32_t m = find(merged);
  if (m < 0) fail(where_, what() + " makes '" + merged + "', which is not in the vocabulary");
  merges_.insert(key(a, b), MergeValue{n_merges_, m});
  ++n_merges_;
}

void BpeModel::finish() {
  unk_id_ = opt_.unk_token.empty() ? -1 : find(opt_.unk_token);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    byte_ids_[b] = find(buf);
  }
  small_char_.clear();
  if (opt_.continuing_subword_prefix.empty() && opt_.end_of_word_suffix.empty()) {
    small_char_.assign(0x800, -1);
    std::string s;
    for (uint32_t cp = 0; cp < 0x800; ++cp) {
      s.clear();
      utf8::append(s, cp);
      small_char_[cp] = find(s);
    }
  }
}

int32_t BpeModel::lookup_char(std::string_view s, bool first, bool last, std::string& scratch) const {
  if (!small_char_.empty()) {
    const auto b0 = static_cast<uint8_t>(s[0]);
    if (b0 < 0x80) return small_char_[b0];
    if (s.size() == 2 && b0 >= 0xC2 && b0 <= 0xDF) return small_char_[utf8::decode(s, 0, 2)];
    return find(s);
  }
  scratch.clear();
  if (!first) scratch += opt_.continuing_subword_prefix;
  scratch += s;
  if (last) scratch += opt_.end_of_word_suffix;
  return find(scratch);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (opt_.ignore_merges) {
    const int32_t id = find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  bool unk_pending = false;  // HF keeps one pending unknown (fused or not) until a known character arrives
  std::string scratch;
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8::char_len(word, i);
    const bool first = i == 0, last = i + n == word.size();
    const std::string_view ch = word.substr(i, n);
    i += n;
    const int32_t id = lookup_char(ch, first, last, scratch);
    if (id >= 0) {
      if (unk_pending) ids.push_back(unk_id_);
      unk_pending = false;
      ids.push_back(id);
      continue;
    }
    if (opt_.byte_fallback) {
      scratch.clear();
      if (!first) scratch += opt_.continuing_subword_prefix;
      scratch += ch;
      if (last) scratch += opt_.end_of_word_suffix;
      bool all = true;
      for (char c : scratch) all = all && byte_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        for (char c : scratch) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (unk_pending && !opt_.fuse_unk) ids.push_back(unk_id_);
      unk_pending = true;
    }
  }
  if (unk_pending) ids.push_back(unk_id_);
  merge_all(ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

void BpeModel::merge_all(std::vector<int32_t>& ids) const {
  const int32_t n = static_cast<int32_t>(ids.size());
  if (n < 2) return;
  struct Symbol {
    int32_t id, prev, next;
    bool alive;
  };
  struct Item {
    int32_t rank, pos, new_id;
  };
  struct Later {  // min-heap: lowest rank first, then leftmost position
    bool operator()(const Item& a, const Item& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.pos > b.pos);
    }
  };
  std::vector<Symbol> sym(n);
  std::vector<Item> storage;
  storage.reserve(n);
  std::priority_queue<Item, std::vector<Item>, Later> queue(Later{}, std::move(storage));
  for (int32_t i = 0; i < n; ++i) sym[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1, true};
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const MergeValue* m = merges_.find(key(ids[i], ids[i + 1]))) queue.push({m->rank, i, m->new_id});
  }
  while (!queue.empty()) {
    const Item top = queue.top();
    queue.pop();
    Symbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t right = cur.next;
    const MergeValue* m = merges_.find(key(cur.id, sym[right].id));
    if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.next = sym[right].next;
    sym[right].alive = false;
    if (cur.next >= 0) sym[cur.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (const MergeValue* p = merges_.find(key(sym[cur.prev].id, cur.id))) queue.push({p->rank, cur.prev, p->new_id});
    }
    if (cur.next >= 0) {
      if (const MergeValue* q = merges_.find(key(cur.id, sym[cur.next].id))) queue.push({q->rank, top.pos, q->new_id});
    }
  }
  ids.clear();
  for (const Symbol& s : sym) {
    if (s.alive) ids.push_back(s.id);
  }
}

}  // namespace verbatim

#include "engine/block_manager.h"

#include <algorithm>
#include <limits>
#include <string>
#include <unordered_map>

#include "util/error.h"

// Bookkeeping, per physical block:
//   ref > 0                  in use by `ref` sequences (may or may not hold a cache entry);
//   ref == 0, cache entry    in the evictable LRU list (reused on a hit, evicted when a fresh block is needed);
//   ref == 0, no entry       on the plain free list.
// The LRU is an intrusive doubly linked list over block ids: head = least recently freed (evicted first), tail =
// most recently freed. A sequence is released tail block first, so its head blocks land nearer the LRU tail and
// outlive its tail blocks: the shared prefixes that future requests are likely to hit stay longest.
//
// Exact reuse, whatever the hash does. The hash is only an index: a cache entry maps the 64-bit chained hash of a
// block to the block, and the block keeps its token ids plus the *entry id* of its parent (a counter value, never
// reused; kRootChain for a sequence's first block). A hit needs the hash found AND equal tokens AND a parent entry
// id equal to the id of the entry just matched for the previous block. By induction a hit's whole token prefix is
// the sequence's, so even a hash collision of two whole chains can never share wrong K/V; it only costs a miss.
//
// Each held, committed block also records `chain`: the id of the entry that stands for the exact prefix through
// it (its own entry; for a private duplicate, the equal entry it found at commit; kNoChain when there is none),
// so that the next block can be cached under the right parent. An evicted entry's id is gone for good: entries
// still naming it as their parent become unreachable and age out of the LRU.

namespace verbatim {

namespace {

constexpr uint64_t kRootHash = 0x243f6a8885a308d3ULL;  // the "parent hash" of a sequence's first block
constexpr uint64_t kRootChain = 0;                     // the "parent entry id" of a sequence's first block
constexpr uint64_t kNoChain = ~uint64_t{0};            // a prefix with no cache entry standing for it
constexpr int32_t kNone = -1;

uint64_t rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

// The splitmix64 finalizer: a bijection on 64-bit words with full avalanche.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Hash of one full block chained on its parent's hash. Every absorption step is a bijection of the state for a
// fixed token and injective in the token for a fixed state (xxhash-style round), and the result is finalized.
uint64_t block_hash(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ 0x9e3779b97f4a7c15ULL);
  for (int32_t t : tokens) {
    h ^= mix64(static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0xc2b2ae3d27d4eb4fULL);
    h = rotl(h, 27) * 0x9e3779b97f4a7c15ULL + 0x165667b19e3779f9ULL;
  }
  return mix64(h ^ static_cast<uint64_t>(tokens.size()));
}

struct Block {
  int32_t ref = 0;
  int32_t prev = kNone;  // LRU links, meaningful while in the LRU (ref 0 and cached)
  int32_t next = kNone;
  bool cached = false;        // holds the cache entry keyed `hash`, whose id is `chain`
  uint64_t hash = 0;          // the entry's key, while cached
  uint64_t parent_chain = 0;  // the parent entry's id, while cached
  uint64_t chain = kNoChain;  // the entry standing for the prefix through this block (see above)
};

}  // namespace

struct BlockManager::Impl {
  int num_blocks = 0;
  int block_size = 0;
  bool prefix_caching = true;
  uint64_t hash_mask = ~uint64_t{0};  // BlockManagerOptions::hash_bits

  uint64_t hash(uint64_t parent, std::span<const int32_t> block) const { return block_hash(parent, block) & hash_mask; }

  std::vector<Block> blocks;       // [num_blocks]
  std::vector<int32_t> tokens;     // [num_blocks * block_size] token ids of cached blocks
  std::vector<int32_t> free_list;  // ref 0, no cache entry; a stack, popped from the back
  int32_t lru_head = kNone;        // least recently freed cached block
  int32_t lru_tail = kNone;        // most recently freed cached block
  int lru_size = 0;
  std::unordered_map<uint64_t, int32_t> cache;  // chained hash -> block holding it
  int used = 0;
  uint64_t hits = 0;
  uint64_t queries = 0;
  uint64_t next_entry_id = kRootChain + 1;

  std::span<const int32_t> block_tokens(int32_t id) const {
    return {tokens.data() + static_cast<size_t>(id) * static_cast<size_t>(block_size), static_cast<size_t>(block_size)};
  }

  int num_free() const { return static_cast<int>(free_list.size()) + lru_size; }

  void lru_push_back(int32_t id) {
    Block& b = blocks[id];
    b.prev = lru_tail;
    b.next = kNone;
    if (lru_tail != kNone) {
      blocks[lru_tail].next = id;
    } else {
      lru_head = id;
    }
    lru_tail = id;
    ++lru_size;
  }

  void lru_remove(int32_t id) {
    Block& b = blocks[id];
    if (b.prev != kNone) {
      blocks[b.prev].next = b.next;
    } else {
      lru_head = b.next;
    }
    if (b.next != kNone) {
      blocks[b.next].prev = b.prev;
    } else {
      lru_tail = b.prev;
    }
    b.prev = b.next = kNone;
    --lru_size;
  }

  void drop_entry(int32_t id) {
    Block& b = blocks[id];
    auto it = cache.find(b.hash);
    if (it != cache.end() && it->second == id) cache.erase(it);
    b.cached = false;
    b.chain = kNoChain;
  }

  // A block with ref 1 and no cache entry: from the free list, else by evicting the least recently freed cached
  // block. The caller has checked num_free() > 0.
  int32_t take_fresh() {
    int32_t id;
    if (!free_list.empty()) {
      id = free_list.back();
      free_list.pop_back();
    } else {
      id = lru_head;
      lru_remove(id);
      drop_entry(id);
    }
    blocks[id].ref = 1;
    blocks[id].chain = kNoChain;
    ++used;
    return id;
  }

  // One more reference to a cached block (hit), taking it off the LRU if it was free.
  void acquire(int32_t id) {
    Block& b = blocks[id];
    if (b.ref == 0) {
      lru_remove(id);
      ++used;
    }
    ++b.ref;
  }

  void unref(int32_t id) {
    Block& b = blocks[id];
    if (--b.ref > 0) return;
    --used;
    if (b.cached) {
      lru_push_back(id);
    } else {
      free_list.push_back(id);
    }
  }

  void check_id(const char* where, int32_t id) const {
    if (id < 0 || id >= num_blocks)
      fail(where, "block id " + std::to_string(id) + " out of range [0, " + std::to_string(num_blocks) + ")");
  }
};

void BlockManager::ImplDeleter::operator()(Impl* p) const {
  delete p;
}

BlockManager::BlockManager(const BlockManagerOptions& options) : impl_(new Impl) {
  if (options.num_blocks <= 0)
    fail("BlockManager", "num_blocks must be > 0 (got " + std::to_string(options.num_blocks) + ")");
  if (options.block_size <= 0)
    fail("BlockManager", "block_size must be > 0 (got " + std::to_string(options.block_size) + ")");
  if (options.hash_bits < 1 || options.hash_bits > 64)
    fail("BlockManager", "hash_bits must be in [1, 64] (got " + std::to_string(options.hash_bits) + ")");
  Impl& m = *impl_;
  m.num_blocks = options.num_blocks;
  m.block_size = options.block_size;
  m.prefix_caching = options.prefix_caching;
  m.hash_mask = options.hash_bits == 64 ? ~uint64_t{0} : (uint64_t{1} << options.hash_bits) - 1;
  m.blocks.resize(static_cast<size_t>(m.num_blocks));
  if (m.prefix_caching) m.tokens.resize(static_cast<size_t>(m.num_blocks) * static_cast<size_t>(m.block_size));
  m.free_list.reserve(static_cast<size_t>(m.num_blocks));
  for (int32_t id = m.num_blocks - 1; id >= 0; --id) m.free_list.push_back(id);  // hands out 0, 1, 2, ... first
  if (m.prefix_caching) m.cache.reserve(static_cast<size_t>(m.num_blocks));
}

int BlockManager::block_size() const {
  return impl_->block_size;
}
int BlockManager::num_blocks() const {
  return impl_->num_blocks;
}
int BlockManager::num_free() const {
  return impl_->num_free();
}

BlockManagerStats BlockManager::stats() const {
  const Impl& m = *impl_;
  BlockManagerStats s;
  s.used = m.used;
  s.cached_free = m.lru_size;
  s.free = m.num_free();
  s.hits = m.hits;
  s.queries = m.queries;
  return s;
}

bool BlockManager::allocate(SeqBlocks& seq, std::span<const int32_t> tokens, int reserve_tokens, bool lookup) {
  static constexpr const char* kWhere = "BlockManager::allocate";
  Impl& m = *impl_;
  if (!seq.blocks.empty() || !seq.full_hashes.empty() || seq.num_cached_tokens != 0)
    fail(kWhere, "the sequence already holds blocks");
  if (tokens.size() > static_cast<size_t>(std::numeric_limits<int>::max())) fail(kWhere, "too many tokens");
  const int n = static_cast<int>(tokens.size());
  if (reserve_tokens < 1 || reserve_tokens > n)
    fail(kWhere,
         "reserve_tokens must be in [1, " + std::to_string(n) + "] (got " + std::to_string(reserve_tokens) + ")");

  const size_t bs = static_cast<size_t>(m.block_size);
  // The block holding token n - 1 is never reused: its logits must be computed.
  const int cap = (n - 1) / m.block_size;

  // 1. Look up the longest cached run, recording it in seq without taking references yet.
  int matched = 0;
  int matched_free = 0;  // matched blocks that sit in the LRU now (they stop being allocatable)
  uint64_t lookups = 0;
  if (m.prefix_caching && lookup) {
    uint64_t parent = kRootHash;
    uint64_t parent_chain = kRootChain;
    while (matched < cap) {
      const std::span<const int32_t> block = tokens.subspan(static_cast<size_t>(matched) * bs, bs);
      const uint64_t h = m.hash(parent, block);
      ++lookups;
      const auto it = m.cache.find(h);
      if (it == m.cache.end()) break;
      const int32_t id = it->second;
      Block& b = m.blocks[id];
      // Never the hash alone: the exact parent entry and the tokens. (A block cannot match twice in one chain:
      // entry ids only grow from parent to child, so each entry can only match at one depth.)
      if (b.parent_chain != parent_chain || !std::ranges::equal(block, m.block_tokens(id))) break;
      if (b.ref == 0) ++matched_free;
      seq.blocks.push_back(id);
      seq.full_hashes.push_back(h);
      parent = h;
      parent_chain = b.chain;
      ++matched;
    }
  }

  // 2. All or nothing: check capacity before touching any reference count.
  const int needed = static_cast<int>((static_cast<int64_t>(reserve_tokens) + m.block_size - 1) / m.block_size);
  const int fresh = std::max(0, needed - matched);
  if (fresh > m.num_free() - matched_free) {
    seq.blocks.clear();
    seq.full_hashes.clear();
    return false;
  }

  // 3. Commit: references on the hits first (so that evictions below cannot pick them), then fresh blocks.
  for (int32_t id : seq.blocks) m.acquire(id);
  for (int i = 0; i < fresh; ++i) seq.blocks.push_back(m.take_fresh());
  seq.num_cached_tokens = matched * m.block_size;
  m.hits += static_cast<uint64_t>(matched);
  m.queries += lookups;
  return true;
}

bool BlockManager::reserve(SeqBlocks& seq, int n_tokens) {
  Impl& m = *impl_;
  if (n_tokens < 0) fail("BlockManager::reserve", "n_tokens must be >= 0 (got " + std::to_string(n_tokens) + ")");
  const int64_t needed = (static_cast<int64_t>(n_tokens) + m.block_size - 1) / m.block_size;
  const int64_t have = static_cast<int64_t>(seq.blocks.size());
  if (needed <= have) return true;
  if (needed - have > m.num_free()) return false;
  for (int64_t i = have; i < needed; ++i) seq.blocks.push_back(m.take_fresh());
  return true;
}

// A block that becomes full is cached under its chained hash unless that hash already has an entry. That happens
// when two sequences computed the same prefix concurrently (neither could hit the other's blocks at allocation):
// the existing entry is kept and this block stays private, uncached, and goes to the free list when released. It
// takes the existing entry's id as its `chain`, so the sequence's later blocks are cached under that entry (a
// later hit then pairs the existing entry with them; both hold bitwise-equal K/V for the same prefix). If the
// existing entry is a different prefix (a true hash collision), this block and the rest of the sequence's blocks
// simply stay uncached.
void BlockManager::commit(SeqBlocks& seq, std::span<const int32_t> tokens, int n_computed) {
  static constexpr const char* kWhere = "BlockManager::commit";
  Impl& m = *impl_;
  if (n_computed < 0 || static_cast<size_t>(n_computed) > tokens.size())
    fail(kWhere,
         "n_computed must be in [0, " + std::to_string(tokens.size()) + "] (got " + std::to_string(n_computed) + ")");
  const size_t bs = static_cast<size_t>(m.block_size);
  if (static_cast<size_t>(n_computed) > seq.blocks.size() * bs)
    fail(kWhere, "n_computed " + std::to_string(n_computed) + " exceeds the sequence's " +
                     std::to_string(seq.blocks.size()) + " blocks");

  const size_t n_full = static_cast<size_t>(n_computed) / bs;
  for (size_t i = seq.full_hashes.size(); i < n_full; ++i) {
    const uint64_t parent = i == 0 ? kRootHash : seq.full_hashes[i - 1];
    const std::span<const int32_t> block = tokens.subspan(i * bs, bs);
    const uint64_t h = m.hash(parent, block);
    seq.full_hashes.push_back(h);
    if (!m.prefix_caching) continue;
    const int32_t id = seq.blocks[i];
    m.check_id(kWhere, id);
    Block& b = m.blocks[id];
    if (b.cached) continue;  // only a block from the cache could hold an entry, and those are below full_hashes
    const uint64_t parent_chain = i == 0 ? kRootChain : m.blocks[static_cast<size_t>(seq.blocks[i - 1])].chain;
    b.chain = kNoChain;
    if (parent_chain == kNoChain) continue;  // the prefix before this block is not in the cache
    const auto [it, inserted] = m.cache.try_emplace(h, id);
    if (!inserted) {  // an equal prefix (or a colliding key) is cached already
      const Block& e = m.blocks[static_cast<size_t>(it->second)];
      if (e.parent_chain == parent_chain && std::ranges::equal(block, m.block_tokens(it->second))) b.chain = e.chain;
      continue;
    }
    b.cached = true;
    b.hash = h;
    b.parent_chain = parent_chain;
    b.chain = m.next_entry_id++;
    std::ranges::copy(block, m.tokens.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(id) * bs));
  }
}

void BlockManager::release(SeqBlocks& seq) {
  static constexpr const char* kWhere = "BlockManager::release";
  Impl& m = *impl_;
  for (int32_t id : seq.blocks) {  // validate first: a bad id or a double release must not corrupt the counts
    m.check_id(kWhere, id);
    if (m.blocks[id].ref <= 0) fail(kWhere, "block " + std::to_string(id) + " is not in use");
  }
  for (auto it = seq.blocks.rbegin(); it != seq.blocks.rend(); ++it) m.unref(*it);  // tail first: evicted first
  seq.blocks.clear();
  seq.full_hashes.clear();
  seq.num_cached_tokens = 0;
}

void BlockManager::clear_prefix_cache() {
  Impl& m = *impl_;
  while (m.lru_head != kNone) {
    const int32_t id = m.lru_head;
    m.lru_remove(id);
    m.drop_entry(id);
    m.free_list.push_back(id);
  }
}

int BlockManager::ref_count(int32_t block) const {
  impl_->check_id("BlockManager::ref_count", block);
  return impl_->blocks[block].ref;
}

bool BlockManager::is_cached(int32_t block) const {
  impl_->check_id("BlockManager::is_cached", block);
  return impl_->blocks[block].cached;
}

}  // namespace verbatim

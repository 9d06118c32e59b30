// The paged KV cache's bookkeeping: fixed-size blocks, reference counts, and a prefix cache of full blocks.
//
// A sequence owns an ordered list of physical blocks; position p of the sequence lives in block blocks[p / block_size]
// at offset p % block_size. A block becomes *full* once all block_size positions hold computed K/V; the scheduler
// then commits it, and it enters the prefix cache under a hash chained over (hash of the previous block, the block's
// token ids). Because every K/V value at position p is a pure function of (model, tokens[0..p]) — the invariance
// contract — a later sequence whose tokens start with the same full blocks can reuse them bit for bit.
//
// Freed blocks that are in the prefix cache stay there (reference count 0, evictable) and are reused on a hit or
// evicted least-recently-freed first when a fresh block is needed. Nothing here touches K/V data: the backend owns
// the memory, this class only hands out block ids. Not thread-safe: the engine's step loop owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace verbatim {

struct BlockManagerOptions {
  int num_blocks = 0;   // physical blocks in the cache, > 0
  int block_size = 16;  // positions per block, > 0
  bool prefix_caching = true;
  int hash_bits = 64;  // tests only: below 64, block hashes keep only their low bits, forcing collisions (1..64)
};

// A sequence's blocks, kept by the sequence and updated by the BlockManager.
struct SeqBlocks {
  std::vector<int32_t> blocks;        // physical block ids, in position order
  std::vector<uint64_t> full_hashes;  // chained hashes of the committed full blocks (a prefix of `blocks`)
  int num_cached_tokens = 0;          // leading tokens whose K/V came from the prefix cache at allocation
};

struct BlockManagerStats {
  int used = 0;          // blocks with reference count > 0
  int cached_free = 0;   // blocks with reference count 0 that still hold a prefix-cache entry
  int free = 0;          // blocks that can be handed out (cached_free included)
  uint64_t hits = 0;     // blocks reused from the prefix cache (lifetime)
  uint64_t queries = 0;  // full blocks looked up (lifetime)
};

class BlockManager {
 public:
  explicit BlockManager(const BlockManagerOptions& options);  // throws Error for non-positive sizes

  int block_size() const;
  int num_blocks() const;
  int num_free() const;  // blocks allocatable right now (free plus evictable cached)
  BlockManagerStats stats() const;

  // Starts a sequence whose first tokens are `tokens` (its prompt, or prompt + generated tokens when it is
  // recomputed after preemption). Reuses the longest run of cached full blocks matching the token prefix, but never
  // the block holding the last token (its logits must be computed), then allocates fresh blocks so that the first
  // `reserve_tokens` positions (>= 1, <= tokens.size()) are covered. Sets seq.num_cached_tokens. Returns false and
  // changes nothing when not enough blocks are free. `seq` must be empty. With `lookup` false the cache is not
  // consulted (a request that needs every prompt row's logits); the sequence's blocks are still committed to it.
  bool allocate(SeqBlocks& seq, std::span<const int32_t> tokens, int reserve_tokens, bool lookup = true);

  // Makes sure positions [0, n_tokens) of the sequence have blocks. Returns false and changes nothing when not
  // enough blocks are free.
  bool reserve(SeqBlocks& seq, int n_tokens);

  // Records that the first `n_computed` tokens of the sequence now have computed K/V: every block that became full
  // is entered in the prefix cache (if caching is on). `tokens` are the sequence's tokens, at least n_computed.
  void commit(SeqBlocks& seq, std::span<const int32_t> tokens, int n_computed);

  // Releases the sequence's blocks (reference counts drop; cached blocks stay cached until evicted) and clears seq.
  void release(SeqBlocks& seq);

  // Drops every cache entry of a free block (for tests and for a model reload).
  void clear_prefix_cache();

  // Introspection for tests and debugging; both throw Error for an id outside [0, num_blocks).
  int ref_count(int32_t block) const;   // sequences holding the block
  bool is_cached(int32_t block) const;  // whether the block holds a prefix-cache entry

 private:
  struct Impl;
  struct ImplDeleter {
    void operator()(Impl* p) const;
  };
  std::unique_ptr<Impl, ImplDeleter> impl_;
};

}  // namespace verbatim

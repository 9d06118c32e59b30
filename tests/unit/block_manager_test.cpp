#include "engine/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "util/error.h"

namespace verbatim {
namespace {

std::vector<int32_t> iota_tokens(int n, int32_t start = 1) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), start);
  return t;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

BlockManager make(int num_blocks, int block_size, bool prefix_caching = true) {
  return BlockManager(BlockManagerOptions{num_blocks, block_size, prefix_caching});
}

// Allocates `tokens` in full, marks them all computed and commits: a finished prefill.
SeqBlocks prefill(BlockManager& bm, const std::vector<int32_t>& tokens) {
  SeqBlocks s;
  EXPECT_TRUE(bm.allocate(s, tokens, static_cast<int>(tokens.size())));
  bm.commit(s, tokens, static_cast<int>(tokens.size()));
  return s;
}

void expect_same_stats(const BlockManagerStats& a, const BlockManagerStats& b) {
  EXPECT_EQ(a.used, b.used);
  EXPECT_EQ(a.cached_free, b.cached_free);
  EXPECT_EQ(a.free, b.free);
  EXPECT_EQ(a.hits, b.hits);
  EXPECT_EQ(a.queries, b.queries);
}

TEST(BlockManager, RejectsBadOptionsAndArguments) {
  EXPECT_THROW(make(0, 4), Error);
  EXPECT_THROW(make(4, 0), Error);
  EXPECT_THROW(make(-1, 4), Error);
  EXPECT_THROW(BlockManager(BlockManagerOptions{4, 4, true, 0}), Error);
  EXPECT_THROW(BlockManager(BlockManagerOptions{4, 4, true, 65}), Error);
  BlockManager bm = make(4, 4);
  const std::vector<int32_t> t = iota_tokens(5);
  SeqBlocks s;
  EXPECT_THROW(bm.allocate(s, t, 0), Error);
  EXPECT_THROW(bm.allocate(s, t, 6), Error);
  EXPECT_THROW(bm.allocate(s, {}, 1), Error);
  ASSERT_TRUE(bm.allocate(s, t, 5));
  EXPECT_THROW(bm.allocate(s, t, 5), Error);  // not empty
  EXPECT_THROW(bm.commit(s, t, 6), Error);    // more than the tokens
  EXPECT_THROW(bm.reserve(s, -1), Error);
  EXPECT_THROW(bm.ref_count(4), Error);
  EXPECT_THROW(bm.is_cached(-1), Error);
  SeqBlocks copy = s;
  bm.release(s);
  EXPECT_THROW(bm.release(copy), Error);  // double release is caught, counts untouched
  EXPECT_EQ(bm.num_free(), 4);
  SeqBlocks small;
  ASSERT_TRUE(bm.allocate(small, t, 1));
  EXPECT_THROW(bm.commit(small, t, 5), Error);  // beyond the sequence's one block
}

TEST(BlockManager, AllocateWithEmptyCache) {
  BlockManager bm = make(8, 4);
  EXPECT_EQ(bm.block_size(), 4);
  EXPECT_EQ(bm.num_blocks(), 8);
  const std::vector<int32_t> t = iota_tokens(10);
  SeqBlocks s;
  ASSERT_TRUE(bm.allocate(s, t, 10));
  EXPECT_EQ(s.blocks, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_TRUE(s.full_hashes.empty());
  EXPECT_EQ(s.num_cached_tokens, 0);
  const BlockManagerStats st = bm.stats();
  EXPECT_EQ(st.used, 3);
  EXPECT_EQ(st.free, 5);
  EXPECT_EQ(st.cached_free, 0);
  EXPECT_EQ(st.hits, 0u);
  EXPECT_EQ(st.queries, 1u);  // block 0 looked up, missed, search stopped
  EXPECT_EQ(bm.num_free(), 5);
  for (int32_t b : s.blocks) EXPECT_EQ(bm.ref_count(b), 1);

  SeqBlocks partial;  // reserve_tokens < tokens.size(): only the reserved positions get blocks
  ASSERT_TRUE(bm.allocate(partial, t, 5));
  EXPECT_EQ(partial.blocks.size(), 2u);
}

TEST(BlockManager, SharedPrefixHit) {
  BlockManager bm = make(16, 4);
  const std::vector<int32_t> a_tokens = iota_tokens(12);
  SeqBlocks a = prefill(bm, a_tokens);
  ASSERT_EQ(a.full_hashes.size(), 3u);
  for (int32_t b : a.blocks) EXPECT_TRUE(bm.is_cached(b));

  // Same first two blocks, a different third block, one more token.
  const std::vector<int32_t> b_tokens =
      concat(std::vector<int32_t>(a_tokens.begin(), a_tokens.begin() + 8), {90, 91, 92, 93, 94});
  SeqBlocks b;
  ASSERT_TRUE(bm.allocate(b, b_tokens, 13));
  EXPECT_EQ(b.num_cached_tokens, 8);
  ASSERT_EQ(b.blocks.size(), 4u);
  EXPECT_EQ(b.blocks[0], a.blocks[0]);
  EXPECT_EQ(b.blocks[1], a.blocks[1]);
  EXPECT_NE(b.blocks[2], a.blocks[2]);
  EXPECT_EQ(b.full_hashes, std::vector<uint64_t>(a.full_hashes.begin(), a.full_hashes.begin() + 2));
  EXPECT_EQ(bm.ref_count(a.blocks[0]), 2);
  EXPECT_EQ(bm.ref_count(a.blocks[1]), 2);
  EXPECT_EQ(bm.ref_count(a.blocks[2]), 1);
  EXPECT_EQ(bm.stats().hits, 2u);
  EXPECT_EQ(bm.stats().queries, 1u + 3u);  // a: 1 miss; b: 2 hits + 1 miss
  EXPECT_EQ(bm.stats().used, 5);

  // Committing b chains from the reused hashes.
  bm.commit(b, b_tokens, 12);
  ASSERT_EQ(b.full_hashes.size(), 3u);
  EXPECT_NE(b.full_hashes[2], a.full_hashes[2]);
  EXPECT_TRUE(bm.is_cached(b.blocks[2]));

  // A sequence released with its blocks cached: a third sequence reuses them from the free pool.
  bm.release(a);
  EXPECT_EQ(bm.stats().cached_free, 1);  // a's third block; the first two are still held by b
  SeqBlocks c;
  ASSERT_TRUE(bm.allocate(c, concat(a_tokens, {7}), 13));
  EXPECT_EQ(c.num_cached_tokens, 12);
  EXPECT_EQ(bm.stats().cached_free, 0);
}

TEST(BlockManager, LastTokenBlockIsNeverReused) {
  BlockManager bm = make(16, 4);
  const std::vector<int32_t> t = iota_tokens(8);  // exactly two full blocks
  SeqBlocks a = prefill(bm, t);
  const std::vector<int32_t> a_blocks = a.blocks;
  bm.release(a);
  EXPECT_EQ(bm.stats().cached_free, 2);

  SeqBlocks b;
  ASSERT_TRUE(bm.allocate(b, t, 8));
  EXPECT_EQ(b.num_cached_tokens, 4);  // the block holding token 7 is computed again
  ASSERT_EQ(b.blocks.size(), 2u);
  EXPECT_EQ(b.blocks[0], a_blocks[0]);
  EXPECT_NE(b.blocks[1], a_blocks[1]);
  EXPECT_EQ(b.full_hashes.size(), 1u);
  EXPECT_EQ(bm.stats().hits, 1u);

  SeqBlocks c;  // one more token: both full blocks are reusable
  ASSERT_TRUE(bm.allocate(c, concat(t, {9}), 9));
  EXPECT_EQ(c.num_cached_tokens, 8);
  EXPECT_EQ(c.blocks[0], b.blocks[0]);

  SeqBlocks d;  // a single-token prompt never hits
  ASSERT_TRUE(bm.allocate(d, std::vector<int32_t>{1}, 1));
  EXPECT_EQ(d.num_cached_tokens, 0);
}

TEST(BlockManager, PartialBlocksNeverHit) {
  BlockManager bm = make(16, 4);
  std::vector<int32_t> t = iota_tokens(6);  // one full block + 2 tokens
  SeqBlocks a = prefill(bm, t);
  EXPECT_EQ(a.full_hashes.size(), 1u);
  EXPECT_TRUE(bm.is_cached(a.blocks[0]));
  EXPECT_FALSE(bm.is_cached(a.blocks[1]));

  SeqBlocks b;
  const std::vector<int32_t> longer = concat(t, {7, 8, 9});
  ASSERT_TRUE(bm.allocate(b, longer, 9));
  EXPECT_EQ(b.num_cached_tokens, 4);
  EXPECT_NE(b.blocks[1], a.blocks[1]);

  // Once a's second block fills up and is committed, it is cached.
  t.push_back(7);
  t.push_back(8);
  bm.commit(a, t, 8);
  EXPECT_EQ(a.full_hashes.size(), 2u);
  EXPECT_TRUE(bm.is_cached(a.blocks[1]));
  SeqBlocks c;
  ASSERT_TRUE(bm.allocate(c, longer, 9));
  EXPECT_EQ(c.num_cached_tokens, 8);
  EXPECT_EQ(c.blocks[1], a.blocks[1]);
}

TEST(BlockManager, DifferentParentDoesNotHit) {
  BlockManager bm = make(16, 4);
  const std::vector<int32_t> x = {1, 2, 3, 4}, z = {5, 6, 7, 8}, y = {9, 9, 9, 9};
  const std::vector<int32_t> a_tokens = concat(concat(x, y), {0});
  const std::vector<int32_t> b_tokens = concat(concat(z, y), {0});
  SeqBlocks a = prefill(bm, a_tokens);
  SeqBlocks b;
  ASSERT_TRUE(bm.allocate(b, b_tokens, 9));
  EXPECT_EQ(b.num_cached_tokens, 0);  // block 1 holds the same tokens as a's, after a different block 0
  bm.commit(b, b_tokens, 9);
  ASSERT_EQ(a.full_hashes.size(), 2u);
  ASSERT_EQ(b.full_hashes.size(), 2u);
  EXPECT_NE(a.full_hashes[1], b.full_hashes[1]);
  EXPECT_TRUE(bm.is_cached(a.blocks[1]));
  EXPECT_TRUE(bm.is_cached(b.blocks[1]));  // two entries for the same tokens under different parents

  SeqBlocks c;  // z + y hits b's blocks, never a's
  ASSERT_TRUE(bm.allocate(c, b_tokens, 9));
  EXPECT_EQ(c.num_cached_tokens, 8);
  EXPECT_EQ(c.blocks[0], b.blocks[0]);
  EXPECT_EQ(c.blocks[1], b.blocks[1]);

  SeqBlocks d;  // the same block shifted to another position does not hit either
  ASSERT_TRUE(bm.allocate(d, concat(y, {0}), 5));
  EXPECT_EQ(d.num_cached_tokens, 0);
}

TEST(BlockManager, EvictsLeastRecentlyFreedTailFirst) {
  BlockManager bm = make(6, 2);
  const std::vector<int32_t> a_tokens = iota_tokens(8, 1);    // blocks 0 1 2 3
  const std::vector<int32_t> x_tokens = iota_tokens(4, 100);  // blocks 4 5
  SeqBlocks a = prefill(bm, a_tokens);
  SeqBlocks x = prefill(bm, x_tokens);
  ASSERT_EQ(a.blocks, (std::vector<int32_t>{0, 1, 2, 3}));
  ASSERT_EQ(x.blocks, (std::vector<int32_t>{4, 5}));
  bm.release(a);  // freed first, tail first: LRU (evicted first) 3 2 1 0
  bm.release(x);  // then 5 4
  EXPECT_EQ(bm.stats().cached_free, 6);
  EXPECT_EQ(bm.stats().free, 6);

  SeqBlocks y;
  ASSERT_TRUE(bm.allocate(y, iota_tokens(2, 200), 2));
  EXPECT_EQ(y.blocks, (std::vector<int32_t>{3}));
  EXPECT_FALSE(bm.is_cached(3));
  SeqBlocks w;
  ASSERT_TRUE(bm.allocate(w, iota_tokens(6, 300), 6));
  EXPECT_EQ(w.blocks, (std::vector<int32_t>{2, 1, 0}));
  EXPECT_EQ(bm.stats().cached_free, 2);

  // a's blocks are gone; x's head survives its tail.
  SeqBlocks z;
  ASSERT_TRUE(bm.allocate(z, iota_tokens(2, 400), 2));
  EXPECT_EQ(z.blocks, (std::vector<int32_t>{5}));
  bm.release(w);  // uncached blocks go back to the plain free list
  EXPECT_EQ(bm.stats().cached_free, 1);
  SeqBlocks x2;
  ASSERT_TRUE(bm.allocate(x2, concat(x_tokens, {1}), 5));
  EXPECT_EQ(x2.num_cached_tokens, 2);
  EXPECT_EQ(x2.blocks[0], 4);
  SeqBlocks a2;
  bm.release(y);
  ASSERT_TRUE(bm.allocate(a2, concat(a_tokens, {1}), 1));
  EXPECT_EQ(a2.num_cached_tokens, 0);
}

TEST(BlockManager, PlainFreeBlocksAreUsedBeforeEvicting) {
  BlockManager bm = make(4, 2);
  SeqBlocks a = prefill(bm, iota_tokens(4));  // blocks 0 1, cached
  bm.release(a);
  SeqBlocks b;
  ASSERT_TRUE(bm.allocate(b, iota_tokens(4, 50), 4));
  EXPECT_EQ(b.blocks, (std::vector<int32_t>{2, 3}));
  EXPECT_TRUE(bm.is_cached(0));
  EXPECT_TRUE(bm.is_cached(1));
}

TEST(BlockManager, FailedAllocationChangesNothing) {
  BlockManager bm = make(4, 2);
  const std::vector<int32_t> t = iota_tokens(4);
  SeqBlocks a = prefill(bm, t);
  bm.release(a);  // 2 cached free + 2 plain free
  const BlockManagerStats before = bm.stats();

  // 2 hits (both from the free pool) + 3 fresh blocks: 5 blocks > 4. Counting the hits as still allocatable
  // would pass the check and then evict the very blocks being reused.
  SeqBlocks b;
  const std::vector<int32_t> longer = concat(t, {5, 6, 7, 8, 9});
  EXPECT_FALSE(bm.allocate(b, longer, 9));
  EXPECT_TRUE(b.blocks.empty());
  EXPECT_TRUE(b.full_hashes.empty());
  EXPECT_EQ(b.num_cached_tokens, 0);
  expect_same_stats(before, bm.stats());
  for (int32_t id = 0; id < 4; ++id) {
    EXPECT_EQ(bm.ref_count(id), 0);
    EXPECT_EQ(bm.is_cached(id), id < 2);
  }

  // 2 hits + 2 fresh fits exactly.
  ASSERT_TRUE(bm.allocate(b, std::vector<int32_t>(longer.begin(), longer.begin() + 8), 8));
  EXPECT_EQ(b.num_cached_tokens, 4);
  EXPECT_EQ(bm.num_free(), 0);
  EXPECT_TRUE(bm.is_cached(0));
  EXPECT_TRUE(bm.is_cached(1));

  // A failed reserve leaves the sequence and the stats alone.
  const BlockManagerStats full = bm.stats();
  const std::vector<int32_t> blocks = b.blocks;
  EXPECT_FALSE(bm.reserve(b, 9));
  EXPECT_EQ(b.blocks, blocks);
  expect_same_stats(full, bm.stats());
  SeqBlocks c;
  EXPECT_FALSE(bm.allocate(c, std::vector<int32_t>{1, 2, 3}, 3));  // a hit is possible but no block for the rest
  expect_same_stats(full, bm.stats());
}

TEST(BlockManager, ReserveGrowsAcrossBlockBoundaries) {
  BlockManager bm = make(8, 4);
  SeqBlocks s;
  ASSERT_TRUE(bm.allocate(s, std::vector<int32_t>{1}, 1));
  EXPECT_EQ(s.blocks.size(), 1u);
  EXPECT_TRUE(bm.reserve(s, 4));
  EXPECT_EQ(s.blocks.size(), 1u);
  EXPECT_TRUE(bm.reserve(s, 5));
  EXPECT_EQ(s.blocks.size(), 2u);
  EXPECT_TRUE(bm.reserve(s, 13));
  EXPECT_EQ(s.blocks.size(), 4u);
  EXPECT_TRUE(bm.reserve(s, 3));  // never shrinks
  EXPECT_EQ(s.blocks.size(), 4u);
  EXPECT_TRUE(bm.reserve(s, 32));
  EXPECT_EQ(s.blocks.size(), 8u);
  EXPECT_EQ(bm.num_free(), 0);
  EXPECT_FALSE(bm.reserve(s, 33));
  EXPECT_EQ(s.blocks, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  bm.release(s);
  EXPECT_TRUE(s.blocks.empty());
  EXPECT_EQ(bm.num_free(), 8);
  EXPECT_EQ(bm.stats().used, 0);
}

TEST(BlockManager, CommitIsIdempotent) {
  BlockManager bm = make(8, 4);
  const std::vector<int32_t> t = iota_tokens(10);
  SeqBlocks s;
  ASSERT_TRUE(bm.allocate(s, t, 10));
  bm.commit(s, t, 3);
  EXPECT_TRUE(s.full_hashes.empty());
  bm.commit(s, t, 8);
  ASSERT_EQ(s.full_hashes.size(), 2u);
  const std::vector<uint64_t> hashes = s.full_hashes;
  const BlockManagerStats st = bm.stats();
  bm.commit(s, t, 8);
  bm.commit(s, t, 10);
  bm.commit(s, t, 5);
  EXPECT_EQ(s.full_hashes, hashes);
  expect_same_stats(st, bm.stats());
  EXPECT_NE(hashes[0], hashes[1]);

  // Committing in one go or block by block gives the same chain.
  SeqBlocks u;
  ASSERT_TRUE(bm.allocate(u, iota_tokens(9), 9));  // hits s's two blocks
  bm.release(u);
  BlockManager other = make(8, 4);
  SeqBlocks v;
  ASSERT_TRUE(other.allocate(v, t, 10));
  bm.commit(s, t, 10);
  for (int n = 0; n <= 10; ++n) other.commit(v, t, n);
  EXPECT_EQ(v.full_hashes, s.full_hashes);
}

TEST(BlockManager, ConcurrentEqualPrefixKeepsTheFirstEntry) {
  BlockManager bm = make(16, 4);
  const std::vector<int32_t> p = iota_tokens(8);
  SeqBlocks a, b;  // both allocated before either commits: no sharing possible
  ASSERT_TRUE(bm.allocate(a, p, 8));
  ASSERT_TRUE(bm.allocate(b, p, 8));
  EXPECT_EQ(b.num_cached_tokens, 0);
  bm.commit(a, p, 4);  // a caches its block 0 only
  bm.commit(b, p, 8);  // b's block 0 duplicates a's entry and stays private; b's block 1 is cached
  EXPECT_EQ(a.full_hashes[0], b.full_hashes[0]);
  EXPECT_TRUE(bm.is_cached(a.blocks[0]));
  EXPECT_FALSE(bm.is_cached(b.blocks[0]));
  EXPECT_TRUE(bm.is_cached(b.blocks[1]));
  const int32_t a0 = a.blocks[0], b1 = b.blocks[1];
  bm.release(a);
  bm.release(b);
  EXPECT_EQ(bm.stats().cached_free, 2);
  EXPECT_EQ(bm.stats().free, 16);

  SeqBlocks c;
  ASSERT_TRUE(bm.allocate(c, concat(p, {9}), 9));
  EXPECT_EQ(c.num_cached_tokens, 8);
  EXPECT_EQ(c.blocks[0], a0);  // a's entry for block 0, then b's block 1 chained from the same hash
  EXPECT_EQ(c.blocks[1], b1);
}

TEST(BlockManager, HashCollisionsNeverShareWrongBlocks) {
  // One hash bit: two keys for every block there is. A hit must still be the exact prefix.
  BlockManager bm(BlockManagerOptions{64, 2, true, 1});
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> owners;  // the blocks that computed each prompt
  for (int32_t i = 0; i < 8; ++i) {
    prompts.push_back({i, i, 7, 7, 0});  // block 1 equal everywhere, after different blocks 0
    SeqBlocks s = prefill(bm, prompts.back());
    owners.push_back(s.blocks);
  }
  int cached = 0;
  for (int32_t b = 0; b < 64; ++b) cached += bm.is_cached(b);
  EXPECT_LE(cached, 2);  // only two keys exist
  for (size_t i = 0; i < prompts.size(); ++i) {
    SeqBlocks s;
    ASSERT_TRUE(bm.allocate(s, prompts[i], 5));
    for (int b = 0; b < s.num_cached_tokens / 2; ++b) EXPECT_EQ(s.blocks[b], owners[i][b]) << "prompt " << i;
  }
  EXPECT_GT(bm.stats().hits, 0u);
  SeqBlocks fresh;  // a prefix never computed never hits
  ASSERT_TRUE(bm.allocate(fresh, std::vector<int32_t>{50, 50, 7, 7, 0}, 5));
  EXPECT_EQ(fresh.num_cached_tokens, 0);
}

TEST(BlockManager, AllocateWithoutLookup) {
  BlockManager bm = make(8, 4);
  const std::vector<int32_t> t = iota_tokens(9);
  SeqBlocks a = prefill(bm, t);
  const BlockManagerStats before = bm.stats();
  SeqBlocks b;
  ASSERT_TRUE(bm.allocate(b, t, 9, /*lookup=*/false));
  EXPECT_EQ(b.num_cached_tokens, 0);
  EXPECT_TRUE(b.full_hashes.empty());
  EXPECT_EQ(bm.stats().queries, before.queries);
  for (size_t i = 0; i < b.blocks.size(); ++i) EXPECT_NE(b.blocks[i], a.blocks[i]);
  bm.release(a);
  bm.commit(b, t, 9);  // b's blocks duplicate a's entries: they stay private
  EXPECT_FALSE(bm.is_cached(b.blocks[0]));
  SeqBlocks c;
  ASSERT_TRUE(bm.allocate(c, t, 9));
  EXPECT_EQ(c.num_cached_tokens, 8);
}

TEST(BlockManager, PrefixCachingOff) {
  BlockManager bm = make(8, 4, /*prefix_caching=*/false);
  const std::vector<int32_t> t = iota_tokens(9);
  SeqBlocks a = prefill(bm, t);
  EXPECT_EQ(a.full_hashes.size(), 2u);  // hashes still chain; nothing is cached
  for (int32_t b : a.blocks) EXPECT_FALSE(bm.is_cached(b));
  bm.release(a);
  EXPECT_EQ(bm.stats().cached_free, 0);
  SeqBlocks b;
  ASSERT_TRUE(bm.allocate(b, t, 9));
  EXPECT_EQ(b.num_cached_tokens, 0);
  EXPECT_EQ(bm.stats().hits, 0u);
  EXPECT_EQ(bm.stats().queries, 0u);
}

TEST(BlockManager, ClearPrefixCacheDropsFreeEntriesOnly) {
  BlockManager bm = make(8, 4);
  const std::vector<int32_t> t = iota_tokens(9);
  SeqBlocks a = prefill(bm, t);
  SeqBlocks b = prefill(bm, iota_tokens(5, 100));
  bm.release(a);
  EXPECT_EQ(bm.stats().cached_free, 2);
  bm.clear_prefix_cache();
  EXPECT_EQ(bm.stats().cached_free, 0);
  EXPECT_EQ(bm.stats().free, 6);
  EXPECT_TRUE(bm.is_cached(b.blocks[0]));  // in use: kept
  SeqBlocks c;
  ASSERT_TRUE(bm.allocate(c, t, 9));
  EXPECT_EQ(c.num_cached_tokens, 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Randomized property test: many sequences prefilling in chunks, decoding, finishing, being preempted and
// recomputed, against a shadow K/V store. Each K/V slot holds the id of the exact token prefix that produced it (a
// trie node), so a wrong reuse, a write into a shared block or a lost block shows up as a mismatch.

struct PrefixTrie {
  std::unordered_map<uint64_t, int> children;
  int next_id = 1;  // 0 is the empty prefix
  int child(int parent, int32_t token) {
    const uint64_t key = (static_cast<uint64_t>(parent) << 32) | static_cast<uint32_t>(token);
    auto [it, inserted] = children.try_emplace(key, next_id);
    if (inserted) ++next_id;
    return it->second;
  }
};

struct SimSeq {
  SeqBlocks sb;
  std::vector<int32_t> tokens;
  std::vector<int> prefix_ids;  // prefix_ids[p]: trie node of tokens[0..p]
  int computed = 0;
};

struct PropertyConfig {
  int num_blocks;
  int block_size;
  bool prefix_caching;
  int hash_bits;  // < 64: collisions everywhere; the exact key check must still keep every reuse correct
};

std::string config_name(const PropertyConfig& c) {
  return "blocks" + std::to_string(c.num_blocks) + "_bs" + std::to_string(c.block_size) +
         (c.prefix_caching ? "_cached" : "_uncached") + "_hash" + std::to_string(c.hash_bits);
}

void PrintTo(const PropertyConfig& c, std::ostream* os) {
  *os << config_name(c);
}

class BlockManagerProperty : public ::testing::TestWithParam<PropertyConfig> {};

TEST_P(BlockManagerProperty, InvariantsHoldUnderRandomOperations) {
  const PropertyConfig cfg = GetParam();
  const int bs = cfg.block_size;
  BlockManager bm(BlockManagerOptions{cfg.num_blocks, bs, cfg.prefix_caching, cfg.hash_bits});
  std::mt19937 rng(12345u + static_cast<unsigned>(bs));
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  // A few long templates over a tiny vocabulary: prompts share prefixes, and equal blocks recur at other positions.
  std::vector<std::vector<int32_t>> templates(4);
  for (auto& t : templates)
    for (int i = 0; i < 24; ++i) t.push_back(uniform(0, 2));

  PrefixTrie trie;
  std::vector<std::vector<int>> kv(static_cast<size_t>(cfg.num_blocks), std::vector<int>(static_cast<size_t>(bs), -1));
  std::vector<SimSeq> live;
  uint64_t shared_seen = 0, evictions = 0, alloc_failures = 0, hit_tokens = 0;

  auto set_tokens = [&](SimSeq& s, std::vector<int32_t> tokens) {
    s.tokens = std::move(tokens);
    s.prefix_ids.clear();
    int node = 0;
    for (int32_t t : s.tokens) s.prefix_ids.push_back(node = trie.child(node, t));
  };
  auto push_token = [&](SimSeq& s, int32_t t) {
    s.tokens.push_back(t);
    s.prefix_ids.push_back(trie.child(s.prefix_ids.empty() ? 0 : s.prefix_ids.back(), t));
  };
  auto kv_at = [&](const SimSeq& s, int p) -> int& {
    return kv[static_cast<size_t>(s.sb.blocks[static_cast<size_t>(p / bs)])][static_cast<size_t>(p % bs)];
  };

  // Starts `s` (tokens set, sb empty); false when the blocks are short, after checking that nothing changed.
  auto start = [&](SimSeq& s, int reserve) {
    const BlockManagerStats before = bm.stats();
    if (!bm.allocate(s.sb, s.tokens, reserve)) {
      ++alloc_failures;
      expect_same_stats(before, bm.stats());
      EXPECT_TRUE(s.sb.blocks.empty() && s.sb.full_hashes.empty() && s.sb.num_cached_tokens == 0);
      return false;
    }
    const int n = static_cast<int>(s.tokens.size());
    const int cached = s.sb.num_cached_tokens;
    EXPECT_EQ(cached % bs, 0);
    EXPECT_LE(cached, (n - 1) / bs * bs);
    if (!cfg.prefix_caching) {
      EXPECT_EQ(cached, 0);
    }
    EXPECT_EQ(s.sb.full_hashes.size(), static_cast<size_t>(cached / bs));
    EXPECT_EQ(s.sb.blocks.size(), static_cast<size_t>(std::max(cached / bs, (reserve + bs - 1) / bs)));
    EXPECT_EQ(bm.stats().hits - before.hits, static_cast<uint64_t>(cached / bs));
    for (int p = 0; p < cached; ++p) EXPECT_EQ(kv_at(s, p), s.prefix_ids[static_cast<size_t>(p)]) << "position " << p;
    s.computed = cached;
    hit_tokens += static_cast<uint64_t>(cached);
    return true;
  };

  // Computes positions [computed, target): the slots must be private and uncached.
  auto compute = [&](SimSeq& s, int target) {
    for (int p = s.computed; p < target; ++p) {
      const int32_t block = s.sb.blocks[static_cast<size_t>(p / bs)];
      EXPECT_EQ(bm.ref_count(block), 1) << "write into a shared block";
      EXPECT_FALSE(bm.is_cached(block)) << "write into a cached block";
      kv_at(s, p) = s.prefix_ids[static_cast<size_t>(p)];
    }
    s.computed = target;
  };

  auto check_invariants = [&] {
    const BlockManagerStats st = bm.stats();
    std::vector<int> expected_ref(static_cast<size_t>(cfg.num_blocks), 0);
    std::vector<int> position(static_cast<size_t>(cfg.num_blocks), -1);
    int held = 0;
    for (const SimSeq& s : live) {
      ASSERT_LE(static_cast<size_t>(s.computed), s.sb.blocks.size() * static_cast<size_t>(bs));
      ASSERT_LE(s.sb.full_hashes.size(), static_cast<size_t>(s.computed / bs));
      std::vector<int32_t> sorted = s.sb.blocks;
      std::sort(sorted.begin(), sorted.end());
      ASSERT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a block twice in one sequence";
      for (size_t i = 0; i < s.sb.blocks.size(); ++i) {
        const int32_t b = s.sb.blocks[i];
        ASSERT_TRUE(b >= 0 && b < cfg.num_blocks);
        if (expected_ref[static_cast<size_t>(b)]++ > 0) {
          // Shared: only a cached, committed full block, at the same position in every holder.
          EXPECT_TRUE(bm.is_cached(b));
          EXPECT_EQ(position[static_cast<size_t>(b)], static_cast<int>(i));
          ++shared_seen;
        }
        position[static_cast<size_t>(b)] = static_cast<int>(i);
        if (expected_ref[static_cast<size_t>(b)] > 1 || bm.ref_count(b) > 1) {
          EXPECT_LT(i, s.sb.full_hashes.size()) << "a shared block that this sequence has not committed";
        }
        ++held;
      }
      for (int p = 0; p < s.computed; ++p)
        ASSERT_EQ(kv_at(s, p), s.prefix_ids[static_cast<size_t>(p)]) << "K/V of position " << p << " corrupted";
    }
    int sum_refs = 0, used = 0, cached_free = 0;
    for (int32_t b = 0; b < cfg.num_blocks; ++b) {
      const int r = bm.ref_count(b);
      ASSERT_EQ(r, expected_ref[static_cast<size_t>(b)]) << "block " << b;
      sum_refs += r;
      used += r > 0;
      cached_free += r == 0 && bm.is_cached(b);
      if (!cfg.prefix_caching) {
        ASSERT_FALSE(bm.is_cached(b));
      }
    }
    ASSERT_EQ(sum_refs, held);
    ASSERT_EQ(st.used, used);
    ASSERT_EQ(st.cached_free, cached_free);
    ASSERT_EQ(st.used + st.free, cfg.num_blocks);
    ASSERT_EQ(bm.num_free(), st.free);
    ASSERT_LE(st.hits, st.queries);
  };

  constexpr int kOps = 20000;
  for (int op = 0; op < kOps; ++op) {
    std::vector<char> was_cached(static_cast<size_t>(cfg.num_blocks));
    for (int32_t b = 0; b < cfg.num_blocks; ++b) was_cached[static_cast<size_t>(b)] = bm.is_cached(b);
    const int kind = uniform(0, 99);
    if (live.empty() || (kind < 20 && live.size() < 12)) {
      // A new request: a template prefix plus a random tail, prefilled in chunks from a random reservation.
      SimSeq s;
      const auto& tmpl = templates[static_cast<size_t>(uniform(0, 3))];
      std::vector<int32_t> tokens(tmpl.begin(), tmpl.begin() + uniform(0, 24));
      for (int i = uniform(tokens.empty() ? 1 : 0, 6); i > 0; --i) tokens.push_back(uniform(0, 2));
      set_tokens(s, std::move(tokens));
      const int n = static_cast<int>(s.tokens.size());
      if (start(s, uniform(0, 1) ? n : uniform(1, n))) live.push_back(std::move(s));
    } else {
      const size_t idx = static_cast<size_t>(uniform(0, static_cast<int>(live.size()) - 1));
      SimSeq& s = live[idx];
      if (kind < 32) {  // finished
        bm.release(s.sb);
        EXPECT_TRUE(s.sb.blocks.empty());
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(idx));
      } else if (kind < 40) {  // preempted, then recomputed from prompt + generated tokens
        bm.release(s.sb);
        SimSeq r;
        set_tokens(r, s.tokens);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(idx));
        if (start(r, static_cast<int>(r.tokens.size()))) live.push_back(std::move(r));
      } else if (kind < 42) {
        bm.clear_prefix_cache();
      } else {  // one engine step: a prefill chunk or one decode token
        const int n = static_cast<int>(s.tokens.size());
        if (s.computed == n) push_token(s, uniform(0, 2));  // the sampled token joins the sequence
        const int target = std::min(static_cast<int>(s.tokens.size()), s.computed + uniform(1, 2 * bs + 1));
        const std::vector<int32_t> blocks = s.sb.blocks;
        const BlockManagerStats before = bm.stats();
        if (bm.reserve(s.sb, target)) {
          compute(s, target);
          bm.commit(s.sb, s.tokens, uniform(0, 3) == 0 ? uniform(0, s.computed) : s.computed);  // lazy at times
        } else {
          ++alloc_failures;
          EXPECT_EQ(s.sb.blocks, blocks);
          expect_same_stats(before, bm.stats());
        }
      }
    }
    for (int32_t b = 0; b < cfg.num_blocks; ++b)
      evictions += was_cached[static_cast<size_t>(b)] && !bm.is_cached(b) && bm.ref_count(b) > 0;
    check_invariants();
    if (::testing::Test::HasFatalFailure()) FAIL() << "after operation " << op;
  }
  for (SimSeq& s : live) bm.release(s.sb);
  live.clear();
  check_invariants();
  EXPECT_EQ(bm.stats().used, 0);
  EXPECT_EQ(bm.num_free(), cfg.num_blocks);

  // The run must have exercised what it claims to check.
  EXPECT_GT(alloc_failures, 0u);
  if (cfg.prefix_caching && cfg.hash_bits == 64) {
    EXPECT_GT(hit_tokens, 1000u);
    EXPECT_GT(shared_seen, 1000u);
    EXPECT_GT(evictions, 10u);
    EXPECT_GT(bm.stats().hits, 100u);
  } else if (cfg.prefix_caching) {  // a few cache entries only, but hits still happen
    EXPECT_GT(hit_tokens, 100u);
    EXPECT_GT(shared_seen, 100u);
  } else {
    EXPECT_EQ(hit_tokens, 0u);
    EXPECT_EQ(shared_seen, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, BlockManagerProperty,
                         ::testing::Values(PropertyConfig{40, 4, true, 64}, PropertyConfig{64, 1, true, 64},
                                           PropertyConfig{24, 3, true, 64}, PropertyConfig{40, 4, false, 64},
                                           PropertyConfig{40, 4, true, 2}, PropertyConfig{64, 1, true, 3},
                                           PropertyConfig{24, 3, true, 1}),
                         [](const ::testing::TestParamInfo<PropertyConfig>& info) { return config_name(info.param); });

}  // namespace
}  // namespace verbatim

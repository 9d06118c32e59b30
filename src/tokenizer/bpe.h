// The byte-pair-encoding model shared by every rank-based BPE tokenizer (HF tokenizer.json and GGUF `gpt2`
// vocabularies): a vocabulary, ranked merges, and the merge loop of HF tokenizers' BPE model (a priority queue over
// a linked list of symbols, lowest rank first, leftmost on ties), with byte fallback, unknown-token fusing,
// continuing-subword prefix / end-of-word suffix and ignore_merges.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/piece_index.h"

namespace verbatim {

struct BpeOptions {
  std::string unk_token;  // empty: none
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;
};

// Ids are limited to [0, kMaxVocab), and must be roughly dense (max id < 2 * entries + kIdSlack), so that no file
// can make us allocate a huge table.
inline constexpr int32_t kMaxVocab = 1 << 22;
inline constexpr int64_t kIdSlack = 65536;

class BpeModel {
 public:
  // `where` names the file in errors. Call set_vocab, then add_merge for each merge, then finish().
  BpeModel(BpeOptions options, std::string where);

  // (piece, id) entries in file order. Throws Error for an id outside [0, kMaxVocab) or ids too sparse. A piece
  // given twice keeps the later id (as a JSON object does). `n_merges` is a capacity hint.
  void set_vocab(std::vector<std::pair<std::string, int32_t>> entries, size_t n_merges);
  // Rank = order of the calls. Throws Error naming the merge when a part or the merged piece is not in the vocab.
  void add_merge(std::string_view left, std::string_view right);
  void finish();  // builds lookup tables (an unk_token missing from the vocab counts as none)

  // Appends the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  const std::vector<std::string>& pieces() const { return pieces_; }  // by id ("" for unused ids)
  int32_t find(std::string_view piece) const;                         // -1 when absent
  int32_t size() const { return static_cast<int32_t>(pieces_.size()); }

 private:
  struct MergeValue {
    int32_t rank;
    int32_t new_id;
  };
  // Open-addressing hash from a (left, right) id pair to its merge.
  class MergeMap {
   public:
    void reserve(size_t n);
    void insert(uint64_t key, MergeValue v);  // overwrites (a later duplicate merge wins, as in HF)
    const MergeValue* find(uint64_t key) const;

   private:
    void grow();
    std::vector<uint64_t> keys_;
    std::vector<MergeValue> values_;
    size_t size_ = 0;
  };
  static uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
  int32_t lookup_char(std::string_view s, bool first, bool last, std::string& scratch) const;
  void merge_all(std::vector<int32_t>& ids) const;

  BpeOptions opt_;
  std::string where_;
  PieceIndex index_;
  std::vector<std::string> pieces_;
  MergeMap merges_;
  int32_t n_merges_ = 0;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256];            // <0xXX> pieces for byte fallback (-1: absent)
  std::vector<int32_t> small_char_;  // id of each single code point below 0x800 when no prefix/suffix is in use
};

}  // namespace verbatim

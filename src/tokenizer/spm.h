// SentencePiece-style BPE: merges the adjacent pair whose merged piece has the best score, repeatedly (leftmost on
// ties), exactly like llama2.c's run.c `encode` and llama.cpp's SPM tokenizer. Two flavours:
//  - Llama2c: pieces store plain spaces; a dummy " " prefix when the text is not empty; the initial split groups a
//    byte with the continuation bytes after it (at most 4), and a group not in the vocabulary becomes byte tokens
//    (id = byte + 3) that never merge.
//  - LlamaCpp (GGUF `llama` vocab): pieces use U+2581 for spaces; the text gets a " " prefix at its start and after
//    each split-out special token (add_space_prefix), spaces become U+2581; the initial split is by UTF-8 character;
//    leftover characters become <0xXX> byte tokens. Control/unknown tokens are split out only with parse_special,
//    user-defined tokens always.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/piece_index.h"
#include "tokenizer/tokenizer.h"

namespace verbatim {

enum class TokenType : uint8_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct SpmVocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;
  int32_t bos = -1;
  std::vector<int32_t> eos;
  bool add_bos = true;
  bool add_space_prefix = true;
};

class SpmTokenizer final : public Tokenizer {
 public:
  enum class Flavor { Llama2c, LlamaCpp };
  // Throws Error naming `where` for inconsistent vocabularies (sizes, ids out of range, missing byte tokens).
  SpmTokenizer(Flavor flavor, SpmVocab vocab, const std::string& where);

  std::vector<int32_t> encode(std::string_view text, bool parse_special = false) const override;
  std::string token_bytes(int32_t id) const override;
  std::string piece(int32_t id) const override;
  std::optional<int32_t> find_piece(std::string_view piece) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(v_.pieces.size()); }
  bool is_control(int32_t id) const override;
  bool strips_space_after_bos() const override { return v_.add_space_prefix; }

 private:
  void check_id(int32_t id) const;
  int32_t find(std::string_view s) const;
  // Tokenizes one fragment (already prefixed and escaped).
  void tokenize(std::string_view text, std::vector<int32_t>& out) const;

  Flavor flavor_;
  SpmVocab v_;
  std::string where_;
  PieceIndex index_;
  int32_t byte_ids_[256];
  int32_t unk_id_ = -1;
  std::vector<std::string> bytes_;  // decoded bytes by id
  AddedTokenMatcher specials_;
};

// From a llama2.c tokenizer file (BOS 1, EOS 2, add_bos).
std::unique_ptr<Tokenizer> tokenizer_from_llama2c(const std::string& path);

}  // namespace verbatim

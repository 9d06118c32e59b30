// A synthetic byte-level BPE tokenizer that fits a synthetic model's vocabulary exactly (see synth_archs.h): a
// Hugging Face tokenizer.json (GPT-2 byte-to-unicode pieces, the family's pre-tokenizer regex) and a
// tokenizer_config.json with BOS/EOS and, for chat families, a simplified chat template.
//
// Vocabulary, in id order: the family's leading special tokens (Llama 2: <unk> <s> </s>), the 256 byte tokens in
// GPT-2 order, merged tokens (each the concatenation of two earlier tokens, its merge rule listed in the same order,
// no duplicates, mostly letters with an optional leading space so decoded text looks like words), then the family's
// named special tokens at their real relative positions (Qwen: <|endoftext|> <|im_start|> <|im_end|> ...; Llama 3:
// <|begin_of_text|> <|end_of_text|> ... <|eot_id|> ...) and reserved special tokens filling the rest. With the real
// vocabulary sizes the special ids match the real models (Qwen3 <|im_end|> = 151645, Llama 3 BOS = 128000, Llama 2
// BOS = 1). Everything is a pure function of (family, sizes, seed).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace verbatim::synth {

enum class TokenizerFamily {
  Llama2,  // GPT-2 byte-level pre-tokenizer (a stand-in for Llama 2's SentencePiece), <s> </s>, BOS added
  Llama3,  // Llama 3 regex, <|begin_of_text|> ... <|eot_id|>, BOS added, Llama 3 chat template
  Qwen2,   // Qwen2 regex + NFC, <|endoftext|> <|im_start|> <|im_end|> ... (Qwen2.5's 22), ChatML template
  Qwen3,   // as Qwen2 with Qwen3's 26 special tokens (adds <think> </think>, <tool_response> </tool_response>)
};
const char* tokenizer_family_name(TokenizerFamily f);

struct SpecialToken {
  std::string content;
  int32_t id = 0;
  bool special = true;  // false for Qwen's <tool_call>-style tokens, which HF lists as added but not special
};

// Where every token lives. Ids: [0, first_regular) leading specials, [first_regular, first_regular + n_regular)
// byte + merged tokens, the rest trailing specials.
struct TokenizerLayout {
  TokenizerFamily family = TokenizerFamily::Qwen3;
  int32_t vocab_size = 0;
  int32_t first_regular = 0;
  int32_t n_regular = 0;               // 256 byte tokens + merged tokens
  std::vector<SpecialToken> specials;  // ascending ids; together with the regular ids they cover [0, vocab_size)
  int32_t bos_id = -1;                 // tokenizer_config's bos_token (-1: none)
  int32_t eos_id = -1;                 // tokenizer_config's eos_token
  int32_t pad_id = -1;                 // -1: none
  std::vector<int32_t> stop_ids;       // generation_config's eos_token_id, eos_id first
  bool add_bos = false;                // whether prompts start with BOS

  const SpecialToken* find_special(const std::string& content) const;
};

// regular_tokens: how many byte + merged tokens (0: every id the family's named specials leave free). Throws Error
// when vocab_size cannot hold 256 byte tokens plus the named specials, or regular_tokens does not fit.
TokenizerLayout tokenizer_layout(TokenizerFamily family, int32_t vocab_size, int32_t regular_tokens = 0);

// The regular tokens as raw bytes, in id order (relative to first_regular): 256 single bytes in GPT-2 order, then
// merged tokens; merges[i] gives the two (relative) ids that token 256 + i concatenates. Deterministic in the seed.
struct BpeVocab {
  std::vector<std::string> tokens;
  std::vector<std::pair<int32_t, int32_t>> merges;
};
BpeVocab synth_bpe_vocab(int32_t n_regular, uint64_t seed);

// GPT-2's byte-to-unicode mapping: the UTF-8 of the printable character standing for byte b in a byte-level piece.
std::string byte_level_char(uint8_t b);
// A raw byte string as its byte-level piece.
std::string byte_level_piece(const std::string& bytes);

struct SynthTokenizerFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};
// model_max_length goes to tokenizer_config.json.
SynthTokenizerFiles make_synth_tokenizer(const TokenizerLayout& layout, uint64_t seed, int model_max_length);

}  // namespace verbatim::synth

// The pipeline pieces of an HF tokenizer.json besides the model: normalizers, pre-tokenizers and decoders. Sequences
// are flattened into vectors of steps. They operate on byte strings that may hold invalid UTF-8 (HF itself only
// ever sees valid text; for valid text the results are HF's).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/hf_pattern.h"

namespace verbatim::hf {

struct NormalizerStep {
  enum class Kind : uint8_t { NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, StripAccents, ByteLevel };
  Kind kind = Kind::NFC;
  std::string text;                  // Prepend: the prefix; Replace: the replacement
  Pattern pattern;                   // Replace
  bool left = false, right = false;  // Strip
};

std::string normalize(const std::vector<NormalizerStep>& steps, std::string s);

enum class PrependScheme : uint8_t { Always, First, Never };

struct PreTokenizerStep {
  enum class Kind : uint8_t { Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit };
  Kind kind = Kind::Split;
  Pattern pattern;                           // Split, Whitespace; ByteLevel with use_regex (GPT-2's regex)
  Behavior behavior = Behavior::Isolated;    // Split
  bool add_prefix_space = false;             // ByteLevel
  bool use_regex = true;                     // ByteLevel
  std::string replacement = "\xE2\x96\x81";  // Metaspace (U+2581)
  PrependScheme prepend_scheme = PrependScheme::Always;
  bool split = true;  // Metaspace
};

// One pre-token. `at_start`: it begins at offset 0 of the original text (Metaspace's prepend_scheme "first").
struct PreSplit {
  std::string text;
  bool at_start = false;
};

// Applies the steps to `splits` in place (empty splits are dropped, as HF does).
void pre_tokenize(const std::vector<PreTokenizerStep>& steps, std::vector<PreSplit>& splits);

// GPT-2's pre-tokenizer regex, which HF's ByteLevel pre-tokenizer uses when use_regex is true.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct DecoderStep {
  enum class Kind : uint8_t { ByteLevel, ByteFallback, Replace, Fuse, Strip, Metaspace };
  Kind kind = Kind::ByteLevel;
  Pattern pattern;             // Replace
  std::string text;            // Replace: the content; Strip: the character; Metaspace: replacement
  size_t start = 0, stop = 0;  // Strip
  PrependScheme prepend_scheme = PrependScheme::Always;  // Metaspace
};

// The bytes one token's piece decodes to under the decoder steps, applied per token. Steps that act on the whole
// fused text (Strip after Fuse, Metaspace's first-token rule) are left to strips_leading_space().
std::string decode_piece(const std::vector<DecoderStep>& steps, std::string_view piece);
// Whether the decoder removes the space at the start of the text (a Strip of ' ' after Fuse, or Metaspace with a
// prepend scheme): the tokenizer then strips the space of the token that follows BOS.
bool strips_leading_space(const std::vector<DecoderStep>& steps);

}  // namespace verbatim::hf

// A byte-pair-encoding tokenizer with HF tokenizers' pipeline: added tokens split out (raw, then normalized), the
// normalizer, the pre-tokenizer, the BPE model per pre-token. Built from a tokenizer.json (hf_json.cpp) or from a
// GGUF `gpt2` vocabulary (gguf_vocab.cpp). Immutable once built; encode is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/hf_components.h"
#include "tokenizer/string_map.h"
#include "tokenizer/tokenizer.h"

namespace verbatim {

struct HfPipeline {
  std::vector<hf::NormalizerStep> normalizer;
  std::vector<hf::PreTokenizerStep> pre_tokenizer;
  std::vector<hf::DecoderStep> decoder;
};

class HfTokenizer final : public Tokenizer {
 public:
  // `model` must be finished. Added tokens whose content is in the model's vocabulary take that id, as in HF.
  HfTokenizer(HfPipeline pipeline, BpeModel model, std::vector<AddedToken> added, const std::string& where);

  void set_specials(int32_t bos, std::vector<int32_t> eos, bool add_bos);
  void add_eos(int32_t id);

  std::vector<int32_t> encode(std::string_view text, bool parse_special = false) const override;
  std::string token_bytes(int32_t id) const override;
  std::string piece(int32_t id) const override;
  std::optional<int32_t> find_piece(std::string_view piece) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  bool is_control(int32_t id) const override;
  bool strips_space_after_bos() const override { return strips_space_; }

 private:
  void check_id(int32_t id) const;
  void encode_text(std::string_view text, bool at_start, bool parse_special, std::vector<int32_t>& out) const;

  HfPipeline pipe_;
  BpeModel model_;
  std::string where_;
  AddedTokenMatcher raw_added_;         // added tokens with normalized = false
  AddedTokenMatcher normalized_added_;  // added tokens with normalized = true, matched after normalization
  std::vector<std::string> pieces_;     // by id
  std::vector<std::string> bytes_;      // decoded bytes by id
  std::vector<uint8_t> control_;        // special added tokens
  StringMap<int32_t> added_ids_;        // added token content -> id
  bool strips_space_ = false;
};

// tokenizer_from_hf_json with the concrete type (the loader adds generation_config.json's EOS ids).
std::unique_ptr<HfTokenizer> hf_tokenizer_from_json(std::string_view tokenizer_json, std::string_view tokenizer_config,
                                                    const std::string& where);

}  // namespace verbatim

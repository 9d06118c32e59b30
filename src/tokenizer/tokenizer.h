// Tokenizers: Hugging Face tokenizer.json byte-level BPE (Qwen2/Qwen3, Llama 3, GPT-2), SentencePiece-style BPE
// (llama2.c tokenizer .bin, GGUF `llama` vocab with <0xXX> byte fallback) and GGUF `gpt2` byte-level BPE.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace verbatim {

namespace gguf {
class File;
}

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`, without BOS. With parse_special, added/special tokens written literally in the text (e.g.
  // "<|im_start|>") become their ids, as chat templates need; without it they are encoded as plain text.
  virtual std::vector<int32_t> encode(std::string_view text, bool parse_special = false) const = 0;

  // The bytes token `id` stands for in the output (byte-level pieces mapped back to bytes, U+2581 to a space,
  // <0xXX> to its byte). May be part of a UTF-8 character. Control tokens (BOS/EOS/...) give "". Throws Error for an
  // id outside [0, vocab_size).
  virtual std::string token_bytes(int32_t id) const = 0;

  // The token's piece as written in the vocabulary (for display and lookup).
  virtual std::string piece(int32_t id) const = 0;
  virtual std::optional<int32_t> find_piece(std::string_view piece) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual bool is_control(int32_t id) const = 0;

  // SentencePiece tokenizers add a dummy-prefix space when encoding; decoding strips the space of the token that
  // directly follows BOS (what llama2.c and HF's Strip decoder do).
  virtual bool strips_space_after_bos() const { return false; }

  int32_t bos_id() const { return bos_id_; }  // -1: none
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  bool add_bos() const { return add_bos_; }  // whether prompts start with BOS

  // Text of a token sequence (the concatenated bytes, with the BOS-space rule). Bytes that are not valid UTF-8
  // are replaced by U+FFFD, as HF's decode does.
  std::string decode(std::span<const int32_t> ids) const;

 protected:
  int32_t bos_id_ = -1;
  std::vector<int32_t> eos_ids_;
  bool add_bos_ = false;
};

// Loads a tokenizer from: a tokenizer.json, a directory holding one, a GGUF file (vocab-only files too) or a
// llama2.c tokenizer .bin. Detects the kind from the content. Throws Error naming the file and the problem.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);
std::unique_ptr<Tokenizer> tokenizer_from_gguf(const gguf::File& file);
// From the text of a tokenizer.json (and optionally tokenizer_config.json, for BOS/EOS and add_bos). `where` names
// the file in errors. Used by the loader and the fuzz target.
std::unique_ptr<Tokenizer> tokenizer_from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config,
                                                  const std::string& where);

// Streaming detokenizer: feed generated ids one at a time; returns only complete UTF-8 characters, holding back a
// partial one until the bytes that complete it arrive. Invalid bytes become U+FFFD as soon as they are known to be
// invalid. Concatenating every push() and the final flush() gives exactly decode() of the same ids (given the token
// before the first one, `prev`, for the BOS-space rule).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, int32_t prev = -1) : tok_(tok), prev_(prev) {}
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tok_;
  int32_t prev_;
  std::string pending_;
};

}  // namespace verbatim

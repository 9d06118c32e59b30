// Tokenizers embedded in GGUF files: `llama` (SentencePiece-style BPE) and `gpt2` (byte-level BPE, sharing the
// tokenizer.json implementation; the pre-tokenizer is chosen by tokenizer.ggml.pre as llama.cpp does).
#include <algorithm>

#include "formats/gguf.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/spm.h"
#include "util/error.h"

namespace verbatim {

namespace {

constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

hf::PreTokenizerStep split_step(const char* pattern, const std::string& where) {
  hf::PreTokenizerStep st;
  st.kind = hf::PreTokenizerStep::Kind::Split;
  st.pattern.regex = std::make_shared<const Regex>(pattern, where);
  st.behavior = hf::Behavior::Isolated;
  return st;
}

hf::PreTokenizerStep byte_level_step(bool use_regex, const std::string& where) {
  hf::PreTokenizerStep st;
  st.kind = hf::PreTokenizerStep::Kind::ByteLevel;
  st.add_prefix_space = false;
  st.use_regex = use_regex;
  if (use_regex) st.pattern.regex = std::make_shared<const Regex>(hf::kGpt2Pattern, where);
  return st;
}

// The HF pipeline equivalent to llama.cpp's pre-tokenizer `pre`. Sets *ignore_merges and *add_bos defaults.
HfPipeline pipeline_for(const std::string& pre, const std::string& where, bool* ignore_merges, bool* add_bos) {
  HfPipeline p;
  p.decoder.push_back({});  // ByteLevel
  *ignore_merges = false;
  *add_bos = false;
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") {
    p.normalizer.push_back({});  // NFC, as the HF tokenizer.json of Qwen2/Qwen3 does
    p.pre_tokenizer.push_back(split_step(kQwen2Pattern, where));
    p.pre_tokenizer.push_back(byte_level_step(false, where));
  } else if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
    p.pre_tokenizer.push_back(split_step(kLlama3Pattern, where));
    p.pre_tokenizer.push_back(byte_level_step(false, where));
    *ignore_merges = true;
    *add_bos = true;
  } else if (pre == "gpt-2" || pre == "phi-2" || pre == "mpt" || pre == "olmo") {
    p.pre_tokenizer.push_back(byte_level_step(true, where));
  } else if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "codeshell") {
    hf::PreTokenizerStep digits;
    digits.kind = hf::PreTokenizerStep::Kind::Digits;
    digits.pattern.cls = hf::CharClass::Numeric;
    digits.behavior = hf::Behavior::Isolated;
    p.pre_tokenizer.push_back(std::move(digits));
    p.pre_tokenizer.push_back(byte_level_step(true, where));
  } else if (pre == "default") {
    for (const char* re :
         {R"([\p{P}\$\+<=>\^~\|]+)", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
          R"(\p{N}+)", R"([0-9][0-9][0-9])"}) {
      p.pre_tokenizer.push_back(split_step(re, where));
    }
    p.pre_tokenizer.push_back(byte_level_step(false, where));
  } else {
    fail(where, "tokenizer.ggml.pre '" + pre +
                    "' is not supported (supported: qwen2, llama-bpe, gpt-2, smollm, starcoder, default and aliases)");
  }
  return p;
}

}  // namespace

std::unique_ptr<Tokenizer> tokenizer_from_gguf(const gguf::File& f) {
  const std::string& where = f.path();
  const std::optional<std::string> model = f.find_string("tokenizer.ggml.model");
  if (!model) fail(where, "the file holds no tokenizer (tokenizer.ggml.model is missing)");
  const std::vector<std::string>* tokens = f.find_string_array("tokenizer.ggml.tokens");
  if (tokens == nullptr) fail(where, "tokenizer.ggml.tokens is missing");
  const size_t n = tokens->size();
  if (n == 0) fail(where, "tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(kMaxVocab)) fail(where, "tokenizer.ggml.tokens has too many entries");

  std::vector<TokenType> types(n, TokenType::Normal);
  if (const std::vector<int64_t>* t = f.find_int_array("tokenizer.ggml.token_type")) {
    if (t->size() != n) {
      fail(where, "tokenizer.ggml.token_type has " + std::to_string(t->size()) + " entries for " + std::to_string(n) +
                      " tokens");
    }
    for (size_t i = 0; i < n; ++i) {
      const int64_t v = (*t)[i];
      if (v < 0 || v > 6) fail(where, "tokenizer.ggml.token_type[" + std::to_string(i) + "] is " + std::to_string(v));
      types[i] = v == 0 ? TokenType::Normal : static_cast<TokenType>(v);
    }
  }
  // An id key, or `dflt` when absent; ids outside the vocabulary (e.g. 0xFFFFFFFF for "none") mean none.
  const auto id_key = [&](const char* key, int32_t dflt) -> int32_t {
    const std::optional<int64_t> v = f.find_int(key);
    if (!v) return dflt;
    return *v >= 0 && static_cast<size_t>(*v) < n ? static_cast<int32_t>(*v) : -1;
  };
  std::vector<int32_t> eos;
  const auto add_eos = [&](int32_t id) {
    if (id >= 0 && std::find(eos.begin(), eos.end(), id) == eos.end()) eos.push_back(id);
  };
  const std::optional<bool> add_bos_key = f.find_bool("tokenizer.ggml.add_bos_token");

  if (*model == "llama") {
    SpmVocab v;
    v.pieces = *tokens;
    if (const std::vector<double>* s = f.find_float_array("tokenizer.ggml.scores")) {
      if (s->size() != n)
        fail(where, "tokenizer.ggml.scores has " + std::to_string(s->size()) + " entries for " + std::to_string(n) +
                        " tokens");
      v.scores.assign(s->begin(), s->end());
    }
    v.types = std::move(types);
    v.bos = id_key("tokenizer.ggml.bos_token_id", 1);
    add_eos(id_key("tokenizer.ggml.eos_token_id", 2));
    add_eos(id_key("tokenizer.ggml.eot_token_id", -1));
    add_eos(id_key("tokenizer.ggml.eom_token_id", -1));
    v.eos = std::move(eos);
    v.add_bos = add_bos_key.value_or(true);
    v.add_space_prefix = f.find_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    return std::make_unique<SpmTokenizer>(SpmTokenizer::Flavor::LlamaCpp, std::move(v), where);
  }
  if (*model != "gpt2") {
    fail(where, "tokenizer.ggml.model '" + *model + "' is not supported (supported: llama, gpt2)");
  }
  const std::vector<std::string>* merges = f.find_string_array("tokenizer.ggml.merges");
  if (merges == nullptr) fail(where, "tokenizer.ggml.merges is missing (needed by a gpt2 tokenizer)");
  const std::string pre = f.find_string("tokenizer.ggml.pre").value_or("default");
  bool ignore_merges = false, add_bos_default = false;
  HfPipeline pipe = pipeline_for(pre, where, &ignore_merges, &add_bos_default);

  BpeOptions opt;
  opt.ignore_merges = ignore_merges;
  BpeModel bpe(opt, where);
  std::vector<std::pair<std::string, int32_t>> entries;
  entries.reserve(n);
  for (size_t i = 0; i < n; ++i) entries.emplace_back((*tokens)[i], static_cast<int32_t>(i));
  bpe.set_vocab(std::move(entries), merges->size());
  for (const std::string& m : *merges) {
    const size_t sp = m.find(' ');
    if (sp == std::string::npos) fail(where, "tokenizer.ggml.merges entry '" + m + "' is not two pieces and a space");
    bpe.add_merge(std::string_view(m).substr(0, sp), std::string_view(m).substr(sp + 1));
  }
  bpe.finish();
  std::vector<AddedToken> added;
  for (size_t i = 0; i < n; ++i) {
    if (types[i] != TokenType::Control && types[i] != TokenType::UserDefined && types[i] != TokenType::Unknown)
      continue;
    AddedToken t;
    t.content = (*tokens)[i];
    t.id = static_cast<int32_t>(i);
    t.special = types[i] != TokenType::UserDefined;
    added.push_back(std::move(t));
  }
  auto tok = std::make_unique<HfTokenizer>(std::move(pipe), std::move(bpe), std::move(added), where);
  const int32_t bos = id_key("tokenizer.ggml.bos_token_id", -1);
  add_eos(id_key("tokenizer.ggml.eos_token_id", -1));
  add_eos(id_key("tokenizer.ggml.eot_token_id", -1));
  add_eos(id_key("tokenizer.ggml.eom_token_id", -1));
  tok->set_specials(bos, std::move(eos), add_bos_key.value_or(add_bos_default));
  return tok;
}

}  // namespace verbatim

#include "model/synth_tokenizer.h"

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "kernels/common/philox.h"
#include "util/error.h"

namespace verbatim::synth {

namespace {

using nlohmann::ordered_json;

// Pre-tokenizer regexes of the real families.
constexpr const char* kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kLlama3Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Simplified forms of the families' chat templates (Jinja, as HF's apply_chat_template runs them).
constexpr const char* kChatMlTemplate =
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
constexpr const char* kLlama3Template =
    "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if "
    "add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

// The philox stream of the tokenizer's draws (tensor streams are small integers, see synth_model.h).
constexpr uint64_t kTokenizerStream = 0x746f6b656e000000ull;  // "token"

struct Named {
  const char* content;
  bool special;
};

// Leading and trailing named specials per family, at their real relative positions.
constexpr Named kLlama2Lead[] = {{"<unk>", true}, {"<s>", true}, {"</s>", true}};
constexpr Named kLlama3Trail[] = {
    {"<|begin_of_text|>", true},
    {"<|end_of_text|>", true},
    {"<|reserved_special_token_0|>", true},
    {"<|reserved_special_token_1|>", true},
    {"<|finetune_right_pad_id|>", true},
    {"<|reserved_special_token_2|>", true},
    {"<|start_header_id|>", true},
    {"<|end_header_id|>", true},
    {"<|eom_id|>", true},
    {"<|eot_id|>", true},
    {"<|python_tag|>", true},
};
constexpr Named kQwenTrail[] = {
    {"<|endoftext|>", true},      {"<|im_start|>", true},
    {"<|im_end|>", true},         {"<|object_ref_start|>", true},
    {"<|object_ref_end|>", true}, {"<|box_start|>", true},
    {"<|box_end|>", true},        {"<|quad_start|>", true},
    {"<|quad_end|>", true},       {"<|vision_start|>", true},
    {"<|vision_end|>", true},     {"<|vision_pad|>", true},
    {"<|image_pad|>", true},      {"<|video_pad|>", true},
    {"<tool_call>", false},       {"</tool_call>", false},
    {"<|fim_prefix|>", true},     {"<|fim_middle|>", true},
    {"<|fim_suffix|>", true},     {"<|fim_pad|>", true},
    {"<|repo_name|>", true},      {"<|file_sep|>", true},
    {"<tool_response>", false},   {"</tool_response>", false},
    {"<think>", false},           {"</think>", false},
};
constexpr size_t kQwen2Count = 22;  // Qwen2.5 stops at <|file_sep|>

std::vector<Named> lead_of(TokenizerFamily f) {
  if (f == TokenizerFamily::Llama2) return {std::begin(kLlama2Lead), std::end(kLlama2Lead)};
  return {};
}

std::vector<Named> trail_of(TokenizerFamily f) {
  switch (f) {
    case TokenizerFamily::Llama2:
      return {};
    case TokenizerFamily::Llama3:
      return {std::begin(kLlama3Trail), std::end(kLlama3Trail)};
    case TokenizerFamily::Qwen2:
      return {std::begin(kQwenTrail), std::begin(kQwenTrail) + kQwen2Count};
    case TokenizerFamily::Qwen3:
      return {std::begin(kQwenTrail), std::end(kQwenTrail)};
  }
  return {};
}

// Name of the k-th filler special token (the ids the named ones leave free up to vocab_size).
std::string filler_name(TokenizerFamily f, int k) {
  if (f == TokenizerFamily::Llama3) return "<|reserved_special_token_" + std::to_string(k + 3) + "|>";
  return "<|reserved_" + std::to_string(k) + "|>";
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for 256 + n in byte order.
// kByteOrder lists bytes in GPT-2's vocabulary order (the printable ones first).
struct ByteLevelTables {
  std::array<uint32_t, 256> code{};
  std::array<uint8_t, 256> order{};
};

ByteLevelTables make_byte_level_tables() {
  ByteLevelTables t;
  auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  int n = 0, k = 0;
  for (int b = 0; b < 256; ++b)
    if (printable(b)) t.code[b] = static_cast<uint32_t>(b), t.order[k++] = static_cast<uint8_t>(b);
  for (int b = 0; b < 256; ++b)
    if (!printable(b)) t.code[b] = static_cast<uint32_t>(256 + n++), t.order[k++] = static_cast<uint8_t>(b);
  return t;
}

const ByteLevelTables& byte_level_tables() {
  static const ByteLevelTables tables = make_byte_level_tables();
  return tables;
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {  // every code point here is below 0x800
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Appends `s` as a JSON string literal. Byte-level pieces and special tokens are valid UTF-8.
void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

bool is_vowel(char c) {
  switch (c | 0x20) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
      return true;
    default:
      return false;
  }
}

// Builds the merged tokens. Four pools of word pieces grow as tokens are made: lowercase runs ("ing"), and those
// with a leading space (" the"), capitalised (" The", "The"); right-hand sides are always lowercase runs, so every
// piece stays inside one pre-token of every family's regex. A few percent of merges combine whitespace, digits and
// punctuation instead ("\n\n", " (", ".\n").
class VocabBuilder {
 public:
  VocabBuilder(int32_t n_regular, uint64_t seed) : n_(n_regular), seed_(seed) {
    const ByteLevelTables& t = byte_level_tables();
    v_.tokens.reserve(static_cast<size_t>(n_regular));
    seen_.reserve(static_cast<size_t>(n_regular) * 2);
    for (int i = 0; i < 256; ++i) add_token(std::string(1, static_cast<char>(t.order[i])));
    // Letters by English frequency: picks favour the front of a pool, so common letters dominate the pieces.
    for (const char c : std::string("etaoinshrdlcumwfgypbvkjxqz")) {
      lower_.push_back(index_of(std::string(1, c)));
      cap_.push_back(index_of(std::string(1, static_cast<char>(c - 'a' + 'A'))));
    }
    for (const char c : std::string(" \n\t0123456789.,!?;:'\"-()")) other_.push_back(index_of(std::string(1, c)));
  }

  BpeVocab build() {
    const int32_t space = index_of(" ");
    // Any letter may start a word: " e" ... " z", " E" ... " Z"; and the commonest whitespace runs.
    for (size_t i = 0; i < 26 && !full(); ++i) sp_lower_.push_back(merge(space, lower_[i]));
    for (size_t i = 0; i < 26 && !full(); ++i) sp_cap_.push_back(merge(space, cap_[i]));
    if (!full()) other_.push_back(merge(space, space));
    if (!full()) other_.push_back(merge(index_of("\n"), index_of("\n")));
    for (uint64_t step = 0; !full(); ++step) seeded_merge(step);
    return std::move(v_);
  }

 private:
  bool full() const { return static_cast<int32_t>(v_.tokens.size()) >= n_; }

  int32_t index_of(const std::string& s) const {
    for (size_t i = 0; i < v_.tokens.size(); ++i)
      if (v_.tokens[i] == s) return static_cast<int32_t>(i);
    return -1;
  }

  void add_token(std::string s) {
    seen_.insert(s);
    v_.tokens.push_back(std::move(s));
  }

  int32_t merge(int32_t a, int32_t b) {
    add_token(v_.tokens[a] + v_.tokens[b]);
    v_.merges.emplace_back(a, b);
    return static_cast<int32_t>(v_.tokens.size() - 1);
  }

  // An index into a pool of n, skewed towards the front (older, shorter pieces).
  static size_t pick(uint32_t r, size_t n) {
    const double u = r * (1.0 / 4294967296.0);
    return std::min(n - 1, static_cast<size_t>(static_cast<double>(n) * u * u));
  }

  void seeded_merge(uint64_t step) {
    for (uint32_t attempt = 0;; ++attempt) {
      const Philox4 r = philox4x32_10(seed_, kTokenizerStream | attempt, step);
      const double u0 = r.v[0] * (1.0 / 4294967296.0);
      // Pool of the left piece; whitespace/punctuation merges give up after a few collisions.
      std::vector<int32_t>* pool = u0 < 0.05 && attempt < 16 ? &other_
                                   : u0 < 0.45               ? &sp_lower_
                                   : u0 < 0.86               ? &lower_
                                   : u0 < 0.95               ? &sp_cap_
                                                             : &cap_;
      if (pool->empty()) continue;
      const int32_t a = (*pool)[pick(r.v[1], pool->size())];
      const std::vector<int32_t>& right = pool == &other_ ? other_ : lower_;
      const int32_t b = right[pick(r.v[2], right.size())];
      const std::string& sa = v_.tokens[a];
      const std::string& sb = v_.tokens[b];
      if (pool == &other_) {
        if (sa.size() + sb.size() > 3) continue;
      } else {
        // Word pieces up to 8 letters (the limit relaxes only if collisions keep happening), favouring
        // consonant/vowel alternation at the seam so pieces read like syllables.
        const size_t letters = sa.size() + sb.size() - (sa[0] == ' ' ? 1 : 0);
        if (letters > 8 + attempt / 16) continue;
        const bool alternates = is_vowel(sa.back()) != is_vowel(sb.front());
        if (!alternates && r.v[3] > 0x40000000u) continue;  // same class at the seam: kept 1 time in 4
      }
      if (seen_.count(sa + sb)) continue;
      pool->push_back(merge(a, b));  // the piece joins its left side's pool
      return;
    }
  }

  int32_t n_;
  uint64_t seed_;
  BpeVocab v_;
  std::unordered_set<std::string> seen_;
  std::vector<int32_t> lower_, sp_lower_, cap_, sp_cap_, other_;
};

ordered_json byte_level_step(bool trim_offsets) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", trim_offsets}, {"use_regex", false}};
}

ordered_json split_step(const char* regex) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

// TemplateProcessing that puts BOS before every sequence (Llama 2 and Llama 3 tokenizer.json).
ordered_json bos_template(const SpecialToken& bos) {
  auto special = [&] { return ordered_json{{"SpecialToken", {{"id", bos.content}, {"type_id", 0}}}}; };
  auto seq = [](const char* id, int type) { return ordered_json{{"Sequence", {{"id", id}, {"type_id", type}}}}; };
  return {{"type", "TemplateProcessing"},
          {"single", {special(), seq("A", 0)}},
          {"pair", {special(), seq("A", 0), special(), seq("B", 1)}},
          {"special_tokens", {{bos.content, {{"id", bos.content}, {"ids", {bos.id}}, {"tokens", {bos.content}}}}}}};
}

const SpecialToken& special_by_id(const TokenizerLayout& l, int32_t id) {
  for (const SpecialToken& s : l.specials)
    if (s.id == id) return s;
  fail("synthetic tokenizer", "no special token with id " + std::to_string(id));
}

}  // namespace

const char* tokenizer_family_name(TokenizerFamily f) {
  switch (f) {
    case TokenizerFamily::Llama2:
      return "llama2";
    case TokenizerFamily::Llama3:
      return "llama3";
    case TokenizerFamily::Qwen2:
      return "qwen2";
    case TokenizerFamily::Qwen3:
      return "qwen3";
  }
  return "?";
}

const SpecialToken* TokenizerLayout::find_special(const std::string& content) const {
  for (const SpecialToken& s : specials)
    if (s.content == content) return &s;
  return nullptr;
}

TokenizerLayout tokenizer_layout(TokenizerFamily family, int32_t vocab_size, int32_t regular_tokens) {
  const std::vector<Named> lead = lead_of(family), trail = trail_of(family);
  const int32_t named = static_cast<int32_t>(lead.size() + trail.size());
  const std::string where = std::string("synthetic ") + tokenizer_family_name(family) + " tokenizer";
  if (vocab_size < 256 + named)
    fail(where, "vocab_size " + std::to_string(vocab_size) + " cannot hold the 256 byte tokens and " +
                    std::to_string(named) + " special tokens");
  if (regular_tokens == 0) regular_tokens = vocab_size - named;
  if (regular_tokens < 256 || regular_tokens > vocab_size - named)
    fail(where, "regular token count " + std::to_string(regular_tokens) + " must lie in [256, " +
                    std::to_string(vocab_size - named) + "]");

  TokenizerLayout l;
  l.family = family;
  l.vocab_size = vocab_size;
  l.first_regular = static_cast<int32_t>(lead.size());
  l.n_regular = regular_tokens;
  int32_t id = 0;
  for (const Named& n : lead) l.specials.push_back({n.content, id++, n.special});
  id += regular_tokens;
  for (const Named& n : trail) l.specials.push_back({n.content, id++, n.special});
  for (int k = 0; id < vocab_size; ++k) l.specials.push_back({filler_name(family, k), id++, true});

  auto id_of = [&](const char* content) { return l.find_special(content)->id; };
  switch (family) {
    case TokenizerFamily::Llama2:
      l.bos_id = id_of("<s>");
      l.eos_id = id_of("</s>");
      l.stop_ids = {l.eos_id};
      l.add_bos = true;
      break;
    case TokenizerFamily::Llama3:
      l.bos_id = id_of("<|begin_of_text|>");
      l.eos_id = id_of("<|eot_id|>");
      l.stop_ids = {id_of("<|end_of_text|>"), id_of("<|eom_id|>"), id_of("<|eot_id|>")};
      l.add_bos = true;
      break;
    case TokenizerFamily::Qwen2:
    case TokenizerFamily::Qwen3:
      l.eos_id = id_of("<|im_end|>");
      l.pad_id = id_of("<|endoftext|>");
      l.stop_ids = {l.eos_id, l.pad_id};
      break;
  }
  return l;
}

std::string byte_level_char(uint8_t b) {
  return utf8(byte_level_tables().code[b]);
}

std::string byte_level_piece(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += byte_level_char(c);
  return out;
}

BpeVocab synth_bpe_vocab(int32_t n_regular, uint64_t seed) {
  if (n_regular < 256) fail("synthetic tokenizer", "needs at least the 256 byte tokens");
  return VocabBuilder(n_regular, seed).build();
}

SynthTokenizerFiles make_synth_tokenizer(const TokenizerLayout& l, uint64_t seed, int model_max_length) {
  const BpeVocab v = synth_bpe_vocab(l.n_regular, seed);
  const bool qwen = l.family == TokenizerFamily::Qwen2 || l.family == TokenizerFamily::Qwen3;
  const bool llama3 = l.family == TokenizerFamily::Llama3;

  ordered_json tok;
  tok["version"] = "1.0";
  tok["truncation"] = nullptr;
  tok["padding"] = nullptr;
  ordered_json added = ordered_json::array();
  for (const SpecialToken& s : l.specials)
    added.push_back({{"id", s.id},
                     {"content", s.content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", s.special}});
  tok["added_tokens"] = added;
  if (qwen) {
    tok["normalizer"] = {{"type", "NFC"}};
    tok["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {split_step(kQwen2Regex), byte_level_step(false)}}};
    tok["post_processor"] = byte_level_step(false);
    tok["decoder"] = byte_level_step(false);
  } else if (llama3) {
    tok["normalizer"] = nullptr;
    tok["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {split_step(kLlama3Regex), byte_level_step(true)}}};
    tok["post_processor"] = {{"type", "Sequence"},
                             {"processors", {byte_level_step(true), bos_template(special_by_id(l, l.bos_id))}}};
    tok["decoder"] = byte_level_step(true);
  } else {  // GPT-2's own byte-level pre-tokenizer (its built-in regex)
    tok["normalizer"] = nullptr;
    tok["pre_tokenizer"] = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    tok["post_processor"] = bos_template(special_by_id(l, l.bos_id));
    tok["decoder"] = byte_level_step(true);
  }
  tok["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", qwen ? ordered_json("") : ordered_json(nullptr)},
                  {"end_of_word_suffix", qwen ? ordered_json("") : ordered_json(nullptr)},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", llama3},
                  {"vocab", "@VOCAB@"},
                  {"merges", "@MERGES@"}};

  // The vocabulary and merges are written by hand: nlohmann's ordered_json is quadratic in object size.
  std::vector<std::string> pieces;
  pieces.reserve(v.tokens.size());
  for (const std::string& t : v.tokens) pieces.push_back(byte_level_piece(t));
  std::string vocab = "{";
  for (size_t i = 0; i < pieces.size(); ++i) {
    vocab += i ? ",\n      " : "\n      ";
    append_json_string(vocab, pieces[i]);
    vocab += ": " + std::to_string(l.first_regular + static_cast<int32_t>(i));
  }
  vocab += "\n    }";
  std::string merges = "[";
  for (size_t i = 0; i < v.merges.size(); ++i) {
    merges += i ? ",\n      " : "\n      ";
    append_json_string(merges, pieces[v.merges[i].first] + " " + pieces[v.merges[i].second]);
  }
  merges += v.merges.empty() ? "]" : "\n    ]";

  SynthTokenizerFiles files;
  std::string text = tok.dump(2);
  auto splice = [&](const std::string& placeholder, const std::string& with) {
    const size_t at = text.find("\"" + placeholder + "\"");
    text.replace(at, placeholder.size() + 2, with);
  };
  splice("@VOCAB@", vocab);
  splice("@MERGES@", merges);
  files.tokenizer_json = std::move(text);
  files.tokenizer_json += '\n';

  ordered_json cfg;
  cfg["add_bos_token"] = l.add_bos;
  cfg["add_eos_token"] = false;
  cfg["add_prefix_space"] = false;
  ordered_json decoder = ordered_json::object();
  for (const SpecialToken& s : l.specials)
    decoder[std::to_string(s.id)] = {{"content", s.content}, {"lstrip", false},      {"normalized", false},
                                     {"rstrip", false},      {"single_word", false}, {"special", s.special}};
  cfg["added_tokens_decoder"] = decoder;
  cfg["bos_token"] = l.bos_id >= 0 ? ordered_json(special_by_id(l, l.bos_id).content) : ordered_json(nullptr);
  if (qwen) cfg["chat_template"] = kChatMlTemplate;
  if (llama3) cfg["chat_template"] = kLlama3Template;
  cfg["clean_up_tokenization_spaces"] = false;
  cfg["eos_token"] = special_by_id(l, l.eos_id).content;
  cfg["model_max_length"] = model_max_length;
  cfg["pad_token"] = l.pad_id >= 0 ? ordered_json(special_by_id(l, l.pad_id).content) : ordered_json(nullptr);
  cfg["tokenizer_class"] = qwen ? "Qwen2Tokenizer" : "PreTrainedTokenizerFast";
  cfg["unk_token"] = l.family == TokenizerFamily::Llama2 ? ordered_json("<unk>") : ordered_json(nullptr);
  files.tokenizer_config_json = cfg.dump(2) + "\n";
  return files;
}

}  // namespace verbatim::synth

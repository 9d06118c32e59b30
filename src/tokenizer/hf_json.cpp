// tokenizer.json (+ tokenizer_config.json) -> HfTokenizer. Every structural problem becomes an Error naming the file
// and the field.
#include <cstdint>
#include <nlohmann/json.hpp>

#include "tokenizer/hf_json_reader.h"
#include "tokenizer/hf_tokenizer.h"
#include "util/error.h"

namespace verbatim {

namespace {

using json = nlohmann::json;
using namespace hf;

constexpr int kMaxDepth = 16;  // nested Sequence normalizers/pre-tokenizers/decoders

struct Ctx {
  std::string where;
  [[noreturn]] void error(const std::string& field, const std::string& what) const { fail(where, field + ": " + what); }

  const json* find(const json& obj, const char* key) const {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json& need(const json& obj, const char* key, const std::string& field) const {
    const json* v = find(obj, key);
    if (v == nullptr) error(field, std::string("missing \"") + key + "\"");
    return *v;
  }
  std::string str(const json& obj, const char* key, const std::string& field, const std::string& dflt) const {
    const json* v = find(obj, key);
    if (v == nullptr) return dflt;
    if (!v->is_string()) error(field + "." + key, "must be a string");
    return v->get<std::string>();
  }
  bool boolean(const json& obj, const char* key, const std::string& field, bool dflt) const {
    const json* v = find(obj, key);
    if (v == nullptr) return dflt;
    if (!v->is_boolean()) error(field + "." + key, "must be true or false");
    return v->get<bool>();
  }
  int64_t integer(const json& obj, const char* key, const std::string& field, int64_t dflt, int64_t lo,
                  int64_t hi) const {
    const json* v = find(obj, key);
    if (v == nullptr) return dflt;
    if (!v->is_number_integer()) error(field + "." + key, "must be an integer");
    const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                          ? INT64_MAX
                          : v->get<int64_t>();
    if (x < lo || x > hi) {
      error(field + "." + key,
            std::to_string(x) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    return x;
  }
  std::string type_of(const json& obj, const std::string& field) const {
    if (!obj.is_object()) error(field, "must be an object");
    return str(obj, "type", field, "");
  }
  Pattern pattern(const json& obj, const std::string& field) const {
    const json& p = need(obj, "pattern", field);
    Pattern out;
    if (const json* s = find(p, "String")) {
      if (!s->is_string()) error(field + ".pattern.String", "must be a string");
      out.literal = s->get<std::string>();
    } else if (const json* r = find(p, "Regex")) {
      if (!r->is_string()) error(field + ".pattern.Regex", "must be a string");
      out.regex = std::make_shared<const Regex>(r->get<std::string>(), where + ": " + field + ".pattern");
    } else {
      error(field + ".pattern", "must be {\"String\": ...} or {\"Regex\": ...}");
    }
    return out;
  }
  PrependScheme prepend_scheme(const json& obj, const std::string& field) const {
    const std::string s = str(obj, "prepend_scheme", field, "");
    if (s.empty()) return boolean(obj, "add_prefix_space", field, true) ? PrependScheme::Always : PrependScheme::Never;
    if (s == "always") return PrependScheme::Always;
    if (s == "first") return PrependScheme::First;
    if (s == "never") return PrependScheme::Never;
    error(field + ".prepend_scheme", "unknown value '" + s + "'");
  }
  std::string replacement(const json& obj, const std::string& field) const {
    std::string r = str(obj, "replacement", field, "\xE2\x96\x81");
    if (r.empty()) error(field + ".replacement", "must not be empty");
    return r;
  }
};

void parse_normalizer(const Ctx& c, const json& j, const std::string& field, int depth,
                      std::vector<NormalizerStep>& out) {
  if (depth > kMaxDepth) c.error(field, "nested too deeply");
  const std::string type = c.type_of(j, field);
  using K = NormalizerStep::Kind;
  NormalizerStep st;
  if (type == "Sequence") {
    const json& list = c.need(j, "normalizers", field);
    if (!list.is_array()) c.error(field + ".normalizers", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      parse_normalizer(c, list[i], field + ".normalizers[" + std::to_string(i) + "]", depth + 1, out);
    }
    return;
  } else if (type == "NFC") {
    st.kind = K::NFC;
  } else if (type == "NFD") {
    st.kind = K::NFD;
  } else if (type == "NFKC") {
    st.kind = K::NFKC;
  } else if (type == "NFKD") {
    st.kind = K::NFKD;
  } else if (type == "Lowercase") {
    st.kind = K::Lowercase;
  } else if (type == "StripAccents") {
    st.kind = K::StripAccents;
  } else if (type == "ByteLevel") {
    st.kind = K::ByteLevel;
  } else if (type == "Prepend") {
    st.kind = K::Prepend;
    st.text = c.str(j, "prepend", field, "");
  } else if (type == "Replace") {
    st.kind = K::Replace;
    st.pattern = c.pattern(j, field);
    st.text = c.str(j, "content", field, "");
  } else if (type == "Strip") {
    st.kind = K::Strip;
    st.left = c.boolean(j, "strip_left", field, true);
    st.right = c.boolean(j, "strip_right", field, true);
  } else {
    c.error(field, "normalizer type '" + type + "' is not supported");
  }
  out.push_back(std::move(st));
}

Behavior behavior(const Ctx& c, const json& j, const std::string& field) {
  const std::string b = c.str(j, "behavior", field, "Isolated");
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  c.error(field + ".behavior", "unknown value '" + b + "'");
}

void parse_pre_tokenizer(const Ctx& c, const json& j, const std::string& field, int depth,
                         std::vector<PreTokenizerStep>& out) {
  if (depth > kMaxDepth) c.error(field, "nested too deeply");
  const std::string type = c.type_of(j, field);
  using K = PreTokenizerStep::Kind;
  PreTokenizerStep st;
  if (type == "Sequence") {
    const json& list = c.need(j, "pretokenizers", field);
    if (!list.is_array()) c.error(field + ".pretokenizers", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      parse_pre_tokenizer(c, list[i], field + ".pretokenizers[" + std::to_string(i) + "]", depth + 1, out);
    }
    return;
  } else if (type == "Split") {
    st.kind = K::Split;
    st.pattern = c.pattern(j, field);
    st.pattern.invert = c.boolean(j, "invert", field, false);
    st.behavior = behavior(c, j, field);
  } else if (type == "ByteLevel") {
    st.kind = K::ByteLevel;
    st.add_prefix_space = c.boolean(j, "add_prefix_space", field, true);
    st.use_regex = c.boolean(j, "use_regex", field, true);
    if (st.use_regex) st.pattern.regex = std::make_shared<const Regex>(kGpt2Pattern, c.where + ": " + field);
  } else if (type == "Metaspace") {
    st.kind = K::Metaspace;
    st.replacement = c.replacement(j, field);
    st.prepend_scheme = c.prepend_scheme(j, field);
    st.split = c.boolean(j, "split", field, true);
  } else if (type == "Digits") {
    st.kind = K::Digits;
    st.pattern.cls = CharClass::Numeric;
    st.behavior = c.boolean(j, "individual_digits", field, false) ? Behavior::Isolated : Behavior::Contiguous;
  } else if (type == "Whitespace") {
    st.kind = K::Whitespace;
    st.pattern.regex = std::make_shared<const Regex>(R"(\w+|[^\w\s]+)", c.where + ": " + field);
    st.pattern.invert = true;
    st.behavior = Behavior::Removed;
  } else if (type == "WhitespaceSplit") {
    st.kind = K::WhitespaceSplit;
  } else {
    c.error(field, "pre-tokenizer type '" + type + "' is not supported");
  }
  out.push_back(std::move(st));
}

void parse_decoder(const Ctx& c, const json& j, const std::string& field, int depth, std::vector<DecoderStep>& out) {
  if (depth > kMaxDepth) c.error(field, "nested too deeply");
  const std::string type = c.type_of(j, field);
  using K = DecoderStep::Kind;
  DecoderStep st;
  if (type == "Sequence") {
    const json& list = c.need(j, "decoders", field);
    if (!list.is_array()) c.error(field + ".decoders", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      parse_decoder(c, list[i], field + ".decoders[" + std::to_string(i) + "]", depth + 1, out);
    }
    return;
  } else if (type == "ByteLevel") {
    st.kind = K::ByteLevel;
  } else if (type == "ByteFallback") {
    st.kind = K::ByteFallback;
  } else if (type == "Fuse") {
    st.kind = K::Fuse;
  } else if (type == "Replace") {
    st.kind = K::Replace;
    st.pattern = c.pattern(j, field);
    st.text = c.str(j, "content", field, "");
  } else if (type == "Strip") {
    st.kind = K::Strip;
    st.text = c.str(j, "content", field, " ");
    st.start = static_cast<size_t>(c.integer(j, "start", field, 0, 0, 1 << 20));
    st.stop = static_cast<size_t>(c.integer(j, "stop", field, 0, 0, 1 << 20));
  } else if (type == "Metaspace") {
    st.kind = K::Metaspace;
    st.text = c.replacement(j, field);
    st.prepend_scheme = c.prepend_scheme(j, field);
  } else {
    c.error(field, "decoder type '" + type + "' is not supported");
  }
  out.push_back(std::move(st));
}

BpeModel parse_model(const Ctx& c, TokenizerJson& tj) {
  const json& m = c.need(tj.root, "model", "tokenizer");
  if (!m.is_object()) c.error("model", "must be an object");
  const std::string type = c.str(m, "type", "model", m.contains("merges") ? "BPE" : "");
  if (type != "BPE") {
    c.error("model.type", "'" + type + "' is not supported (only BPE models are)");
  }
  BpeOptions opt;
  opt.unk_token = c.str(m, "unk_token", "model", "");
  opt.continuing_subword_prefix = c.str(m, "continuing_subword_prefix", "model", "");
  opt.end_of_word_suffix = c.str(m, "end_of_word_suffix", "model", "");
  opt.byte_fallback = c.boolean(m, "byte_fallback", "model", false);
  opt.fuse_unk = c.boolean(m, "fuse_unk", "model", false);
  opt.ignore_merges = c.boolean(m, "ignore_merges", "model", false);
  BpeModel model(opt, c.where);

  if (!tj.vocab_streamed) {
    c.error("model.vocab", m.contains("vocab") ? "must be an object of piece -> id" : "missing");
  }
  if (!tj.merges_streamed && c.find(m, "merges") != nullptr) c.error("model.merges", "must be an array");
  std::vector<std::pair<std::string, int32_t>> entries;
  entries.reserve(tj.vocab.size());
  for (auto& [piece, id] : tj.vocab) {
    if (id < 0 || id >= kMaxVocab) {
      c.error("model.vocab", "the id " + std::to_string(id) + " of '" + piece + "' is out of range");
    }
    entries.emplace_back(std::move(piece), static_cast<int32_t>(id));
  }
  tj.vocab.clear();
  model.set_vocab(std::move(entries), tj.merges.size());
  for (const auto& [a, b] : tj.merges) model.add_merge(a, b);
  tj.merges.clear();
  model.finish();
  return model;
}

std::vector<AddedToken> parse_added(const Ctx& c, const json& root) {
  std::vector<AddedToken> out;
  const json* list = c.find(root, "added_tokens");
  if (list == nullptr) return out;
  if (!list->is_array()) c.error("added_tokens", "must be an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    const std::string field = "added_tokens[" + std::to_string(i) + "]";
    if (!e.is_object()) c.error(field, "must be an object");
    AddedToken t;
    t.content = c.str(e, "content", field, "");
    t.id = static_cast<int32_t>(c.integer(e, "id", field, -1, 0, kMaxVocab - 1));
    if (t.id < 0) c.error(field, "missing \"id\"");
    t.special = c.boolean(e, "special", field, false);
    t.single_word = c.boolean(e, "single_word", field, false);
    t.lstrip = c.boolean(e, "lstrip", field, false);
    t.rstrip = c.boolean(e, "rstrip", field, false);
    t.normalized = c.boolean(e, "normalized", field, !t.special);
    out.push_back(std::move(t));
  }
  return out;
}

// The BOS a TemplateProcessing post-processor puts before the sequence ("single": [SpecialToken, Sequence A]).
std::optional<int32_t> template_bos(const Ctx& c, const json& pp, int depth) {
  if (depth > kMaxDepth || !pp.is_object()) return std::nullopt;
  const std::string type = c.str(pp, "type", "post_processor", "");
  if (type == "Sequence") {
    const json* list = c.find(pp, "processors");
    if (list == nullptr || !list->is_array()) return std::nullopt;
    for (const json& p : *list) {
      if (auto b = template_bos(c, p, depth + 1)) return b;
    }
    return std::nullopt;
  }
  if (type != "TemplateProcessing") return std::nullopt;
  const json* single = c.find(pp, "single");
  if (single == nullptr || !single->is_array() || single->empty()) return std::nullopt;
  const json* st = c.find((*single)[0], "SpecialToken");
  if (st == nullptr) return std::nullopt;
  const std::string name = c.str(*st, "id", "post_processor.single[0].SpecialToken", "");
  const json* specials = c.find(pp, "special_tokens");
  const json* entry = specials == nullptr ? nullptr : c.find(*specials, name.c_str());
  const json* ids = entry == nullptr ? nullptr : c.find(*entry, "ids");
  if (ids == nullptr || !ids->is_array() || ids->size() != 1 || !(*ids)[0].is_number_integer()) return std::nullopt;
  const int64_t id = (*ids)[0].get<int64_t>();
  if (id < 0 || id >= kMaxVocab) return std::nullopt;
  return static_cast<int32_t>(id);
}

// A special token in tokenizer_config.json: "text", {"content": "text", ...} or null.
std::optional<std::string> config_token(const Ctx& c, const json& cfg, const char* key) {
  const json* v = c.find(cfg, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) return c.str(*v, "content", key, "");
  c.error(key, "must be a string or an object with \"content\"");
}

}  // namespace

std::unique_ptr<HfTokenizer> hf_tokenizer_from_json(std::string_view tokenizer_json, std::string_view tokenizer_config,
                                                    const std::string& where) {
  Ctx c{where};
  TokenizerJson tj = read_tokenizer_json(tokenizer_json, where);
  const json& root = tj.root;
  if (!root.is_object()) fail(where, "not a tokenizer.json (the top level is not an object)");
  std::unique_ptr<HfTokenizer> tok;
  std::optional<int32_t> pp_bos;
  try {
    HfPipeline pipe;
    if (const json* n = c.find(root, "normalizer")) parse_normalizer(c, *n, "normalizer", 0, pipe.normalizer);
    if (const json* p = c.find(root, "pre_tokenizer"))
      parse_pre_tokenizer(c, *p, "pre_tokenizer", 0, pipe.pre_tokenizer);
    if (const json* d = c.find(root, "decoder")) parse_decoder(c, *d, "decoder", 0, pipe.decoder);
    BpeModel model = parse_model(c, tj);
    std::vector<AddedToken> added = parse_added(c, root);
    tok = std::make_unique<HfTokenizer>(std::move(pipe), std::move(model), std::move(added), where);
    if (const json* pp = c.find(root, "post_processor")) pp_bos = template_bos(c, *pp, 0);
  } catch (const json::exception& e) {
    fail(where, std::string("unexpected structure: ") + e.what());
  }
  if (pp_bos && *pp_bos >= tok->vocab_size()) pp_bos.reset();

  int32_t bos = pp_bos.value_or(-1);
  std::vector<int32_t> eos;
  bool add_bos = pp_bos.has_value();
  if (!tokenizer_config.empty()) {
    Ctx cc{where + " (tokenizer_config.json)"};
    json cfg;
    try {
      cfg = json::parse(tokenizer_config);
    } catch (const json::exception& e) {
      fail(cc.where, std::string("invalid JSON: ") + e.what());
    }
    if (!cfg.is_object()) fail(cc.where, "the top level is not an object");
    const auto resolve = [&](const char* key) -> int32_t {
      const std::optional<std::string> name = config_token(cc, cfg, key);
      if (!name) return -1;
      const std::optional<int32_t> id = tok->find_piece(*name);
      if (!id) cc.error(key, "'" + *name + "' is not in the vocabulary");
      return *id;
    };
    if (const int32_t b = resolve("bos_token"); b >= 0) bos = b;
    if (const int32_t e = resolve("eos_token"); e >= 0) eos.push_back(e);
    add_bos = cc.boolean(cfg, "add_bos_token", "tokenizer_config", add_bos);
  }
  tok->set_specials(bos, std::move(eos), add_bos);
  return tok;
}

std::unique_ptr<Tokenizer> tokenizer_from_hf_json(std::string_view tokenizer_json, std::string_view tokenizer_config,
                                                  const std::string& where) {
  return hf_tokenizer_from_json(tokenizer_json, tokenizer_config, where);
}

}  // namespace verbatim

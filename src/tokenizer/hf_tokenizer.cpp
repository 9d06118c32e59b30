#include "tokenizer/hf_tokenizer.h"

#include <algorithm>

#include "util/error.h"

namespace verbatim {

HfTokenizer::HfTokenizer(HfPipeline pipeline, BpeModel model, std::vector<AddedToken> added, const std::string& where)
    : pipe_(std::move(pipeline)), model_(std::move(model)), where_(where) {
  pieces_ = model_.pieces();
  const int64_t id_limit = std::min<int64_t>(
      kMaxVocab, 2 * (static_cast<int64_t>(pieces_.size()) + static_cast<int64_t>(added.size())) + kIdSlack);
  std::vector<AddedToken> raw, normalized;
  for (AddedToken& t : added) {
    if (t.content.empty()) continue;
    const int32_t in_vocab = model_.find(t.content);
    if (in_vocab >= 0) t.id = in_vocab;
    if (t.id < 0 || t.id >= id_limit) {
      fail(where, "added token '" + t.content + "' has id " + std::to_string(t.id) + " outside [0, " +
                      std::to_string(id_limit) + ")");
    }
    if (static_cast<size_t>(t.id) >= pieces_.size()) pieces_.resize(static_cast<size_t>(t.id) + 1);
    pieces_[t.id] = t.content;
    added_ids_.insert_or_assign(t.content, t.id);
    if (t.normalized) {
      AddedToken n = t;
      n.content = hf::normalize(pipe_.normalizer, t.content);
      normalized.push_back(std::move(n));
    } else {
      raw.push_back(t);
    }
  }
  raw_added_.build(raw);
  normalized_added_.build(normalized);

  const size_t n = pieces_.size();
  bytes_.resize(n);
  control_.assign(n, 0);
  const auto& model_pieces = model_.pieces();
  for (size_t id = 0; id < model_pieces.size(); ++id) bytes_[id] = hf::decode_piece(pipe_.decoder, model_pieces[id]);
  for (const AddedToken& t : added) {
    if (t.content.empty()) continue;
    control_[t.id] = t.special ? 1 : 0;
    bytes_[t.id] = t.special ? std::string() : t.content;  // added tokens decode as their text (HF >= 0.20)
  }
  strips_space_ = hf::strips_leading_space(pipe_.decoder);
}

void HfTokenizer::set_specials(int32_t bos, std::vector<int32_t> eos, bool add_bos) {
  bos_id_ = bos;
  eos_ids_ = std::move(eos);
  add_bos_ = add_bos && bos >= 0;
}

void HfTokenizer::add_eos(int32_t id) {
  if (id >= 0 && id < vocab_size() && std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) {
    eos_ids_.push_back(id);
  }
}

void HfTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    fail(where_, "token id " + std::to_string(id) + " is outside [0, " + std::to_string(vocab_size()) + ")");
  }
}

std::string HfTokenizer::token_bytes(int32_t id) const {
  check_id(id);
  return bytes_[id];
}

std::string HfTokenizer::piece(int32_t id) const {
  check_id(id);
  return pieces_[id];
}

std::optional<int32_t> HfTokenizer::find_piece(std::string_view piece) const {
  if (auto it = added_ids_.find(piece); it != added_ids_.end()) return it->second;
  const int32_t id = model_.find(piece);
  if (id >= 0) return id;
  return std::nullopt;
}

bool HfTokenizer::is_control(int32_t id) const {
  check_id(id);
  return control_[id] != 0;
}

void HfTokenizer::encode_text(std::string_view text, bool at_start, bool parse_special,
                              std::vector<int32_t>& out) const {
  std::string normalized = hf::normalize(pipe_.normalizer, std::string(text));
  std::vector<AddedTokenMatcher::Segment> segs;
  normalized_added_.split(normalized, parse_special, segs);
  std::vector<hf::PreSplit> splits;
  for (const auto& seg : segs) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    if (seg.end == seg.begin) continue;
    splits.clear();
    splits.push_back({normalized.substr(seg.begin, seg.end - seg.begin), at_start && seg.begin == 0});
    hf::pre_tokenize(pipe_.pre_tokenizer, splits);
    for (const hf::PreSplit& s : splits) model_.tokenize(s.text, out);
  }
}

std::vector<int32_t> HfTokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> out;
  std::vector<AddedTokenMatcher::Segment> segs;
  raw_added_.split(text, parse_special, segs);
  for (const auto& seg : segs) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
    } else if (seg.end > seg.begin) {
      encode_text(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, parse_special, out);
    }
  }
  return out;
}

}  // namespace verbatim

#include "tokenizer/hf_components.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/unicode_props.h"
#include "tokenizer/utf8.h"

namespace verbatim::hf {

namespace {

// Strips White_Space characters from the left and/or right.
std::string strip_whitespace(std::string_view s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left) {
    while (b < e) {
      const size_t n = utf8::valid_len(s, b);
      if (n == 0 || !unicode::is_whitespace(utf8::decode(s, b, n))) break;
      b += n;
    }
  }
  if (right) {
    while (e > b) {
      size_t i = e - 1;
      while (i > b && e - i < 4 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) --i;
      const size_t n = utf8::valid_len(s, i);
      if (n == 0 || i + n != e || !unicode::is_whitespace(utf8::decode(s, i, n))) break;
      e = i;
    }
  }
  return std::string(s.substr(b, e - b));
}

std::string strip_accents(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8::char_len(s, i);
    const size_t v = utf8::valid_len(s, i);
    if (v == 0 || !unicode::is_mark(utf8::decode(s, i, v))) out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

std::string normalize(const std::vector<NormalizerStep>& steps, std::string s) {
  using K = NormalizerStep::Kind;
  for (const NormalizerStep& st : steps) {
    switch (st.kind) {
      case K::NFC:
        s = unicode::normalize(s, unicode::Form::NFC);
        break;
      case K::NFD:
        s = unicode::normalize(s, unicode::Form::NFD);
        break;
      case K::NFKC:
        s = unicode::normalize(s, unicode::Form::NFKC);
        break;
      case K::NFKD:
        s = unicode::normalize(s, unicode::Form::NFKD);
        break;
      case K::Lowercase:
        s = unicode::lowercase(s);
        break;
      case K::Prepend:
        if (!s.empty()) s = st.text + s;
        break;
      case K::Replace:
        s = replace(s, st.pattern, st.text);
        break;
      case K::Strip:
        s = strip_whitespace(s, st.left, st.right);
        break;
      case K::StripAccents:
        s = strip_accents(s);
        break;
      case K::ByteLevel: {
        std::string out;
        byte_level::encode(s, out);
        s = std::move(out);
        break;
      }
    }
  }
  return s;
}

namespace {

// Splits every split with `pattern`/`behavior`, keeping at_start only on a part that begins at offset 0.
void split_all(std::vector<PreSplit>& splits, const Pattern& pattern, Behavior behavior) {
  std::vector<PreSplit> next;
  next.reserve(splits.size());
  std::vector<std::pair<size_t, size_t>> parts;
  for (PreSplit& s : splits) {
    parts.clear();
    split(s.text, pattern, behavior, parts);
    for (auto [b, e] : parts) next.push_back({s.text.substr(b, e - b), s.at_start && b == 0});
  }
  splits = std::move(next);
}

}  // namespace

void pre_tokenize(const std::vector<PreTokenizerStep>& steps, std::vector<PreSplit>& splits) {
  using K = PreTokenizerStep::Kind;
  std::erase_if(splits, [](const PreSplit& s) { return s.text.empty(); });
  for (const PreTokenizerStep& st : steps) {
    switch (st.kind) {
      case K::Split:
      case K::Whitespace:
        split_all(splits, st.pattern, st.behavior);
        break;
      case K::WhitespaceSplit: {
        Pattern ws;
        ws.cls = CharClass::Whitespace;
        split_all(splits, ws, Behavior::Removed);
        break;
      }
      case K::Digits:
        split_all(splits, st.pattern, st.behavior);
        break;
      case K::ByteLevel: {
        if (st.add_prefix_space) {
          for (PreSplit& s : splits) {
            if (s.text[0] != ' ') s.text.insert(0, 1, ' ');
          }
        }
        if (st.use_regex) split_all(splits, st.pattern, Behavior::Isolated);
        for (PreSplit& s : splits) {
          std::string out;
          out.reserve(s.text.size() * 2);
          byte_level::encode(s.text, out);
          s.text = std::move(out);
        }
        break;
      }
      case K::Metaspace: {
        Pattern space;
        space.literal = " ";
        for (PreSplit& s : splits) {
          s.text = replace(s.text, space, st.replacement);
          const bool starts = s.text.compare(0, st.replacement.size(), st.replacement) == 0;
          if (!starts && (st.prepend_scheme == PrependScheme::Always ||
                          (st.prepend_scheme == PrependScheme::First && s.at_start))) {
            s.text.insert(0, st.replacement);
          }
        }
        if (st.split && !st.replacement.empty()) {
          Pattern rep;
          rep.literal = st.replacement;
          split_all(splits, rep, Behavior::MergedWithNext);
        }
        break;
      }
    }
    std::erase_if(splits, [](const PreSplit& s) { return s.text.empty(); });
  }
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// HF ByteFallback: a piece "<0xXX>" (6 bytes) stands for that byte.
int parse_byte_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  const int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

std::string decode_piece(const std::vector<DecoderStep>& steps, std::string_view piece) {
  using K = DecoderStep::Kind;
  std::string s(piece);
  bool fused = false;
  for (const DecoderStep& st : steps) {
    switch (st.kind) {
      case K::ByteLevel:
        s = byte_level::decode(s);
        break;
      case K::ByteFallback: {
        const int b = parse_byte_piece(s);
        if (b >= 0) s.assign(1, static_cast<char>(b));
        break;
      }
      case K::Replace:
        s = replace(s, st.pattern, st.text);
        break;
      case K::Fuse:
        fused = true;
        break;
      case K::Strip:
        if (!fused && !st.text.empty()) {  // per token: up to `start` leading and `stop` trailing characters
          for (size_t k = 0; k < st.start && s.compare(0, st.text.size(), st.text) == 0; ++k)
            s.erase(0, st.text.size());
          for (size_t k = 0; k < st.stop && s.size() >= st.text.size() &&
                             s.compare(s.size() - st.text.size(), st.text.size(), st.text) == 0;
               ++k) {
            s.resize(s.size() - st.text.size());
          }
        }
        break;
      case K::Metaspace: {
        Pattern rep;
        rep.literal = st.text;
        s = replace(s, rep, " ");
        break;
      }
    }
  }
  return s;
}

bool strips_leading_space(const std::vector<DecoderStep>& steps) {
  bool fused = false;
  for (const DecoderStep& st : steps) {
    if (st.kind == DecoderStep::Kind::Fuse) fused = true;
    if (st.kind == DecoderStep::Kind::Strip && fused && st.text == " " && st.start > 0) return true;
    if (st.kind == DecoderStep::Kind::Metaspace && st.prepend_scheme != PrependScheme::Never) return true;
  }
  return false;
}

}  // namespace verbatim::hf

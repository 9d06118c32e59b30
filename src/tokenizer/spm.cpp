#include "tokenizer/spm.h"

#include <cstdio>
#include <queue>

#include "formats/llama2c.h"
#include "tokenizer/bpe.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace verbatim {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int byte_of_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  const int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (size_t at = s.find(from); at != std::string_view::npos; at = s.find(from, i)) {
    out.append(s.substr(i, at - i));
    out.append(to);
    i = at + from.size();
  }
  out.append(s.substr(i));
  return out;
}

}  // namespace

SpmTokenizer::SpmTokenizer(Flavor flavor, SpmVocab vocab, const std::string& where)
    : flavor_(flavor), v_(std::move(vocab)), where_(where) {
  const size_t n = v_.pieces.size();
  if (n == 0) fail(where, "the vocabulary is empty");
  if (n > static_cast<size_t>(kMaxVocab)) fail(where, "the vocabulary has " + std::to_string(n) + " tokens (too many)");
  if (v_.scores.empty()) v_.scores.assign(n, 0.0f);
  if (v_.types.empty()) v_.types.assign(n, TokenType::Normal);
  if (v_.scores.size() != n)
    fail(where,
         "the vocabulary has " + std::to_string(n) + " tokens but " + std::to_string(v_.scores.size()) + " scores");
  if (v_.types.size() != n)
    fail(where,
         "the vocabulary has " + std::to_string(n) + " tokens but " + std::to_string(v_.types.size()) + " token types");
  const auto in_range = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n; };
  if (v_.bos >= 0 && !in_range(v_.bos)) fail(where, "BOS id " + std::to_string(v_.bos) + " is out of range");
  for (int32_t e : v_.eos) {
    if (!in_range(e)) fail(where, "EOS id " + std::to_string(e) + " is out of range");
  }
  if (v_.bos < 0) v_.add_bos = false;
  bos_id_ = v_.bos;
  eos_ids_ = v_.eos;
  add_bos_ = v_.add_bos;

  index_.build_all(v_.pieces);  // a piece given twice keeps the later id (as llama.cpp's map does)

  for (int b = 0; b < 256; ++b) byte_ids_[b] = -1;
  if (flavor_ == Flavor::Llama2c) {
    if (n < 259)
      fail(where, "llama2.c tokenizers need at least 259 tokens (3 specials + 256 bytes), found " + std::to_string(n));
    for (int b = 0; b < 256; ++b) byte_ids_[b] = b + 3;
  } else {
    for (int b = 0; b < 256; ++b) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
      byte_ids_[b] = find(buf);
    }
  }

  for (size_t id = 0; id < n && unk_id_ < 0; ++id) {
    if (v_.types[id] == TokenType::Unknown) unk_id_ = static_cast<int32_t>(id);
  }

  bytes_.resize(n);
  std::vector<AddedToken> specials;
  for (size_t id = 0; id < n; ++id) {
    const std::string& p = v_.pieces[id];
    switch (v_.types[id]) {
      case TokenType::Control:
      case TokenType::Unknown:
      case TokenType::Unused:
        break;
      case TokenType::UserDefined:
        bytes_[id] = p;
        break;
      case TokenType::Byte: {
        const int b = byte_of_piece(p);
        bytes_[id] = b >= 0 ? std::string(1, static_cast<char>(b)) : p;
        break;
      }
      case TokenType::Normal:
        if (const int b = byte_of_piece(p); b >= 0 && flavor_ == Flavor::Llama2c) {
          bytes_[id].assign(1, static_cast<char>(b));  // llama2.c's decode turns "<0xXX>" pieces into the byte
        } else {
          bytes_[id] = flavor_ == Flavor::LlamaCpp ? replace_all(p, kSpace, " ") : p;
        }
        break;
    }
    if (flavor_ == Flavor::LlamaCpp && (v_.types[id] == TokenType::Control || v_.types[id] == TokenType::Unknown ||
                                        v_.types[id] == TokenType::UserDefined)) {
      AddedToken t;
      t.content = p;
      t.id = static_cast<int32_t>(id);
      t.special = v_.types[id] != TokenType::UserDefined;
      specials.push_back(std::move(t));
    }
  }
  specials_.build(specials);
}

int32_t SpmTokenizer::find(std::string_view s) const {
  return index_.find(s, v_.pieces);
}

void SpmTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    fail(where_, "token id " + std::to_string(id) + " is outside [0, " + std::to_string(vocab_size()) + ")");
  }
}

std::string SpmTokenizer::token_bytes(int32_t id) const {
  check_id(id);
  return bytes_[id];
}

std::string SpmTokenizer::piece(int32_t id) const {
  check_id(id);
  return v_.pieces[id];
}

std::optional<int32_t> SpmTokenizer::find_piece(std::string_view piece) const {
  const int32_t id = find(piece);
  if (id < 0) return std::nullopt;
  return id;
}

bool SpmTokenizer::is_control(int32_t id) const {
  check_id(id);
  return v_.types[id] == TokenType::Control;
}

void SpmTokenizer::tokenize(std::string_view text, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t prev, next;
    uint32_t off, n;  // n == 0: merged away
    bool frozen;      // llama2.c byte-fallback tokens never merge
    int32_t id;       // llama2.c: the id decided at the initial split
  };
  std::vector<Symbol> sym;
  sym.reserve(text.size());
  const auto push = [&](size_t off, size_t len, bool frozen, int32_t id) {
    const auto idx = static_cast<int32_t>(sym.size());
    sym.push_back({idx - 1, idx + 1, static_cast<uint32_t>(off), static_cast<uint32_t>(len), frozen, id});
  };
  if (flavor_ == Flavor::Llama2c) {
    for (size_t i = 0; i < text.size();) {
      size_t len = 1;  // a byte plus the continuation bytes after it, at most 4 (run.c)
      while (i + len < text.size() && len < 4 && (static_cast<uint8_t>(text[i + len]) & 0xC0) == 0x80) ++len;
      const int32_t id = find(text.substr(i, len));
      if (id >= 0) {
        push(i, len, false, id);
      } else {
        for (size_t k = 0; k < len; ++k) push(i + k, 1, true, byte_ids_[static_cast<uint8_t>(text[i + k])]);
      }
      i += len;
    }
  } else {
    // One symbol per character. (llama.cpp takes the length from the lead byte alone, so a truncated character
    // swallows the bytes after it; for valid UTF-8 the two agree, for invalid bytes this keeps the text intact.)
    for (size_t i = 0; i < text.size();) {
      const size_t len = utf8::char_len(text, i);
      push(i, len, false, -1);
      i += len;
    }
  }
  if (sym.empty()) return;
  sym.back().next = -1;

  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t size;
  };
  struct Worse {
    bool operator()(const Bigram& l, const Bigram& r) const {
      return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
  };
  std::priority_queue<Bigram, std::vector<Bigram>, Worse> queue;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || sym[left].frozen || sym[right].frozen) return;
    const uint32_t size = sym[left].n + sym[right].n;
    const int32_t id = find(text.substr(sym[left].off, size));
    if (id < 0) return;
    queue.push({v_.scores[id], left, right, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);
  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& l = sym[bg.left];
    Symbol& r = sym[bg.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != bg.size || l.next != bg.right) continue;
    l.n += r.n;
    l.id = -1;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }
  for (int32_t i = 0; i != -1; i = sym[i].next) {
    const Symbol& s = sym[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      continue;
    }
    const std::string_view t = text.substr(s.off, s.n);
    const int32_t id = find(t);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (char c : t) {  // a character outside the vocabulary: its bytes
      const int32_t b = byte_ids_[static_cast<uint8_t>(c)];
      if (b >= 0) {
        out.push_back(b);
      } else if (unk_id_ >= 0) {
        out.push_back(unk_id_);
      }
    }
  }
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> out;
  if (text.empty()) return out;
  if (flavor_ == Flavor::Llama2c) {
    std::string t = " ";
    t.append(text);
    tokenize(t, out);
    return out;
  }
  std::vector<AddedTokenMatcher::Segment> segs;
  specials_.split(text, parse_special, segs);
  bool prev_special = true;
  for (const auto& seg : segs) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      prev_special = true;
      continue;
    }
    if (seg.end == seg.begin) continue;
    std::string t = v_.add_space_prefix && prev_special ? " " : "";
    t.append(text.substr(seg.begin, seg.end - seg.begin));
    tokenize(replace_all(t, " ", kSpace), out);
    prev_special = false;
  }
  return out;
}

std::unique_ptr<Tokenizer> tokenizer_from_llama2c(const std::string& path) {
  llama2c::TokenizerFile f = llama2c::read_tokenizer(path);
  SpmVocab v;
  const size_t n = f.pieces.size();
  v.types.assign(n, TokenType::Normal);
  if (n > 0) v.types[0] = TokenType::Unknown;
  if (n > 1) v.types[1] = TokenType::Control;
  if (n > 2) v.types[2] = TokenType::Control;
  v.pieces = std::move(f.pieces);
  v.scores = std::move(f.scores);
  v.bos = 1;
  v.eos = {2};
  v.add_bos = true;
  v.add_space_prefix = true;
  return std::make_unique<SpmTokenizer>(SpmTokenizer::Flavor::Llama2c, std::move(v), path);
}

}  // namespace verbatim

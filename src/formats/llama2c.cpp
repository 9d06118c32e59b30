#include "formats/llama2c.h"

#include <cstdint>
#include <limits>

#include "formats/byte_reader.h"
#include "util/error.h"

namespace verbatim::llama2c {

namespace {

using formats::add_ok;
using formats::ByteReader;
using formats::mul_ok;

constexpr uint32_t kExportMagic = 0x616b3432;  // "ak42": llama2.c export.py versions >= 1
constexpr uint64_t kLegacyHeaderBytes = 7 * 4;
constexpr uint64_t kV1HeaderBytes = 256;

std::string describe(const Header& h) {
  return "dim " + std::to_string(h.dim) + ", hidden_dim " + std::to_string(h.hidden_dim) + ", n_layers " +
         std::to_string(h.n_layers) + ", n_heads " + std::to_string(h.n_heads) + ", n_kv_heads " +
         std::to_string(h.n_kv_heads) + ", vocab_size " + std::to_string(h.vocab_size) + ", seq_len " +
         std::to_string(h.seq_len);
}

// Rejects headers no checkpoint can have, before any size is computed from them.
void check_header(const Header& h, const std::string& name) {
  auto bad = [&](const std::string& why) { fail(name, "invalid llama2.c header (" + describe(h) + "): " + why); };
  if (h.dim <= 0 || h.hidden_dim <= 0 || h.n_layers <= 0 || h.n_heads <= 0 || h.n_kv_heads <= 0 || h.seq_len <= 0 ||
      h.vocab_size <= 0)
    bad("every size must be positive");
  if (h.dim % h.n_heads != 0) bad("dim is not a multiple of n_heads");
  if (h.n_heads % h.n_kv_heads != 0) bad("n_heads is not a multiple of n_kv_heads");
  if ((h.dim / h.n_heads) % 2 != 0) bad("head size dim / n_heads is odd");
}

// Lays out consecutive fp32 arrays of checked sizes after `offset`; fails on overflow.
class Layout {
 public:
  Layout(uint64_t offset, const std::string& name) : bytes_(offset), name_(name) {}
  // Reserves the product of the factors (in floats) and returns its start (in bytes).
  uint64_t take(std::initializer_list<uint64_t> factors) {
    uint64_t n = 1, nbytes = 0;
    for (uint64_t f : factors)
      if (!mul_ok(n, f, &n)) overflow();
    if (!mul_ok(n, 4, &nbytes)) overflow();
    uint64_t start = bytes_;
    if (!add_ok(bytes_, nbytes, &bytes_)) overflow();
    return start;
  }
  uint64_t end() const { return bytes_; }

 private:
  [[noreturn]] void overflow() const { fail(name_, "invalid llama2.c header: weight sizes overflow"); }
  uint64_t bytes_;
  std::string name_;
};

}  // namespace

Checkpoint::Checkpoint(const std::string& path) : name_(path) {
  mapped_ = std::make_unique<MappedFile>(path);
  parse(mapped_->bytes());
}

std::unique_ptr<Checkpoint> Checkpoint::parse_memory(const uint8_t* data, size_t size, const std::string& name) {
  std::unique_ptr<Checkpoint> c(new Checkpoint());
  c->name_ = name;
  c->parse(std::span<const uint8_t>(data, size));
  return c;
}

void Checkpoint::parse(std::span<const uint8_t> bytes) {
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(float) != 0)
    fail(name_, "internal error: checkpoint bytes are not 4-byte aligned");
  ByteReader r(bytes, name_);
  int version = 0;  // 0: legacy run.c format
  if (bytes.size() >= 4 && r.read<uint32_t>("magic") == kExportMagic) {
    version = r.read<int32_t>("export version");
    if (version != 1)
      fail(name_, "unsupported llama2.c export version " + std::to_string(version) +
                      " (supported: the legacy format and version 1, fp32)");
  } else {
    r = ByteReader(bytes, name_);
  }
  Header& h = header_;
  h.dim = r.read<int32_t>("header");
  h.hidden_dim = r.read<int32_t>("header");
  h.n_layers = r.read<int32_t>("header");
  h.n_heads = r.read<int32_t>("header");
  h.n_kv_heads = r.read<int32_t>("header");
  int32_t vocab = r.read<int32_t>("header");
  h.seq_len = r.read<int32_t>("header");
  if (version == 0) {
    h.shared_classifier = vocab > 0;
    h.vocab_size = vocab == std::numeric_limits<int32_t>::min() ? 0 : (vocab < 0 ? -vocab : vocab);
  } else {
    uint8_t shared = r.read<uint8_t>("header shared_classifier flag");
    if (shared > 1) fail(name_, "invalid llama2.c header: shared_classifier flag is " + std::to_string(shared));
    h.shared_classifier = shared == 1;
    h.vocab_size = vocab;
  }
  check_header(h, name_);

  const uint64_t dim = h.dim, hidden = h.hidden_dim, L = h.n_layers, vocab_n = h.vocab_size;
  const uint64_t head = dim / h.n_heads, kv_dim = head * h.n_kv_heads;
  Layout lay(version == 0 ? kLegacyHeaderBytes : kV1HeaderBytes, name_);
  uint64_t o_emb, o_att, o_wq, o_wk, o_wv, o_wo, o_ffn, o_w1, o_w2, o_w3, o_final, o_cls = 0;
  if (version == 0) {
    o_emb = lay.take({vocab_n, dim});
    o_att = lay.take({L, dim});
    o_wq = lay.take({L, dim, dim});
    o_wk = lay.take({L, kv_dim, dim});
    o_wv = lay.take({L, kv_dim, dim});
    o_wo = lay.take({L, dim, dim});
    o_ffn = lay.take({L, dim});
    o_w1 = lay.take({L, hidden, dim});
    o_w2 = lay.take({L, dim, hidden});
    o_w3 = lay.take({L, hidden, dim});
    o_final = lay.take({dim});
    lay.take({static_cast<uint64_t>(h.seq_len), head / 2});  // freq_cis_real (unused)
    lay.take({static_cast<uint64_t>(h.seq_len), head / 2});  // freq_cis_imag (unused)
  } else {
    o_att = lay.take({L, dim});
    o_ffn = lay.take({L, dim});
    o_final = lay.take({dim});
    o_emb = lay.take({vocab_n, dim});
    o_wq = lay.take({L, dim, dim});
    o_wk = lay.take({L, kv_dim, dim});
    o_wv = lay.take({L, kv_dim, dim});
    o_wo = lay.take({L, dim, dim});
    o_w1 = lay.take({L, hidden, dim});
    o_w2 = lay.take({L, dim, hidden});
    o_w3 = lay.take({L, hidden, dim});
  }
  if (!h.shared_classifier) o_cls = lay.take({vocab_n, dim});

  if (lay.end() > bytes.size())
    fail(name_, "truncated: the header (" + describe(h) + (h.shared_classifier ? "" : ", unshared classifier") +
                    ") needs " + std::to_string(lay.end()) + " bytes, but the file has " +
                    std::to_string(bytes.size()));
  if (lay.end() < bytes.size())
    fail(name_, "the file has " + std::to_string(bytes.size()) + " bytes, but the header (" + describe(h) +
                    (h.shared_classifier ? "" : ", unshared classifier") + ") implies exactly " +
                    std::to_string(lay.end()) + " (trailing data: wrong header, or not a llama2.c checkpoint?)");

  auto view = [&](uint64_t offset, std::initializer_list<uint64_t> dims) {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;  // fits: checked by the layout above
    return std::span<const float>(reinterpret_cast<const float*>(bytes.data() + offset), static_cast<size_t>(n));
  };
  Weights& w = weights_;
  w.token_embedding = view(o_emb, {vocab_n, dim});
  w.rms_att = view(o_att, {L, dim});
  w.wq = view(o_wq, {L, dim, dim});
  w.wk = view(o_wk, {L, kv_dim, dim});
  w.wv = view(o_wv, {L, kv_dim, dim});
  w.wo = view(o_wo, {L, dim, dim});
  w.rms_ffn = view(o_ffn, {L, dim});
  w.w1 = view(o_w1, {L, hidden, dim});
  w.w2 = view(o_w2, {L, dim, hidden});
  w.w3 = view(o_w3, {L, hidden, dim});
  w.rms_final = view(o_final, {dim});
  w.wcls = h.shared_classifier ? w.token_embedding : view(o_cls, {vocab_n, dim});
}

TokenizerFile parse_tokenizer(std::span<const uint8_t> bytes, const std::string& name) {
  ByteReader r(bytes, name);
  TokenizerFile t;
  t.max_token_length = r.read<int32_t>("max_token_length");
  if (t.max_token_length < 0) fail(name, "invalid max_token_length " + std::to_string(t.max_token_length));
  while (r.remaining() > 0) {
    const std::string what = "token #" + std::to_string(t.pieces.size());
    float score = r.read<float>(what + " score");
    int32_t len = r.read<int32_t>(what + " length");
    if (len < 0) fail(name, what + " has negative length " + std::to_string(len));
    t.pieces.push_back(r.read_string(static_cast<uint64_t>(len), what + " bytes"));
    t.scores.push_back(score);
  }
  if (t.pieces.empty()) fail(name, "tokenizer file holds no tokens");
  return t;
}

TokenizerFile read_tokenizer(const std::string& path) {
  MappedFile m(path);
  return parse_tokenizer(m.bytes(), path);
}

}  // namespace verbatim::llama2c

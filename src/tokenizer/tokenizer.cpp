// Tokenizer::decode, StreamDecoder and load_tokenizer (format detection).
#include "tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "formats/gguf.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace verbatim {

namespace {

// The bytes of `id` as they appear after `prev` (the space after BOS stripped for SentencePiece tokenizers).
std::string bytes_after(const Tokenizer& tok, int32_t id, int32_t prev) {
  std::string b = tok.token_bytes(id);
  if (prev >= 0 && prev == tok.bos_id() && tok.strips_space_after_bos() && !b.empty() && b[0] == ' ') b.erase(0, 1);
  return b;
}

}  // namespace

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string bytes;
  int32_t prev = -1;
  for (int32_t id : ids) {
    bytes += bytes_after(*this, id, prev);
    prev = id;
  }
  return utf8::to_valid_lossy(bytes);
}

std::string StreamDecoder::push(int32_t id) {
  pending_ += bytes_after(tok_, id, prev_);
  prev_ = id;
  const size_t n = utf8::decided_prefix(pending_);
  if (n == 0) return {};
  std::string out = utf8::to_valid_lossy(std::string_view(pending_).substr(0, n));
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8::to_valid_lossy(pending_);
  pending_.clear();
  return out;
}

namespace {

namespace fs = std::filesystem;

// EOS ids from generation_config.json beside a tokenizer.json ("eos_token_id": id or [ids]); absent file: none.
void add_generation_eos(HfTokenizer& tok, const fs::path& dir) {
  std::error_code ec;
  const fs::path p = dir / "generation_config.json";
  if (!fs::is_regular_file(p, ec)) return;
  const std::string text = read_text_file(p.string(), size_t{1} << 20);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(p.string(), std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("eos_token_id")) return;
  const nlohmann::json& e = j["eos_token_id"];
  const auto add = [&](const nlohmann::json& v) {
    if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < tok.vocab_size()) {
      tok.add_eos(static_cast<int32_t>(v.get<int64_t>()));
    }
  };
  if (e.is_array()) {
    for (const auto& v : e) add(v);
  } else {
    add(e);
  }
}

std::unique_ptr<Tokenizer> load_hf(const fs::path& json_path) {
  const std::string text = read_text_file(json_path.string());
  std::string config;
  std::error_code ec;
  const fs::path dir = json_path.parent_path().empty() ? fs::path(".") : json_path.parent_path();
  const fs::path config_path = dir / "tokenizer_config.json";
  if (fs::is_regular_file(config_path, ec)) config = read_text_file(config_path.string(), size_t{64} << 20);
  std::unique_ptr<HfTokenizer> tok = hf_tokenizer_from_json(text, config, json_path.string());
  add_generation_eos(*tok, dir);
  return tok;
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path json_path = fs::path(path) / "tokenizer.json";
    if (!fs::is_regular_file(json_path, ec)) fail(path, "the directory holds no tokenizer.json");
    return load_hf(json_path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the file");
  char head[64] = {};
  in.read(head, sizeof(head));
  const auto got = static_cast<size_t>(in.gcount());
  in.close();
  const std::string_view h(head, got);
  if (h.substr(0, 4) == "GGUF") {
    gguf::File f(path);
    return tokenizer_from_gguf(f);
  }
  size_t i = h.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // UTF-8 BOM
  while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) ++i;
  if (i < h.size() && h[i] == '{') return load_hf(fs::path(path));
  return tokenizer_from_llama2c(path);
}

}  // namespace verbatim

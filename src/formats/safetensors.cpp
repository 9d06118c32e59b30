#include "formats/safetensors.h"

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "formats/byte_reader.h"
#include "formats/json_brief.h"
#include "util/error.h"

namespace verbatim::safetensors {

namespace {

using formats::add_ok;
using formats::mul_ok;
using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

// Bytes per element, or 0 for a dtype this parser does not know.
uint64_t dtype_bytes(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2" || d == "F8_E8M0") return 1;
  return 0;
}

// A JSON value as a non-negative integer, or throws naming `what`.
uint64_t json_uint(const json& v, const std::string& file, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  fail(file, what + " must be a non-negative integer, got " + formats::json_brief(v));
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

// The element count of the dimensions read so far (they did not overflow).
uint64_t numel_before(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

}  // namespace

File::File(const std::string& path) : name_(path) {
  mapped_ = std::make_unique<MappedFile>(path);
  parse(mapped_->bytes());
}

std::unique_ptr<File> File::parse_memory(const uint8_t* data, size_t size, const std::string& name) {
  std::unique_ptr<File> f(new File());
  f->name_ = name;
  f->parse(std::span<const uint8_t>(data, size));
  return f;
}

void File::parse(std::span<const uint8_t> bytes) {
  bytes_ = bytes;
  formats::ByteReader r(bytes, name_);
  if (bytes.size() < 8)
    fail(name_, "not a safetensors file: too short for the header length (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t header_len = r.read<uint64_t>("header length");
  if (header_len > kMaxHeaderBytes)
    fail(name_, "header length " + std::to_string(header_len) + " exceeds the 100 MB limit (not a safetensors file?)");
  if (header_len > r.remaining())
    fail(name_, "truncated: header length " + std::to_string(header_len) + " runs past the end of the file (" +
                    std::to_string(bytes.size()) + " bytes)");
  data_offset_ = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_offset_;

  json header;
  try {
    const char* begin = reinterpret_cast<const char*>(bytes.data() + 8);
    header = json::parse(begin, begin + header_len);
  } catch (const json::exception& e) {
    fail(name_, std::string("invalid JSON header: ") + e.what());
  }
  if (!header.is_object()) fail(name_, "the JSON header is not an object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) fail(name_, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(name_, "__metadata__ value for '" + m.key() + "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor " + key;
    if (!v.is_object()) fail(name_, what + ": entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) fail(name_, what + ": missing or non-string \"dtype\"");
    if (sh == v.end() || !sh->is_array()) fail(name_, what + ": missing or non-array \"shape\"");
    if (off == v.end() || !off->is_array() || off->size() != 2)
      fail(name_, what + ": \"data_offsets\" must be an array of two integers");

    TensorInfo t;
    t.name = key;
    t.dtype = dt->get<std::string>();
    uint64_t elem = dtype_bytes(t.dtype);
    if (elem == 0) fail(name_, what + " has unknown dtype " + t.dtype);
    uint64_t numel = 1;
    for (const json& d : *sh) {
      uint64_t n = json_uint(d, name_, what + " shape dimension");
      if (n > kInt64Max || !mul_ok(numel, n, &numel) || numel > kInt64Max)
        fail(name_, what + " has a shape whose element count overflows (" + std::to_string(numel_before(t.shape)) +
                        " x " + std::to_string(n) + ")");
      t.shape.push_back(static_cast<int64_t>(n));
    }
    t.begin = json_uint((*off)[0], name_, what + " data_offsets[0]");
    t.end = json_uint((*off)[1], name_, what + " data_offsets[1]");
    if (t.begin > t.end)
      fail(name_, what + " has data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                      "] with begin after end");
    if (t.end > data_size)
      fail(name_, what + " data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                      "] lie outside the data section (" + std::to_string(data_size) + " bytes)");
    uint64_t nbytes = 0;
    bool fits = mul_ok(numel, elem, &nbytes);
    if (!fits || nbytes != t.end - t.begin)
      fail(name_, what + " holds " + std::to_string(t.end - t.begin) + " bytes, but dtype " + t.dtype + " and shape " +
                      shape_string(t.shape) + " need " +
                      (fits ? std::to_string(nbytes) : std::string("more than 2^64")));
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
}

const TensorInfo* File::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> File::data(const TensorInfo& t) const {
  return bytes_.subspan(static_cast<size_t>(data_offset_ + t.begin), static_cast<size_t>(t.end - t.begin));
}

// ---- Collection ----

namespace {

// A shard name from the index: a relative path that stays inside the model directory.
void check_shard_name(const std::string& shard, const std::string& index_path) {
  std::filesystem::path p(shard);
  bool bad = shard.empty() || p.is_absolute() || shard.find('\\') != std::string::npos ||
             shard.find('\0') != std::string::npos;
  for (const auto& part : p)
    if (part == ".." || part == "." || part.empty()) bad = true;
  if (bad)
    fail(index_path, "shard file name \"" + shard + "\" is not a plain relative path inside the model directory");
}

}  // namespace

Collection::Collection(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  const std::string single_path = (fs::path(dir) / "model.safetensors").string();
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    json index;
    try {
      index = json::parse(read_text_file(index_path, size_t{64} << 20));
    } catch (const json::exception& e) {
      fail(index_path, std::string("invalid JSON: ") + e.what());
    }
    if (!index.is_object()) fail(index_path, "not a JSON object");
    auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object()) fail(index_path, "missing or non-object \"weight_map\"");
    std::map<std::string, size_t> shard_ids;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string()) fail(index_path, "weight_map entry for " + it.key() + " is not a string");
      const std::string shard = it.value().get<std::string>();
      check_shard_name(shard, index_path);
      auto [sit, inserted] = shard_ids.emplace(shard, files_.size());
      if (inserted) {
        const std::string shard_path = (fs::path(dir) / shard).string();
        if (!fs::exists(shard_path, ec))
          fail(index_path, "shard " + shard + " (listed for " + it.key() + ") is missing");
        files_.push_back(std::make_unique<File>(shard_path));
      }
      const File& f = *files_[sit->second];
      const TensorInfo* t = f.find(it.key());
      if (t == nullptr) fail(index_path, "tensor " + it.key() + " is listed in shard " + shard + " but absent from it");
      index_[it.key()] = {sit->second, t};
    }
  } else if (fs::exists(single_path, ec)) {
    files_.push_back(std::make_unique<File>(single_path));
    for (const TensorInfo& t : files_[0]->tensors()) index_[t.name] = {0, &t};
  } else {
    fail(dir, "no model.safetensors or model.safetensors.index.json in this directory");
  }
}

const TensorInfo* Collection::find(const std::string& name, const File** file) const {
  auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  if (file) *file = files_[it->second.first].get();
  return it->second.second;
}

std::vector<std::string> Collection::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, entry] : index_) out.push_back(name);
  return out;
}

}  // namespace verbatim::safetensors

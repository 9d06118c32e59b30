#include "formats/gguf.h"

#include <limits>

#include "formats/byte_reader.h"
#include "util/error.h"

namespace verbatim::gguf {

namespace {

using formats::add_ok;
using formats::ByteReader;
using formats::mul_ok;

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
      return "UINT8";
    case ValueType::INT8:
      return "INT8";
    case ValueType::UINT16:
      return "UINT16";
    case ValueType::INT16:
      return "INT16";
    case ValueType::UINT32:
      return "UINT32";
    case ValueType::INT32:
      return "INT32";
    case ValueType::FLOAT32:
      return "FLOAT32";
    case ValueType::BOOL:
      return "BOOL";
    case ValueType::STRING:
      return "STRING";
    case ValueType::ARRAY:
      return "ARRAY";
    case ValueType::UINT64:
      return "UINT64";
    case ValueType::INT64:
      return "INT64";
    case ValueType::FLOAT64:
      return "FLOAT64";
  }
  return "unknown";
}

bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}
bool is_signed(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}
bool is_float(ValueType t) {
  return t == ValueType::FLOAT32 || t == ValueType::FLOAT64;
}

// The fewest bytes one value of type t occupies; used to check element counts against the bytes left.
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL:
      return 1;
    case ValueType::UINT16:
    case ValueType::INT16:
      return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32:
      return 4;
    case ValueType::STRING:  // uint64 length
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
      return 8;
    case ValueType::ARRAY:
      return 12;  // uint32 type + uint64 count
  }
  return 1;
}

ValueType read_value_type(ByteReader& r, const std::string& what) {
  uint32_t t = r.read<uint32_t>(what + " type");
  if (t > static_cast<uint32_t>(ValueType::FLOAT64))
    fail(r.name(), what + " has unknown value type " + std::to_string(t));
  return static_cast<ValueType>(t);
}

std::string read_gguf_string(ByteReader& r, const std::string& what) {
  uint64_t n = r.read<uint64_t>(what + " length");
  return r.read_string(n, what);
}

// Reads one scalar (anything but ARRAY) into v's scalar fields.
void read_scalar(ByteReader& r, ValueType t, Value& v, const std::string& what) {
  v.type = t;
  switch (t) {
    case ValueType::UINT8:
      v.u = r.read<uint8_t>(what);
      break;
    case ValueType::UINT16:
      v.u = r.read<uint16_t>(what);
      break;
    case ValueType::UINT32:
      v.u = r.read<uint32_t>(what);
      break;
    case ValueType::UINT64:
      v.u = r.read<uint64_t>(what);
      break;
    case ValueType::INT8:
      v.i = r.read<int8_t>(what);
      break;
    case ValueType::INT16:
      v.i = r.read<int16_t>(what);
      break;
    case ValueType::INT32:
      v.i = r.read<int32_t>(what);
      break;
    case ValueType::INT64:
      v.i = r.read<int64_t>(what);
      break;
    case ValueType::FLOAT32:
      v.f = r.read<float>(what);
      break;
    case ValueType::FLOAT64:
      v.f = r.read<double>(what);
      break;
    case ValueType::BOOL: {
      uint8_t b = r.read<uint8_t>(what);
      if (b > 1) fail(r.name(), what + " is a BOOL with invalid value " + std::to_string(b));
      v.b = b != 0;
      v.i = b;
      v.u = b;
      break;
    }
    case ValueType::STRING:
      v.s = read_gguf_string(r, what);
      break;
    case ValueType::ARRAY:
      fail(r.name(), what + ": internal error, array read as scalar");
  }
  if (is_unsigned(t)) v.i = v.u <= kInt64Max ? static_cast<int64_t>(v.u) : 0;
  if (is_signed(t)) v.u = v.i >= 0 ? static_cast<uint64_t>(v.i) : 0;
}

void read_array(ByteReader& r, Value& v, const std::string& what) {
  v.type = ValueType::ARRAY;
  v.elem_type = read_value_type(r, what + " element");
  if (v.elem_type == ValueType::ARRAY) fail(r.name(), what + ": arrays of arrays are not supported");
  uint64_t n = r.read<uint64_t>(what + " element count");
  if (n > r.remaining() / min_encoded_size(v.elem_type))
    fail(r.name(), "truncated: " + what + " claims " + std::to_string(n) + " elements of type " +
                       value_type_name(v.elem_type) + " but only " + std::to_string(r.remaining()) + " bytes remain");
  v.array_size = n;
  Value e;
  if (v.elem_type == ValueType::STRING) {
    v.strings.reserve(n);
    for (uint64_t k = 0; k < n; ++k) v.strings.push_back(read_gguf_string(r, what + " element"));
  } else if (is_float(v.elem_type)) {
    v.floats.reserve(n);
    for (uint64_t k = 0; k < n; ++k) {
      read_scalar(r, v.elem_type, e, what + " element");
      v.floats.push_back(e.f);
    }
  } else {
    v.ints.reserve(n);
    for (uint64_t k = 0; k < n; ++k) {
      read_scalar(r, v.elem_type, e, what + " element");
      // UINT64 elements above INT64_MAX keep their bits (they read as negative).
      v.ints.push_back(is_unsigned(v.elem_type) ? static_cast<int64_t>(e.u) : e.i);
    }
  }
}

std::string dims_string(const std::vector<uint64_t>& ne) {
  std::string s = "[";
  for (size_t k = 0; k < ne.size(); ++k) s += (k ? ", " : "") + std::to_string(ne[k]);
  return s + "]";
}

}  // namespace

const char* ggml_type_name(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
      return "F32";
    case GgmlType::F16:
      return "F16";
    case GgmlType::Q4_0:
      return "Q4_0";
    case GgmlType::Q4_1:
      return "Q4_1";
    case GgmlType::Q5_0:
      return "Q5_0";
    case GgmlType::Q5_1:
      return "Q5_1";
    case GgmlType::Q8_0:
      return "Q8_0";
    case GgmlType::Q8_1:
      return "Q8_1";
    case GgmlType::Q2_K:
      return "Q2_K";
    case GgmlType::Q3_K:
      return "Q3_K";
    case GgmlType::Q4_K:
      return "Q4_K";
    case GgmlType::Q5_K:
      return "Q5_K";
    case GgmlType::Q6_K:
      return "Q6_K";
    case GgmlType::Q8_K:
      return "Q8_K";
    case GgmlType::BF16:
      return "BF16";
  }
  return "unknown";
}

bool ggml_type_layout(uint32_t type, uint64_t* block_bytes, uint64_t* block_elems) {
  uint64_t bytes = 0, elems = 0;
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      bytes = 4, elems = 1;
      break;
    case GgmlType::F16:
      bytes = 2, elems = 1;
      break;
    case GgmlType::BF16:
      bytes = 2, elems = 1;
      break;
    case GgmlType::Q4_0:
      bytes = 18, elems = 32;
      break;
    case GgmlType::Q4_1:
      bytes = 20, elems = 32;
      break;
    case GgmlType::Q5_0:
      bytes = 22, elems = 32;
      break;
    case GgmlType::Q5_1:
      bytes = 24, elems = 32;
      break;
    case GgmlType::Q8_0:
      bytes = 34, elems = 32;
      break;
    case GgmlType::Q8_1:
      bytes = 36, elems = 32;
      break;
    case GgmlType::Q2_K:
      bytes = 84, elems = 256;
      break;
    case GgmlType::Q3_K:
      bytes = 110, elems = 256;
      break;
    case GgmlType::Q4_K:
      bytes = 144, elems = 256;
      break;
    case GgmlType::Q5_K:
      bytes = 176, elems = 256;
      break;
    case GgmlType::Q6_K:
      bytes = 210, elems = 256;
      break;
    case GgmlType::Q8_K:
      bytes = 292, elems = 256;
      break;
    default:
      return false;
  }
  if (block_bytes) *block_bytes = bytes;
  if (block_elems) *block_elems = elems;
  return true;
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;  // cannot overflow: checked at parse time
  return n;
}

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
  ByteReader r(bytes, name_);
  if (bytes.size() < 4)
    fail(name_, "not a GGUF file: too short for the magic (" + std::to_string(bytes.size()) + " bytes)");
  if (r.read<uint32_t>("magic") != kMagic) fail(name_, "not a GGUF file: bad magic (expected \"GGUF\")");
  version_ = r.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xffffu) == 0 && ((version_ >> 24) == 2 || (version_ >> 24) == 3))
      fail(name_, "big-endian GGUF files are not supported");
    fail(name_, "unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  uint64_t n_tensors = r.read<uint64_t>("tensor count");
  uint64_t n_kv = r.read<uint64_t>("metadata count");

  // Each key/value takes at least 13 bytes (key length, value type, one byte of value).
  if (n_kv > r.remaining() / 13)
    fail(name_, "truncated or corrupt: metadata count " + std::to_string(n_kv) + " cannot fit in the " +
                    std::to_string(r.remaining()) + " bytes left");
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = read_gguf_string(r, "metadata key #" + std::to_string(k));
    std::string what = "metadata key '" + key + "'";
    Value v;
    ValueType t = read_value_type(r, what);
    if (t == ValueType::ARRAY)
      read_array(r, v, what);
    else
      read_scalar(r, t, v, what);
    if (!metadata_.emplace(key, std::move(v)).second) fail(name_, "duplicate metadata key '" + key + "'");
  }

  alignment_ = 32;
  if (auto a = find_int("general.alignment")) {
    if (*a <= 0 || *a > (int64_t{1} << 30) || (*a & (*a - 1)) != 0)
      fail(name_, "general.alignment " + std::to_string(*a) + " is not a power of two in [1, 2^30]");
    alignment_ = static_cast<uint32_t>(*a);
  }

  // Each tensor info takes at least 32 bytes (name length, n_dims, one dimension, type, offset).
  if (n_tensors > r.remaining() / 32)
    fail(name_, "truncated or corrupt: tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                    std::to_string(r.remaining()) + " bytes left");
  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo t;
    t.name = read_gguf_string(r, "tensor #" + std::to_string(k) + " name");
    std::string what = "tensor " + t.name;
    uint32_t n_dims = r.read<uint32_t>(what + " n_dims");
    if (n_dims == 0 || n_dims > kMaxDims)
      fail(name_, what + " has " + std::to_string(n_dims) + " dimensions (must be 1 to 4)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t n = r.read<uint64_t>(what + " dimension");
      t.ne.push_back(n);
      if (n == 0 || !mul_ok(numel, n, &numel) || numel > kInt64Max)
        fail(name_, what + " has invalid dimensions " + dims_string(t.ne) +
                        (n == 0 ? " (zero-sized)" : " (element count overflows)"));
    }
    t.type = r.read<uint32_t>(what + " type");
    t.offset = r.read<uint64_t>(what + " offset");
    uint64_t block_bytes = 0, block_elems = 0;
    if (!ggml_type_layout(t.type, &block_bytes, &block_elems))
      fail(name_, what + " has unknown ggml type " + std::to_string(t.type));
    if (t.ne[0] % block_elems != 0)
      fail(name_, what + ": ne[0] = " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                      ggml_type_name(static_cast<GgmlType>(t.type)) + " block size " + std::to_string(block_elems));
    if (!mul_ok(numel / block_elems, block_bytes, &t.nbytes)) fail(name_, what + ": byte size overflows");
    if (t.offset % alignment_ != 0)
      fail(name_, what + " offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                      std::to_string(alignment_));
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) fail(name_, "duplicate tensor name " + t.name);
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment (it may lie at the end when there are no tensors).
  uint64_t pos = r.pos();
  uint64_t pad = (alignment_ - pos % alignment_) % alignment_;
  data_offset_ = pos + pad;  // pos <= file size, so no overflow
  for (const TensorInfo& t : tensors_) {
    uint64_t begin = 0, end = 0;
    if (!add_ok(data_offset_, t.offset, &begin) || !add_ok(begin, t.nbytes, &end) || end > bytes.size())
      fail(name_, "tensor " + t.name + " data (offset " + std::to_string(t.offset) + ", " + std::to_string(t.nbytes) +
                      " bytes after the data section at " + std::to_string(data_offset_) + ") lies outside the file (" +
                      std::to_string(bytes.size()) + " bytes)");
  }
}

const TensorInfo* File::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> File::tensor_data(const TensorInfo& t) const {
  return bytes_.subspan(static_cast<size_t>(data_offset_ + t.offset), static_cast<size_t>(t.nbytes));
}

// ---- metadata accessors ----

namespace {

[[noreturn]] void wrong_type(const std::string& file, const std::string& key, const Value& v, const char* expected) {
  std::string got = value_type_name(v.type);
  if (v.type == ValueType::ARRAY) got += std::string(" of ") + value_type_name(v.elem_type);
  fail(file, "metadata key '" + key + "' has type " + got + ", expected " + expected);
}

}  // namespace

std::optional<std::string> File::find_string(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return std::nullopt;
  if (it->second.type != ValueType::STRING) wrong_type(name_, key, it->second, "a string");
  return it->second.s;
}

std::string File::get_string(const std::string& key) const {
  auto v = find_string(key);
  if (!v) fail(name_, "metadata key '" + key + "' is missing");
  return *v;
}

std::optional<int64_t> File::find_int(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return std::nullopt;
  const Value& v = it->second;
  if (is_signed(v.type)) return v.i;
  if (is_unsigned(v.type)) {
    if (v.u > kInt64Max) fail(name_, "metadata key '" + key + "' value " + std::to_string(v.u) + " is out of range");
    return static_cast<int64_t>(v.u);
  }
  wrong_type(name_, key, v, "an integer");
}

int64_t File::get_int(const std::string& key) const {
  auto v = find_int(key);
  if (!v) fail(name_, "metadata key '" + key + "' is missing");
  return *v;
}

std::optional<double> File::find_float(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return std::nullopt;
  if (!is_float(it->second.type)) wrong_type(name_, key, it->second, "a float");
  return it->second.f;
}

double File::get_float(const std::string& key) const {
  auto v = find_float(key);
  if (!v) fail(name_, "metadata key '" + key + "' is missing");
  return *v;
}

std::optional<bool> File::find_bool(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return std::nullopt;
  if (it->second.type != ValueType::BOOL) wrong_type(name_, key, it->second, "a bool");
  return it->second.b;
}

const std::vector<std::string>* File::find_string_array(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return nullptr;
  const Value& v = it->second;
  if (v.type != ValueType::ARRAY || v.elem_type != ValueType::STRING) wrong_type(name_, key, v, "an array of strings");
  return &v.strings;
}

const std::vector<int64_t>* File::find_int_array(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return nullptr;
  const Value& v = it->second;
  if (v.type != ValueType::ARRAY ||
      !(is_signed(v.elem_type) || is_unsigned(v.elem_type) || v.elem_type == ValueType::BOOL))
    wrong_type(name_, key, v, "an array of integers");
  return &v.ints;
}

const std::vector<double>* File::find_float_array(const std::string& key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) return nullptr;
  const Value& v = it->second;
  if (v.type != ValueType::ARRAY || !is_float(v.elem_type)) wrong_type(name_, key, v, "an array of floats");
  return &v.floats;
}

}  // namespace verbatim::gguf

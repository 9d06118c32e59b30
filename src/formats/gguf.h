// GGUF (v2 and v3) parser: metadata key/values and tensor infos, validated against the file size. The tensor data
// stays in the memory map. Every malformed input throws verbatim::Error naming the file and the problem; no read goes
// past the end and no allocation is sized from an unchecked count.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/mapped_file.h"

namespace verbatim::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// ggml tensor types that may appear in files (numbering from ggml.h).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};
const char* ggml_type_name(GgmlType t);  // "Q4_K"; "unknown" for others
// Bytes per block and elements per block, or false for a type this parser does not know.
bool ggml_type_layout(uint32_t type, uint64_t* block_bytes, uint64_t* block_elems);

struct Value {
  ValueType type = ValueType::UINT8;
  // Scalars: integers are in `i` (signed) / `u` (unsigned: UINT64 beyond INT64_MAX stays exact), floats in `f`,
  // bool in `b`, strings in `s`.
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  bool b = false;
  std::string s;
  // Arrays: element type plus the elements, converted into the one matching vector.
  ValueType elem_type = ValueType::UINT8;
  std::vector<std::string> strings;  // STRING arrays
  std::vector<int64_t> ints;         // integer and BOOL arrays (UINT64 above INT64_MAX keeps its bits)
  std::vector<double> floats;        // FLOAT32/FLOAT64 arrays
  uint64_t array_size = 0;
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // GGUF order: ne[0] is the innermost (contiguous) dimension
  uint32_t type = 0;         // GgmlType value
  uint64_t offset = 0;       // from the start of the data section
  uint64_t nbytes = 0;
  uint64_t numel() const;
};

class File {
 public:
  // Maps and parses `path`. Throws Error("<path>: ...") on any malformed content.
  explicit File(const std::string& path);

  // Parses from memory (fuzzing); the bytes must outlive the File. `name` is used in error messages.
  static std::unique_ptr<File> parse_memory(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }

  const std::map<std::string, Value>& metadata() const { return metadata_; }
  bool has(const std::string& key) const { return metadata_.count(key) != 0; }
  // Typed accessors: get_* throw Error naming the file and key when the key is missing or of another type;
  // find_* return nullopt when missing and throw when present with the wrong type. Integer accessors accept every
  // integer type (range-checked), float accessors FLOAT32 and FLOAT64.
  std::string get_string(const std::string& key) const;
  std::optional<std::string> find_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  std::optional<int64_t> find_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::optional<double> find_float(const std::string& key) const;
  std::optional<bool> find_bool(const std::string& key) const;
  // Array accessors (nullopt when missing; Error when present but not an array of that kind).
  const std::vector<std::string>* find_string_array(const std::string& key) const;
  const std::vector<int64_t>* find_int_array(const std::string& key) const;
  const std::vector<double>* find_float_array(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(const std::string& name) const;
  // The tensor's bytes inside the map (bounds were checked at parse time).
  std::span<const uint8_t> tensor_data(const TensorInfo& t) const;

 private:
  File() = default;
  void parse(std::span<const uint8_t> bytes);
  std::string name_;
  std::unique_ptr<MappedFile> mapped_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::map<std::string, Value> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace verbatim::gguf

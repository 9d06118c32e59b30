// safetensors parser: an 8-byte little-endian header length, a JSON header, then raw tensor bytes. Validated against
// the file size (offsets in range, no overlap past the end, byte counts matching dtype x shape). Tensor data stays in
// the memory map. Malformed input throws verbatim::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "util/mapped_file.h"

namespace verbatim::safetensors {

struct TensorInfo {
  std::string name;
  std::string dtype;           // as written: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // row-major, outermost first
  uint64_t begin = 0;          // byte offsets relative to the start of the data section
  uint64_t end = 0;
};

class File {
 public:
  explicit File(const std::string& path);  // maps and parses; throws Error
  const std::string& path() const { return name_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  std::span<const uint8_t> data(const TensorInfo& t) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Parses from memory (fuzzing); the bytes must outlive the File.
  static std::unique_ptr<File> parse_memory(const uint8_t* data, size_t size, const std::string& name);

 private:
  File() = default;
  void parse(std::span<const uint8_t> bytes);
  std::string name_;
  std::unique_ptr<MappedFile> mapped_;
  std::span<const uint8_t> bytes_;
  uint64_t data_offset_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A model's weights split over one or more safetensors files: either `model.safetensors`, or the shards listed in
// `model.safetensors.index.json` (its "weight_map": tensor name -> shard file name, resolved in the same directory).
class Collection {
 public:
  // dir: a Hugging Face model directory. Throws Error when neither file exists or the index is malformed
  // (naming the index file and the problem, e.g. a shard that is missing or a tensor absent from its shard).
  explicit Collection(const std::string& dir);
  const TensorInfo* find(const std::string& name, const File** file = nullptr) const;
  std::vector<std::string> names() const;
  const std::vector<std::unique_ptr<File>>& files() const { return files_; }

 private:
  std::vector<std::unique_ptr<File>> files_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>> index_;
};

}  // namespace verbatim::safetensors

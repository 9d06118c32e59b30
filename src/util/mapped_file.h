// A read-only memory-mapped file. Model weights point straight into it where the on-disk layout allows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace verbatim {

class MappedFile {
 public:
  // Maps the whole file read-only. Throws Error naming the path when it cannot be opened or mapped.
  // An empty file maps to an empty span.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string: configs, tokenizer files. Throws Error naming the path on failure and
// refuses files larger than max_bytes, so a wrong path can never cause a huge allocation.
std::string read_text_file(const std::string& path, size_t max_bytes = size_t{1} << 30);

}  // namespace verbatim

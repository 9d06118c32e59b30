// safetensors writer: streams tensors to disk in the layout Hugging Face's `safetensors` library writes, so that
// a file written here is byte-identical to one `safe_open`/`save_file` would produce for the same tensors:
// - tensor data sorted by dtype (the library's Dtype order, larger first) then by name, packed without gaps;
// - a compact JSON header: "__metadata__" first, then each tensor as {"dtype","shape","data_offsets"} in data order;
// - the header padded with spaces to a multiple of 8 bytes, so the data section (and every tensor of one dtype)
//   starts 8-byte aligned.
// The data is written as it comes (never held whole), to "<path>.partial", renamed to <path> by finish(): an
// interrupted write never leaves a file that looks complete. Errors throw verbatim::Error naming the file.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace verbatim::safetensors {

struct TensorSpec {
  std::string name;
  std::string dtype;           // "F32", "F16", "BF16", "I32", ... (any dtype the reader knows)
  std::vector<int64_t> shape;  // row-major, outermost first; {} is a scalar
};

// Bytes per element of a safetensors dtype name; throws Error for an unknown one.
uint64_t dtype_bytes(const std::string& dtype);
// Bytes of the tensor's data (element count x dtype size); throws Error on a negative dimension or overflow.
uint64_t tensor_bytes(const TensorSpec& t);

// The tensors in the order their data is laid out in the file (see above). Throws Error on a duplicate or empty name.
std::vector<TensorSpec> data_order(std::vector<TensorSpec> tensors);

// The 8-byte length prefix plus the padded JSON header for tensors already in data_order(): everything before the
// data section.
std::string file_header(const std::vector<TensorSpec>& ordered, const std::map<std::string, std::string>& metadata);

class Writer {
 public:
  // Orders the tensors (data_order), opens "<path>.partial" and writes the header. metadata goes to "__metadata__"
  // (HF writes {"format": "pt"}; empty: no "__metadata__" entry).
  Writer(const std::string& path, std::vector<TensorSpec> tensors,
         const std::map<std::string, std::string>& metadata = {{"format", "pt"}});
  ~Writer();  // without finish(): closes and removes the partial file
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // The tensors in the order their bytes must be given to write().
  const std::vector<TensorSpec>& order() const { return order_; }
  // Appends the next bytes of the data section: the tensors of order() back to back, in any chunking. Throws Error
  // when more bytes come than the tensors hold.
  void write(std::span<const uint8_t> bytes);
  // Checks that every tensor's bytes were written, closes the file and renames it into place. Throws Error otherwise.
  void finish();

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return header_bytes_ + data_bytes_; }  // of the finished file

 private:
  void write_all(const void* data, size_t size);

  std::string path_;
  std::string partial_path_;
  std::vector<TensorSpec> order_;
  uint64_t header_bytes_ = 0;
  uint64_t data_bytes_ = 0;  // the data section's total
  uint64_t written_ = 0;     // data bytes written so far
  int fd_ = -1;
};

// Writes a whole file from in-memory tensors (each span must hold exactly tensor_bytes() of its spec).
void write_file(const std::string& path, const std::vector<std::pair<TensorSpec, std::span<const uint8_t>>>& tensors,
                const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace verbatim::safetensors

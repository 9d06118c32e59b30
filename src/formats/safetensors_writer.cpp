#include "formats/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.h"

namespace verbatim::safetensors {

namespace {

struct DtypeInfo {
  const char* name;
  uint64_t bytes;
};

// In the order of the safetensors library's `Dtype` enum, which its writer sorts by (descending).
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 1}, {"U8", 1},   {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1}, {"I16", 2}, {"U16", 2},
    {"F16", 2},  {"BF16", 2}, {"I32", 4}, {"U32", 4},     {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8},
};

int dtype_rank(const std::string& dtype) {
  for (size_t i = 0; i < std::size(kDtypes); ++i)
    if (dtype == kDtypes[i].name) return static_cast<int>(i);
  fail("safetensors writer", "unknown dtype \"" + dtype + "\"");
}

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

uint64_t dtype_bytes(const std::string& dtype) {
  return kDtypes[dtype_rank(dtype)].bytes;
}

uint64_t tensor_bytes(const TensorSpec& t) {
  uint64_t n = dtype_bytes(t.dtype);
  for (int64_t d : t.shape) {
    if (d < 0) fail("safetensors writer", "tensor " + t.name + " has a negative dimension");
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))
      fail("safetensors writer", "tensor " + t.name + " is too large (byte count overflows)");
    n *= static_cast<uint64_t>(d);
  }
  return n;
}

std::vector<TensorSpec> data_order(std::vector<TensorSpec> tensors) {
  std::set<std::string> names;
  for (const TensorSpec& t : tensors) {
    if (t.name.empty()) fail("safetensors writer", "a tensor has an empty name");
    if (t.name == "__metadata__") fail("safetensors writer", "\"__metadata__\" is reserved and cannot name a tensor");
    if (!names.insert(t.name).second) fail("safetensors writer", "tensor " + t.name + " is given twice");
    dtype_rank(t.dtype);  // validates
  }
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorSpec& a, const TensorSpec& b) {
    int ra = dtype_rank(a.dtype), rb = dtype_rank(b.dtype);
    if (ra != rb) return ra > rb;
    return a.name < b.name;
  });
  return tensors;
}

std::string file_header(const std::vector<TensorSpec>& ordered, const std::map<std::string, std::string>& metadata) {
  // Written by hand rather than through nlohmann::json, which would sort the keys alphabetically: the library writes
  // "__metadata__" first, then the tensors in data order, each as dtype, shape, data_offsets.
  std::string h = "{";
  bool first = true;
  if (!metadata.empty()) {
    nlohmann::json m(metadata);
    h += "\"__metadata__\":" + m.dump();
    first = false;
  }
  uint64_t offset = 0;
  for (const TensorSpec& t : ordered) {
    const uint64_t n = tensor_bytes(t);
    if (!first) h += ',';
    first = false;
    h += nlohmann::json(t.name).dump();
    h += ":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (i) h += ',';
      h += std::to_string(t.shape[i]);
    }
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + n) + "]}";
    offset += n;
  }
  h += '}';
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);  // little-endian
  return out + h;
}

Writer::Writer(const std::string& path, std::vector<TensorSpec> tensors,
               const std::map<std::string, std::string>& metadata)
    : path_(path), partial_path_(path + ".partial"), order_(data_order(std::move(tensors))) {
  for (const TensorSpec& t : order_) data_bytes_ += tensor_bytes(t);
  const std::string header = file_header(order_, metadata);
  header_bytes_ = header.size();
  fd_ = ::open(partial_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(partial_path_, "cannot create: " + errno_text());
  write_all(header.data(), header.size());
}

Writer::~Writer() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(partial_path_.c_str());
  }
}

void Writer::write(std::span<const uint8_t> bytes) {
  if (fd_ < 0) fail(path_, "write after finish");
  if (bytes.size() > data_bytes_ - written_)
    fail(path_, "more tensor data than the header declares (" + std::to_string(data_bytes_) + " bytes)");
  write_all(bytes.data(), bytes.size());
  written_ += bytes.size();
}

void Writer::write_all(const void* data, size_t size) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t left = size;
  while (left > 0) {
    const size_t step = std::min<size_t>(left, size_t{1} << 30);
    ssize_t n = ::write(fd_, p, step);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(partial_path_, "write failed: " + errno_text());
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void Writer::finish() {
  if (fd_ < 0) fail(path_, "finish called twice");
  if (written_ != data_bytes_)
    fail(path_,
         "only " + std::to_string(written_) + " of " + std::to_string(data_bytes_) + " tensor data bytes were written");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(partial_path_.c_str());
    fail(partial_path_, "close failed: " + why);
  }
  if (std::rename(partial_path_.c_str(), path_.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(partial_path_.c_str());
    fail(path_, "cannot rename " + partial_path_ + " into place: " + why);
  }
}

void write_file(const std::string& path, const std::vector<std::pair<TensorSpec, std::span<const uint8_t>>>& tensors,
                const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  std::map<std::string, std::span<const uint8_t>> data;
  for (const auto& [spec, bytes] : tensors) {
    if (bytes.size() != tensor_bytes(spec))
      fail(path, "tensor " + spec.name + ": " + std::to_string(bytes.size()) + " bytes given, " +
                     std::to_string(tensor_bytes(spec)) + " expected");
    specs.push_back(spec);
    data[spec.name] = bytes;
  }
  Writer w(path, std::move(specs), metadata);
  for (const TensorSpec& t : w.order()) w.write(data.at(t.name));
  w.finish();
}

}  // namespace verbatim::safetensors

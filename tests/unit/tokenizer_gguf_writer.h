// A minimal GGUF v3 writer for tokenizer tests: metadata only, no tensors.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace verbatim::testing {

class GgufWriter {
 public:
  void str(const std::string& key, const std::string& v) {
    header(key, 8);
    put_str(v);
  }
  void u32(const std::string& key, uint32_t v) {
    header(key, 4);
    put(v);
  }
  void boolean(const std::string& key, bool v) {
    header(key, 7);
    body_.push_back(v ? 1 : 0);
  }
  void strings(const std::string& key, const std::vector<std::string>& v) {
    header(key, 9);
    put(uint32_t{8});
    put(static_cast<uint64_t>(v.size()));
    for (const std::string& s : v) put_str(s);
  }
  void int32s(const std::string& key, const std::vector<int32_t>& v) {
    header(key, 9);
    put(uint32_t{5});
    put(static_cast<uint64_t>(v.size()));
    for (int32_t x : v) put(x);
  }
  void floats(const std::string& key, const std::vector<float>& v) {
    header(key, 9);
    put(uint32_t{6});
    put(static_cast<uint64_t>(v.size()));
    for (float x : v) put(x);
  }
  std::string bytes() const {
    std::string out = "GGUF";
    append(out, uint32_t{3});
    append(out, uint64_t{0});  // tensors
    append(out, n_kv_);
    out += body_;
    while (out.size() % 32 != 0) out.push_back('\0');
    return out;
  }

 private:
  template <typename T>
  static void append(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
  }
  template <typename T>
  void put(T v) {
    append(body_, v);
  }
  void put_str(const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    body_ += s;
  }
  void header(const std::string& key, uint32_t type) {
    ++n_kv_;
    put_str(key);
    put(type);
  }
  std::string body_;
  uint64_t n_kv_ = 0;
};

}  // namespace verbatim::testing

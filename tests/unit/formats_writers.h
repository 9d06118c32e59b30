// Test-only writers for tiny GGUF, safetensors and llama2.c files, plus a tiny Llama-family model whose weights can
// be written in every format (with the Q/K row order each format uses), so loaders can be checked against each other
// and malformed variants can be built by mutation.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace verbatim::testing {

// ---- raw little-endian byte building ----

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
inline void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}
inline std::string float_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}
template <class T>
void poke(std::string& bytes, size_t pos, T v) {
  std::memcpy(bytes.data() + pos, &v, sizeof(T));
}

// ---- GGUF ----

class GgufWriter {
 public:
  uint32_t version = 3;
  uint32_t alignment = 32;  // used for layout; write general.alignment yourself when not 32

  // Raw key/value: the value bytes after the type.
  void kv_raw(const std::string& key, uint32_t type, const std::string& value) { kvs_.push_back({key, type, value}); }
  // Removes every key/value or tensor of that name (to build files that lack it).
  void drop_kv(const std::string& key) {
    std::erase_if(kvs_, [&](const KV& kv) { return kv.key == key; });
  }
  void drop_tensor(const std::string& name) {
    std::erase_if(tensors_, [&](const T& t) { return t.name == name; });
  }
  void kv_u32(const std::string& key, uint32_t v) { kv_raw(key, 4, bytes_of(v)); }
  void kv_i32(const std::string& key, int32_t v) { kv_raw(key, 5, bytes_of(v)); }
  void kv_f32(const std::string& key, float v) { kv_raw(key, 6, bytes_of(v)); }
  void kv_u64(const std::string& key, uint64_t v) { kv_raw(key, 10, bytes_of(v)); }
  void kv_bool(const std::string& key, bool v) { kv_raw(key, 7, std::string(1, v ? '\1' : '\0')); }
  void kv_str(const std::string& key, const std::string& v) {
    std::string b;
    put_str(b, v);
    kv_raw(key, 8, b);
  }
  void kv_str_array(const std::string& key, const std::vector<std::string>& v) {
    std::string b;
    put<uint32_t>(b, 8);
    put<uint64_t>(b, v.size());
    for (const auto& s : v) put_str(b, s);
    kv_raw(key, 9, b);
  }
  void kv_i32_array(const std::string& key, const std::vector<int32_t>& v) {
    std::string b;
    put<uint32_t>(b, 5);
    put<uint64_t>(b, v.size());
    for (int32_t x : v) put(b, x);
    kv_raw(key, 9, b);
  }
  void kv_f32_array(const std::string& key, const std::vector<float>& v) {
    std::string b;
    put<uint32_t>(b, 6);
    put<uint64_t>(b, v.size());
    for (float x : v) put(b, x);
    kv_raw(key, 9, b);
  }

  // ne in GGUF order (innermost first). data must have the tensor's byte size.
  void tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, std::string data) {
    tensors_.push_back({name, std::move(ne), type, std::move(data)});
  }
  void tensor_f32(const std::string& name, std::vector<uint64_t> ne, const std::vector<float>& v) {
    tensor(name, std::move(ne), 0, float_bytes(v));
  }

  // Filled by build(): where each tensor's offset field sits in the file, and where the data section starts.
  std::vector<size_t> offset_field_pos;
  size_t data_start = 0;

  std::string build() {
    std::string out = "GGUF";
    put<uint32_t>(out, version);
    put<uint64_t>(out, tensors_.size());
    put<uint64_t>(out, kvs_.size());
    for (const KV& kv : kvs_) {
      put_str(out, kv.key);
      put<uint32_t>(out, kv.type);
      out += kv.value;
    }
    std::vector<uint64_t> offsets;
    uint64_t off = 0;
    for (const auto& t : tensors_) {
      offsets.push_back(off);
      off += t.data.size();
      off = (off + alignment - 1) / alignment * alignment;
    }
    offset_field_pos.clear();
    for (size_t k = 0; k < tensors_.size(); ++k) {
      const auto& t = tensors_[k];
      put_str(out, t.name);
      put<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
      for (uint64_t n : t.ne) put<uint64_t>(out, n);
      put<uint32_t>(out, t.type);
      offset_field_pos.push_back(out.size());
      put<uint64_t>(out, offsets[k]);
    }
    out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
    data_start = out.size();
    for (size_t k = 0; k < tensors_.size(); ++k) {
      out.resize(data_start + offsets[k], '\0');
      out += tensors_[k].data;
    }
    return out;
  }

 private:
  template <class T>
  static std::string bytes_of(T v) {
    std::string b;
    put(b, v);
    return b;
  }
  struct T {
    std::string name;
    std::vector<uint64_t> ne;
    uint32_t type;
    std::string data;
  };
  struct KV {
    std::string key;
    uint32_t type;
    std::string value;
  };
  std::vector<KV> kvs_;
  std::vector<T> tensors_;
};

// ---- safetensors ----

class SafetensorsWriter {
 public:
  nlohmann::json header = nlohmann::json::object();
  std::string data;

  void tensor(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
              const std::string& bytes) {
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  void tensor_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    tensor(name, "F32", shape, float_bytes(v));
  }
  // pad: spaces appended to the header JSON (the reference writer pads to a multiple of 8).
  std::string build(size_t pad = 0) const { return build_with_header(header.dump() + std::string(pad, ' ')); }
  std::string build_with_header(const std::string& json) const {
    std::string out;
    put<uint64_t>(out, json.size());
    return out + json + data;
  }
};

// ---- a tiny model in every format ----

// Llama-family hyper-parameters small enough to write by hand; head_dim 8 so that the RoPE row permutation is not its
// own inverse.
struct TinyModel {
  std::string arch = "llama";  // llama | qwen2 | qwen3
  int dim = 16, hidden = 24, layers = 2, heads = 2, kv_heads = 1, head_dim = 8, vocab = 16, seq = 32;
  bool tied = false;
  // Canonical (HF) tensors by HF name: shape + values.
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> hf;
  // Tensors tiny_gguf writes as raw ggml blocks instead of F32, by HF name: (ggml type, bytes in HF row order). Their
  // values in `hf` must be what the blocks decode to (quantize_tiny in gguf_quant_blocks.h keeps both in step).
  std::map<std::string, std::pair<uint32_t, std::string>> gguf_blocks;

  int q_dim() const { return heads * head_dim; }
  int kv_dim() const { return kv_heads * head_dim; }
  const std::vector<float>& v(const std::string& name) const { return hf.at(name).second; }
};

// Distinct pseudo-random weights (a fixed LCG) for every tensor the architecture needs.
TinyModel make_tiny(const std::string& arch = "llama", bool tied = false, int kv_heads = 1);
// (Re)generates m.hf for the sizes and flags already set in m.
void fill_tiny(TinyModel& m);
nlohmann::json tiny_hf_config(const TinyModel& m);
// Writes config.json and model.safetensors into dir.
void write_tiny_hf(const TinyModel& m, const std::string& dir);
// GGUF bytes, Q/K rows permuted the way llama.cpp's converter does for arch llama.
std::string tiny_gguf(const TinyModel& m, GgufWriter* writer = nullptr);
// llama2.c legacy checkpoint bytes (llama only; Q/K interleaved like Meta's checkpoints). version 1 writes the
// "ak42" export with its 256-byte header.
std::string tiny_llama2c(const TinyModel& m, int version = 0);

// HF -> interleaved-pair row order (llama.cpp's `permute`): row h*d + 2i + s = HF row h*d + s*d/2 + i.
std::vector<float> interleave_rows(const std::vector<float>& hf, int rows, int cols, int head_dim);

}  // namespace verbatim::testing

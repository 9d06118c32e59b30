// GGUF model files. F32/F16/BF16 tensors stay in the map; quantized tensors (Q4_0 ... Q6_K) are dequantized at load
// into fp32 buffers the model owns (bit-identical to what transformers' gguf loader produces); `llama` files get their
// Q/K rows un-permuted (llama.cpp's converter stores them for RoPE on interleaved pairs).
#include "formats/gguf.h"
#include "formats/gguf_quant.h"
#include "model/load_common.h"
#include "util/error.h"

namespace verbatim::detail {

std::unique_ptr<Model> load_gguf(const std::string& path) {
  return load_gguf(std::make_shared<const gguf::File>(path));
}

std::unique_ptr<Model> load_gguf(std::shared_ptr<const gguf::File> file) {
  const std::string& path = file->path();
  auto m = std::make_unique<Model>();
  m->format = ModelFormat::Gguf;
  m->path = path;
  m->tokenizer_path = path;
  m->storage.push_back(file);
  m->config = config_from_gguf(*file);

  // One thread: dequantizing SmolLM2-135M takes a fraction of a second, less than OpenMP's spin-waits cost on a busy
  // machine (the result is the same for any thread count).
  const int dequant_threads = 1;
  auto fetch = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const gguf::TensorInfo* info = file->find_tensor(name);
    if (info == nullptr) fail(path, "tensor " + name + " is missing");
    Tensor t;
    t.name = name;
    const auto type = static_cast<gguf::GgmlType>(info->type);
    const bool plain = type == gguf::GgmlType::F32 || type == gguf::GgmlType::F16 || type == gguf::GgmlType::BF16;
    if (!plain && !gguf::can_dequantize(info->type))
      fail(path, "tensor " + name + " has type " + gguf::ggml_type_name(type) +
                     ", which is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, "
                     "Q6_K)");
    std::vector<int64_t> got(info->ne.rbegin(), info->ne.rend());  // GGUF ne is innermost first
    if (got != shape)
      fail(path, "tensor " + name + " has shape " + shape_string(got) + ", expected " + shape_string(shape));
    t.shape = shape;
    if (!plain) {
      const auto n = static_cast<size_t>(info->numel());
      std::shared_ptr<float[]> buf(new float[n]);
      gguf::dequantize(info->type, file->tensor_data(*info), std::span<float>(buf.get(), n), path + ": tensor " + name,
                       dequant_threads);
      m->storage.push_back(buf);
      t.dtype = DType::F32;
      t.data = buf.get();
      return t;
    }
    t.dtype = type == gguf::GgmlType::F32 ? DType::F32 : (type == gguf::GgmlType::F16 ? DType::F16 : DType::BF16);
    t.data = file->tensor_data(*info).data();
    return aligned_view(std::move(t), m->storage);
  };
  m->weights = fetch_weights(m->config, kGgufNames, fetch);

  if (m->config.arch == Arch::Llama) {
    for (LayerWeights& l : m->weights.layers) {
      l.wq = permute_rope_rows(l.wq, m->config.head_dim, m->storage);
      l.wk = permute_rope_rows(l.wk, m->config.head_dim, m->storage);
      if (!l.bq.empty()) l.bq = permute_rope_rows(l.bq, m->config.head_dim, m->storage);
      if (!l.bk.empty()) l.bk = permute_rope_rows(l.bk, m->config.head_dim, m->storage);
    }
  }
  return m;
}

}  // namespace verbatim::detail

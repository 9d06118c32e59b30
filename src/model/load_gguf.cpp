// GGUF model files. F32/F16/BF16 tensors stay in the map; `llama` files get their Q/K rows un-permuted (llama.cpp's
// converter stores them for RoPE on interleaved pairs).
#include "formats/gguf.h"
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

  auto fetch = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const gguf::TensorInfo* info = file->find_tensor(name);
    if (info == nullptr) fail(path, "tensor " + name + " is missing");
    Tensor t;
    t.name = name;
    switch (static_cast<gguf::GgmlType>(info->type)) {
      case gguf::GgmlType::F32:
        t.dtype = DType::F32;
        break;
      case gguf::GgmlType::F16:
        t.dtype = DType::F16;
        break;
      case gguf::GgmlType::BF16:
        t.dtype = DType::BF16;
        break;
      default:
        fail(path, "tensor " + name + " has type " + gguf::ggml_type_name(static_cast<gguf::GgmlType>(info->type)) +
                       ", which is not supported yet (F32, F16, BF16)");
    }
    std::vector<int64_t> got(info->ne.rbegin(), info->ne.rend());  // GGUF ne is innermost first
    if (got != shape)
      fail(path, "tensor " + name + " has shape " + shape_string(got) + ", expected " + shape_string(shape));
    t.shape = shape;
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

// Hugging Face model directories: config.json (+ generation_config.json) and safetensors weights.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "formats/safetensors.h"
#include "model/load_common.h"
#include "util/error.h"

namespace verbatim::detail {

namespace {

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_text_file(path, size_t{16} << 20);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("invalid JSON: ") + e.what());
  }
}

bool dtype_from(const std::string& s, DType* out) {
  if (s == "F32")
    *out = DType::F32;
  else if (s == "F16")
    *out = DType::F16;
  else if (s == "BF16")
    *out = DType::BF16;
  else
    return false;
  return true;
}

}  // namespace

std::unique_ptr<Model> load_hf(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto m = std::make_unique<Model>();
  m->format = ModelFormat::HfDirectory;
  m->path = dir;

  const std::string config_path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(config_path, ec)) fail(dir, "not a model directory: config.json is missing");
  m->config = config_from_hf_json(read_json(config_path), config_path);
  const std::string gen_path = (fs::path(dir) / "generation_config.json").string();
  if (fs::exists(gen_path, ec)) apply_hf_generation_config(m->config, read_json(gen_path), gen_path);

  auto weights = std::make_shared<const safetensors::Collection>(dir);
  m->storage.push_back(weights);
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  const std::string where_missing =
      fs::exists(index_path, ec) ? index_path : (fs::path(dir) / "model.safetensors").string();

  auto fetch = [&](const std::string& name, const std::vector<int64_t>& shape) {
    const safetensors::File* file = nullptr;
    const safetensors::TensorInfo* info = weights->find(name, &file);
    if (info == nullptr) fail(where_missing, "tensor " + name + " is missing");
    Tensor t;
    t.name = name;
    if (!dtype_from(info->dtype, &t.dtype))
      fail(file->path(), "tensor " + name + " has dtype " + info->dtype + ", which is not supported (F32, F16, BF16)");
    if (info->shape != shape)
      fail(file->path(),
           "tensor " + name + " has shape " + shape_string(info->shape) + ", expected " + shape_string(shape));
    t.shape = shape;
    t.data = file->data(*info).data();
    return aligned_view(std::move(t), m->storage);
  };
  m->weights = fetch_weights(m->config, kHfNames, fetch);

  const std::string tok = (fs::path(dir) / "tokenizer.json").string();
  if (fs::exists(tok, ec)) m->tokenizer_path = tok;
  return m;
}

}  // namespace verbatim::detail

// Model::load: detects the format (HF directory, GGUF, llama2.c) and hands over to its loader.
#include "model/model.h"

#include <cstring>
#include <filesystem>

#include "model/load_common.h"
#include "util/error.h"

namespace verbatim {

std::unique_ptr<Model> Model::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return detail::load_hf(path);
  const std::string file = fs::path(path).filename().string();
  auto ends_with = [&](const std::string& s) {
    return file.size() >= s.size() && file.compare(file.size() - s.size(), s.size(), s) == 0;
  };
  if (ends_with(".safetensors") || ends_with(".safetensors.index.json") || file == "config.json")
    fail(path, "give the model directory (holding config.json and the safetensors files), not a file inside it");
  bool gguf = false;
  {
    MappedFile m(path);
    gguf = m.size() >= 4 && std::memcmp(m.data(), "GGUF", 4) == 0;
  }
  return gguf ? detail::load_gguf(path) : detail::load_llama2c(path);
}

}  // namespace verbatim

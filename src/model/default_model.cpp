#include "model/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "model/model.h"
#include "util/error.h"

namespace verbatim {

namespace {

namespace fs = std::filesystem;

// The directory of the running executable ("" when /proc/self/exe cannot be read).
fs::path executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

}  // namespace

std::vector<std::string> default_model_candidates() {
  std::vector<std::string> out;
  auto add = [&](const fs::path& dir) {
    const std::string p = (dir / kDefaultModelFile).lexically_normal().string();
    for (const std::string& q : out)
      if (q == p) return;
    out.push_back(p);
  };
  if (const char* env = std::getenv("VERBATIM_MODELS_DIR"); env != nullptr && *env != '\0') {
    add(env);  // the user named the folder: look nowhere else (and an empty folder means "no default model")
    return out;
  }
#ifdef VERBATIM_SOURCE_DIR
  add(fs::path(VERBATIM_SOURCE_DIR) / "models");
#endif
  if (const fs::path exe = executable_dir(); !exe.empty()) {
    add(exe / "models");
    add(exe / ".." / ".." / "models");
  }
  return out;
}

namespace {

std::optional<std::string> first_file(const std::vector<std::string>& candidates) {
  for (const std::string& p : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> default_model_path() {
  return first_file(default_model_candidates());
}

std::string require_default_model(const std::string& flag) {
  return require_default_model(flag, default_model_candidates());
}

std::string require_default_model(const std::string& flag, const std::vector<std::string>& candidates) {
  if (auto p = first_file(candidates)) return *p;
  std::string where;
  for (const std::string& p : candidates) where += (where.empty() ? "" : ", ") + p;
  fail(flag, std::string("not given, and the default model ") + kDefaultModelFile + " is not in any of: " + where +
                 ". Run scripts/setup.sh (it downloads the model, ~93 MB, into <repo>/models), set "
                 "VERBATIM_MODELS_DIR to the folder holding it, or pass " +
                 flag + " PATH (`verbatim synth` writes a random-weight model for tests)");
}

bool is_default_model_file(const std::string& path) {
  return !path.empty() && fs::path(path).filename() == kDefaultModelFile;
}

GenerationDefaults default_model_generation() {
  GenerationDefaults g;
  g.temperature = 0.0f;
  return g;
}

void apply_default_model_generation(Model& model) {
  const GenerationDefaults& g = model.config.generation;
  if (g.temperature || g.top_k || g.top_p || g.min_p) return;
  if (!is_default_model_file(model.path)) return;
  model.config.generation = default_model_generation();
}

}  // namespace verbatim

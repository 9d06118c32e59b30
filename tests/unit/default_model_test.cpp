// Where the default model is looked for: $VERBATIM_MODELS_DIR alone when set, else the source checkout's models/, then
// next to the executable; the error when it is nowhere says how to get it.
#include "model/default_model.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "support/test_support.h"
#include "util/error.h"

namespace verbatim {
namespace {

// Sets $VERBATIM_MODELS_DIR for one scope and restores the previous value.
class ModelsDirEnv {
 public:
  explicit ModelsDirEnv(const std::string& value) {
    if (const char* old = std::getenv("VERBATIM_MODELS_DIR")) old_ = old;
    setenv("VERBATIM_MODELS_DIR", value.c_str(), 1);
  }
  ~ModelsDirEnv() {
    if (old_)
      setenv("VERBATIM_MODELS_DIR", old_->c_str(), 1);
    else
      unsetenv("VERBATIM_MODELS_DIR");
  }

 private:
  std::optional<std::string> old_;
};

TEST(DefaultModel, EnvironmentFolderComesFirst) {
  const std::string dir = testing::temp_dir();
  const std::string file = dir + "/" + kDefaultModelFile;
  testing::write_file(file, "GGUF");
  ModelsDirEnv env(dir);
  const auto c = default_model_candidates();
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.front(), std::filesystem::path(file).lexically_normal().string());
  EXPECT_EQ(default_model_path(), c.front());
  EXPECT_EQ(require_default_model(), c.front());
}

// A folder named by the variable is the only place looked in: without the file there, there is no default model
// (how `demo` is told to fall back to its embedded synthetic model, and `generate` to say how to get the file).
TEST(DefaultModel, EnvironmentFolderIsTheOnlyPlace) {
  const std::string dir = testing::temp_dir();
  ModelsDirEnv env(dir);
  const auto c = default_model_candidates();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], (std::filesystem::path(dir) / kDefaultModelFile).lexically_normal().string());
  EXPECT_EQ(default_model_path(), std::nullopt);
  EXPECT_THROW(require_default_model(), Error);
}

TEST(DefaultModel, SourceCheckoutIsACandidate) {
  ModelsDirEnv env("");
  const auto c = default_model_candidates();
  const std::string src =
      (std::filesystem::path(VERBATIM_SOURCE_DIR) / "models" / kDefaultModelFile).lexically_normal();
  EXPECT_NE(std::find(c.begin(), c.end(), src), c.end());
  // The empty variable adds nothing; every candidate names the file.
  for (const std::string& p : c) EXPECT_EQ(std::filesystem::path(p).filename(), kDefaultModelFile);
}

TEST(DefaultModel, MissingModelErrorSaysHowToGetIt) {
  const std::string missing = testing::temp_dir() + "/" + kDefaultModelFile;
  try {
    require_default_model("--model", {missing});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("--model: ", 0), 0u) << m;
    EXPECT_NE(m.find(missing), std::string::npos) << m;
    EXPECT_NE(m.find("scripts/setup.sh"), std::string::npos) << m;
    EXPECT_NE(m.find("VERBATIM_MODELS_DIR"), std::string::npos) << m;
  }
  testing::write_file(missing, "GGUF");
  EXPECT_EQ(require_default_model("--model", {missing + ".nope", missing}), missing);
}

// A directory named like the model is not a model.
TEST(DefaultModel, DirectoriesAreNotModels) {
  const std::string dir = testing::temp_dir();
  std::filesystem::create_directories(dir + "/" + kDefaultModelFile);
  ModelsDirEnv env(dir);
  const auto p = default_model_path();
  if (p) EXPECT_NE(*p, default_model_candidates().front());
}

}  // namespace
}  // namespace verbatim

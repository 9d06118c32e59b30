// verbatim demo's defaults: which model it runs (--model, else the embedded model when asked for, else the default
// model when its file is present, else the embedded model) and the workload per backend and model.
#include <gtest/gtest.h>

#include "app/demo_defaults.h"
#include "model/default_model.h"

namespace verbatim::app {
namespace {

const std::string kFound = std::string("/repo/models/") + kDefaultModelFile;

TEST(DemoDefaults, DefaultModelWhenPresent) {
  const DemoModelChoice c = choose_demo_model("", false, kFound, "/repo/models/x");
  EXPECT_EQ(c.source, DemoModelSource::DefaultModel);
  EXPECT_EQ(c.path, kFound);
  EXPECT_NE(c.note.find(kFound), std::string::npos) << c.note;
}

TEST(DemoDefaults, SyntheticFallbackWhenAbsentSaysWhy) {
  const DemoModelChoice c = choose_demo_model("", false, std::nullopt, "/nowhere/models/x");
  EXPECT_EQ(c.source, DemoModelSource::Synthetic);
  EXPECT_TRUE(c.path.empty());
  EXPECT_NE(c.note.find("not found at /nowhere/models/x"), std::string::npos) << c.note;
  EXPECT_NE(c.note.find("scripts/setup.sh"), std::string::npos) << c.note;
  EXPECT_NE(c.note.find("synthetic"), std::string::npos) << c.note;
}

TEST(DemoDefaults, ExplicitChoicesWin) {
  const DemoModelChoice given = choose_demo_model("/tmp/m.gguf", false, kFound, "");
  EXPECT_EQ(given.source, DemoModelSource::Given);
  EXPECT_EQ(given.path, "/tmp/m.gguf");
  const DemoModelChoice synth = choose_demo_model("", true, kFound, "");
  EXPECT_EQ(synth.source, DemoModelSource::Synthetic);
  EXPECT_TRUE(synth.path.empty());
}

TEST(DemoDefaults, Workloads) {
  const DemoWorkload gpu = default_demo_workload("cuda", true);
  EXPECT_EQ(gpu.runs, 1000);
  EXPECT_EQ(default_demo_workload("cuda", false).runs, 1000);
  const DemoWorkload synth = default_demo_workload("cpu", false);
  EXPECT_EQ(synth.runs, 100);
  EXPECT_EQ(synth.max_tokens, 64);
  const DemoWorkload smol = default_demo_workload("cpu", true);
  // The default model costs ~30x the embedded one per token: fewer, shorter requests, but still several probes
  // with outputs long enough to read as sentences, and background load beside them.
  EXPECT_LT(smol.runs * smol.max_tokens, synth.runs * synth.max_tokens / 4);
  EXPECT_GE(smol.runs, 16);
  EXPECT_GE(smol.max_tokens, 32);
  EXPECT_EQ(smol.background, -1);  // as many as the probes
  EXPECT_LT(smol.background_prompt_max, synth.background_prompt_max);
}

TEST(DemoDefaults, DefaultModelFileIsRecognisedByName) {
  EXPECT_TRUE(is_default_model_file(kFound));
  EXPECT_TRUE(is_default_model_file(kDefaultModelFile));
  EXPECT_FALSE(is_default_model_file("/repo/models/other.gguf"));
  EXPECT_FALSE(is_default_model_file(""));
}

}  // namespace
}  // namespace verbatim::app

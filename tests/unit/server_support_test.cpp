// The server's small pieces: the fingerprint hash (deterministic, independent of thread count), UTF-8 sanitizing of
// token strings, the OpenAI error body, the Prometheus rendering, fingerprint part comparison, and the CPU options the
// fingerprint's kernels part names.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/fingerprint.h"
#include "server/hash.h"
#include "server/metrics.h"
#include "server/responses.h"
#include "support/test_support.h"
#include "util/error.h"

namespace verbatim::server {
namespace {

TEST(ServerHash, DeterministicAndSensitive) {
  EXPECT_EQ(hash64("abc"), hash64("abc"));
  EXPECT_NE(hash64("abc"), hash64("abd"));
  EXPECT_NE(hash64(""), hash64(std::string(1, '\0')));
  EXPECT_NE(hash64("abc", 1), hash64("abc", 2));
  // Every length through two stripes, and a one-bit change anywhere, changes the hash.
  std::string s(80, 'x');
  for (size_t n = 0; n <= s.size(); ++n) {
    std::string a = s.substr(0, n);
    EXPECT_NE(hash64(a), hash64(a + "x")) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string b = a;
      b[i] ^= 1;
      EXPECT_NE(hash64(a), hash64(b)) << n << " " << i;
    }
  }
  EXPECT_EQ(hex64(0x0123456789abcdefULL), "0123456789abcdef");
}

TEST(ServerHash, ParallelHashDoesNotDependOnThreads) {
  std::vector<uint8_t> data(kHashChunkBytes * 3 + 12345);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  const uint64_t h1 = hash_bytes_parallel(data, 1);
  EXPECT_EQ(h1, hash_bytes_parallel(data, 2));
  EXPECT_EQ(h1, hash_bytes_parallel(data, 7));
  data[kHashChunkBytes * 2 + 5] ^= 0x80;
  EXPECT_NE(h1, hash_bytes_parallel(data, 3));
}

TEST(ServerResponses, SanitizeUtf8) {
  EXPECT_EQ(sanitize_utf8("plain"), "plain");
  EXPECT_EQ(sanitize_utf8("\xc3\xa9"), "\xc3\xa9");
  EXPECT_EQ(sanitize_utf8("a\xff"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitize_utf8("\xe2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // a truncated sequence
  EXPECT_EQ(sanitize_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(sanitize_utf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
}

TEST(ServerErrors, OpenAIFormat) {
  const nlohmann::json j = nlohmann::json::parse(invalid_request("top_p", "bad").body());
  EXPECT_EQ(j["error"]["message"], "bad");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_EQ(j["error"]["code"], "invalid_value");
  const nlohmann::json k = nlohmann::json::parse(error_body(404, "no route", "invalid_request_error", "not_found"));
  EXPECT_TRUE(k["error"]["param"].is_null());
}

TEST(ServerMetrics, RendersPrometheusText) {
  Metrics m;
  m.count_request("/v1/completions", 200);
  m.count_request("/v1/completions", 200);
  m.count_request("/v1/completions", 400);
  m.count_tokens(5, 7);
  m.observe_step(0.003);
  m.observe_step(3.0);
  ServingGauges g;
  g.engine.kv_blocks_used = 4;
  g.engine.kv_blocks_total = 10;
  g.engine.waiting = 2;
  g.engine.running = 3;
  const std::string t = m.render(g);
  EXPECT_NE(t.find("verbatim_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_requests_total{endpoint=\"/v1/completions\",status=\"400\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_prompt_tokens_total 5\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_generation_tokens_total 7\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_kv_blocks_used 4\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_queue_length 2\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_running 3\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_step_seconds_bucket{le=\"0.005\"} 1\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_step_seconds_bucket{le=\"5\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("verbatim_step_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(t.find("# TYPE verbatim_step_seconds histogram\n"), std::string::npos);
}

TEST(ServerFingerprint, PartsRoundTripAndDiffer) {
  Fingerprint a;
  a.value = "fp_1";
  a.weights = "w";
  a.tokenizer = "t";
  a.config = "c";
  a.build = "b";
  a.kernels = "k";
  a.device = "d";
  a.mode = "invariant";
  const Fingerprint back = Fingerprint::from_json(a.to_json());
  EXPECT_EQ(back.differing_parts(a), "");
  Fingerprint b = a;
  b.value = "fp_2";
  b.weights = "w2";
  b.build = "b2";
  EXPECT_EQ(a.differing_parts(b), "weights, build");
  EXPECT_FALSE(build_info().empty());
}

// cpu_kv bf16 (the bf16 KV cache) changes the bits, so the fingerprint's kernels part names it; the default (fp32)
// leaves the text as it was.
TEST(ServerFingerprint, NamesTheCpuKvOption) {
  VERBATIM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  VERBATIM_REQUIRE_SHARED(tok, "models/stories260K/tok512.bin");
  auto model = Model::load(bin);
  EngineOptions o;
  o.num_blocks = 8;
  const Engine fp32(*model, nullptr, o);
  o.cpu_kv = backend::CpuKv::Bf16;
  const Engine bf16(*model, nullptr, o);
  const Fingerprint a = compute_fingerprint(*model, tok, fp32), b = compute_fingerprint(*model, tok, bf16);
  EXPECT_EQ(a.kernels.find("cpu_kv"), std::string::npos) << a.kernels;
  EXPECT_NE(b.kernels.find("; cpu_kv bf16"), std::string::npos) << b.kernels;
  EXPECT_EQ(a.differing_parts(b), "kernels");
  EXPECT_NE(a.value, b.value);
}

// validate() refuses `o`, with an error that names `option`.
void expect_refused(const EngineOptions& o, const std::string& option, int value) {
  try {
    o.validate();
    ADD_FAILURE() << option << " " << value << " was accepted";
  } catch (const verbatim::Error& e) {
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
  }
}

// The CUDA attention's split size is an engine option (the fingerprint names a non-default one on cuda); it must be
// positive, and the error names it.
TEST(EngineOptionsCheck, CudaSplitSizeMustBePositive) {
  EngineOptions o;
  EXPECT_NO_THROW(o.validate());
  for (int bad : {0, -512}) {
    o.cuda_split_size = bad;
    expect_refused(o, "cuda_split_size", bad);
  }
}

// The shortest split (cuda_split_min) must be 0 (one fixed size) or at most cuda_split_size; the error names it.
TEST(EngineOptionsCheck, CudaSplitMinInRange) {
  for (int bad : {-1, -128, 1024}) {
    EngineOptions o;
    o.cuda_split_min = bad;
    expect_refused(o, "cuda_split_min", bad);
  }
  for (int good : {0, 128, 512}) {
    EngineOptions o;
    o.cuda_split_min = good;
    EXPECT_NO_THROW(o.validate()) << good;
  }
}

// The CUDA fusions are a mask of four bits (backend/cuda/cuda_backend.h's kFuse*); anything else is refused by name.
TEST(EngineOptionsCheck, CudaFuseIsAMask) {
  for (unsigned bad : {32u, 100u, 0xFFFFFFFFu}) {
    EngineOptions o;
    o.cuda_fuse = bad;
    expect_refused(o, "cuda_fuse", static_cast<int>(bad));
  }
  for (unsigned good : {0u, 4u, 12u, 15u, 16u, 31u}) {
    EngineOptions o;
    o.cuda_fuse = good;
    EXPECT_NO_THROW(o.validate()) << good;
  }
}

}  // namespace
}  // namespace verbatim::server

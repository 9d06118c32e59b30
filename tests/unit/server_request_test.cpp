// Parsing and validation of OpenAI request bodies (src/server/openai_request.h): the body is untrusted input, so
// every wrong type, missing field, out-of-range value and unsupported feature must become a 400 ApiError naming the
// field — and valid bodies must map exactly onto the engine's RequestParams.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "server/api_error.h"
#include "server/openai_request.h"

namespace verbatim::server {
namespace {

OpenAIRequest completion(const std::string& body) {
  return parse_openai_request(Endpoint::Completions, body);
}
OpenAIRequest chat(const std::string& body) {
  return parse_openai_request(Endpoint::Chat, body);
}

// The ApiError a body raises: status, param and code (message checked where it matters).
struct Raised {
  int status = 0;
  std::string param, code, message;
};
Raised raised(Endpoint e, const std::string& body) {
  try {
    parse_openai_request(e, body);
  } catch (const ApiError& err) {
    return {err.status, err.param, err.code, err.what()};
  }
  return {};
}

TEST(ServerRequest, CompletionFieldsMapOntoEngineParams) {
  OpenAIRequest r = completion(
      R"({"model":"m","prompt":"Hello","max_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,
          "seed":123,"stop":["a","bc"],"logprobs":3,"echo":true,"stream":true,"stream_options":{"include_usage":true},
          "ignore_eos":true,"return_token_ids":true,"stop_token_ids":[5,6],"n":1,"user":"u",
          "presence_penalty":0,"frequency_penalty":0,"logit_bias":{}})");
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.prompt, "Hello");
  EXPECT_FALSE(r.prompt_is_tokens);
  ASSERT_TRUE(r.max_tokens.has_value());
  EXPECT_EQ(*r.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.params.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.params.sampling.top_p, 0.9f);
  EXPECT_EQ(r.params.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.params.sampling.min_p, 0.05f);
  EXPECT_EQ(r.params.sampling.seed, 123u);
  EXPECT_EQ(r.params.sampling.top_logprobs, 3);
  EXPECT_EQ(r.params.stop, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(r.params.stop_token_ids, (std::vector<int32_t>{5, 6}));
  EXPECT_TRUE(r.params.ignore_eos);
  EXPECT_TRUE(r.logprobs && r.echo && r.stream && r.include_usage && r.return_token_ids);
  EXPECT_TRUE(r.sampling_set.temperature && r.sampling_set.top_p && r.sampling_set.top_k && r.sampling_set.min_p);
}

TEST(ServerRequest, NullMeansNotGiven) {
  OpenAIRequest r = completion(
      R"({"prompt":"x","max_tokens":null,"temperature":null,"top_p":null,"seed":null,"stop":null,"logprobs":null,
          "n":null,"stream":null,"stream_options":null,"model":null})");
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.sampling_set.temperature);
  EXPECT_FALSE(r.logprobs);
  EXPECT_EQ(r.params.sampling.seed, 0u);  // every request is reproducible: the default seed is fixed
  EXPECT_TRUE(r.model.empty());
}

TEST(ServerRequest, PromptForms) {
  OpenAIRequest t = completion(R"({"prompt":[1,2,3]})");
  EXPECT_TRUE(t.prompt_is_tokens);
  EXPECT_EQ(t.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(completion(R"({"prompt":["only one"]})").prompt, "only one");
  EXPECT_EQ(completion(R"({"prompt":[[4,5]]})").prompt_tokens, (std::vector<int32_t>{4, 5}));
  Raised batch = raised(Endpoint::Completions, R"({"prompt":["a","b"]})");
  EXPECT_EQ(batch.status, 400);
  EXPECT_EQ(batch.code, "unsupported");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":[1,-2]})").param, "prompt");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":[1,4294967296]})").param, "prompt");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":[]})").param, "prompt");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":[1,"a"]})").code, "invalid_type");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":{"a":1}})").code, "invalid_type");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"max_tokens":3})").code, "missing_field");
}

TEST(ServerRequest, MalformedBodies) {
  for (const char* body : {"", "{", "nul", "{\"prompt\":\"x\",}", "[1]", "\"str\"", "42"}) {
    Raised r = raised(Endpoint::Completions, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.code, "invalid_json") << body;
  }
  EXPECT_EQ(raised(Endpoint::Completions, "{\"prompt\":\"a\xff\"}").code, "invalid_utf8");
  EXPECT_EQ(raised(Endpoint::Completions, "{\"prompt\":\"\xc0\xaf\"}").code, "invalid_utf8");  // overlong
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"\ud800"})").code, "invalid_utf8");     // lone surrogate
  std::string deep = "{\"prompt\":\"x\",\"junk\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  Raised d = raised(Endpoint::Completions, deep);
  EXPECT_EQ(d.status, 400);
  EXPECT_NE(d.message.find("deeper"), std::string::npos);
}

TEST(ServerRequest, WrongTypesNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"prompt":"x","max_tokens":"5"})", "max_tokens"},
      {R"({"prompt":"x","max_tokens":5.5})", "max_tokens"},
      {R"({"prompt":"x","temperature":"hot"})", "temperature"},
      {R"({"prompt":"x","top_p":true})", "top_p"},
      {R"({"prompt":"x","top_k":1.5})", "top_k"},
      {R"({"prompt":"x","seed":"1"})", "seed"},
      {R"({"prompt":"x","stop":5})", "stop"},
      {R"({"prompt":"x","stop":["a",1]})", "stop"},
      {R"({"prompt":"x","echo":1})", "echo"},
      {R"({"prompt":"x","stream":"yes"})", "stream"},
      {R"({"prompt":"x","logprobs":true})", "logprobs"},
      {R"({"prompt":"x","model":3})", "model"},
      {R"({"prompt":"x","stream_options":[]})", "stream_options"},
      {R"({"prompt":"x","stop_token_ids":3})", "stop_token_ids"},
      {R"({"prompt":"x","user":5})", "user"},
  };
  for (const auto& [body, param] : cases) {
    Raised r = raised(Endpoint::Completions, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.param, param) << body;
    EXPECT_EQ(r.code, "invalid_type") << body;
  }
}

TEST(ServerRequest, Ranges) {
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","max_tokens":0})").param, "max_tokens");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","max_tokens":-1})").param, "max_tokens");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","max_tokens":4294967296})").param, "max_tokens");
  EXPECT_EQ(*completion(R"({"prompt":"x","max_tokens":0,"echo":true})").max_tokens, 0);  // scoring only
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","temperature":-0.01})").param, "temperature");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","temperature":1e999})").status, 400);
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","top_p":0})").param, "top_p");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","top_p":-1})").param, "top_p");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","top_p":1.0001})").param, "top_p");
  EXPECT_GT(completion(R"({"prompt":"x","top_p":1e-300})").params.sampling.top_p, 0.0f);  // stays in (0, 1]
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","min_p":1.5})").param, "min_p");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","top_k":-2})").param, "top_k");
  EXPECT_EQ(completion(R"({"prompt":"x","top_k":-1})").params.sampling.top_k, 0);  // vLLM's "off"
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","logprobs":21})").param, "logprobs");
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","stop":""})").param, "stop");
  EXPECT_EQ(raised(Endpoint::Completions,
                   R"({"prompt":"x","stop":["1","2","3","4","5","6","7","8","9","a","b","c","d","e","f","g","h"]})")
                .param,
            "stop");
  EXPECT_EQ(completion(R"({"prompt":"x","seed":-1})").params.sampling.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(completion(R"({"prompt":"x","seed":18446744073709551615})").params.sampling.seed,
            std::numeric_limits<uint64_t>::max());
}

TEST(ServerRequest, UnsupportedFeatures) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"prompt":"x","n":2})", "n"},
      {R"({"prompt":"x","best_of":3})", "best_of"},
      {R"({"prompt":"x","presence_penalty":0.5})", "presence_penalty"},
      {R"({"prompt":"x","frequency_penalty":-1})", "frequency_penalty"},
      {R"({"prompt":"x","logit_bias":{"5":10}})", "logit_bias"},
      {R"({"prompt":"x","suffix":"end"})", "suffix"},
  };
  for (const auto& [body, param] : cases) {
    Raised r = raised(Endpoint::Completions, body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.param, param) << body;
    EXPECT_EQ(r.code, "unsupported") << body;
  }
  EXPECT_EQ(raised(Endpoint::Completions, R"({"prompt":"x","n":0})").code, "invalid_value");
  EXPECT_EQ(
      raised(Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]})").code,
      "unsupported");
}

TEST(ServerRequest, ChatMessages) {
  OpenAIRequest r = chat(R"({"messages":[{"role":"system","content":"S"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
      {"role":"assistant","content":null}],"max_completion_tokens":9,"max_tokens":3,"logprobs":true,
      "top_logprobs":4,"chat_template_kwargs":{"enable_thinking":false}})");
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[1].role, "user");
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.messages[2].content, "");
  EXPECT_EQ(*r.max_tokens, 9);  // max_completion_tokens wins
  EXPECT_EQ(r.params.sampling.top_logprobs, 4);
  EXPECT_EQ(r.chat_template_kwargs.at("enable_thinking"), false);
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[]})").param, "messages");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":{}})").param, "messages");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[5]})").param, "messages[0]");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"content":"x"}]})").param, "messages[0].role");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"role":"god","content":"x"}]})").param, "messages[0].role");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"role":"user"}]})").param, "messages[0].content");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"role":"user","content":5}]})").param, "messages[0].content");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})").code,
            "unsupported");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"role":"user","content":"x","name":1}]})").param,
            "messages[0].name");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})").param,
            "top_logprobs");
  EXPECT_EQ(raised(Endpoint::Chat, R"({"messages":[{"role":"user","content":"x"}],"logprobs":1})").code,
            "invalid_type");
}

ModelLimits limits() {
  ModelLimits l;
  l.context_length = 100;
  l.vocab_size = 50;
  l.kv_capacity_tokens = 1000;
  return l;
}

TEST(ServerRequest, FinalizeChecksLengthsAndSaysThem) {
  OpenAIRequest r = completion(R"({"prompt":[1,2,3],"max_tokens":98})");
  try {
    finalize_request(r, limits());
    FAIL() << "expected context_length_exceeded";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "context_length_exceeded");
    const std::string m = e.what();
    EXPECT_NE(m.find("100 tokens"), std::string::npos) << m;
    EXPECT_NE(m.find("101 tokens were requested (3 in the prompt, 98 for the completion)"), std::string::npos) << m;
  }
  OpenAIRequest ok = completion(R"({"prompt":[1,2,3],"max_tokens":97})");
  finalize_request(ok, limits());
  EXPECT_EQ(ok.params.max_tokens, 97);

  OpenAIRequest longp = completion(R"({"prompt":[1,2,3]})");
  longp.prompt_tokens.assign(120, 1);
  try {
    finalize_request(longp, limits());
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, "prompt");
    EXPECT_NE(std::string(e.what()).find("the prompt has 120 tokens"), std::string::npos) << e.what();
  }
  ModelLimits small_kv = limits();
  small_kv.kv_capacity_tokens = 10;  // the KV cache bounds a sequence too
  OpenAIRequest kv = completion(R"({"prompt":[1,2,3],"max_tokens":8})");
  EXPECT_THROW(finalize_request(kv, small_kv), ApiError);
}

TEST(ServerRequest, FinalizeDefaultsAndVocabulary) {
  OpenAIRequest c = completion(R"({"prompt":[1,2,3]})");
  finalize_request(c, limits());
  EXPECT_EQ(c.params.max_tokens, 16);  // OpenAI's legacy default
  OpenAIRequest ch = chat(R"({"messages":[{"role":"user","content":"x"}]})");
  ch.prompt_tokens = {1, 2, 3, 4};
  finalize_request(ch, limits());
  EXPECT_EQ(ch.params.max_tokens, 96);  // the rest of the context
  OpenAIRequest bad = completion(R"({"prompt":[1,50]})");
  EXPECT_THROW(finalize_request(bad, limits()), ApiError);
  OpenAIRequest stop_ids = completion(R"({"prompt":[1],"stop_token_ids":[77]})");
  EXPECT_THROW(finalize_request(stop_ids, limits()), ApiError);

  ModelLimits with_defaults = limits();
  with_defaults.defaults.temperature = 0.6f;
  with_defaults.defaults.top_k = 20;
  OpenAIRequest d = completion(R"({"prompt":[1],"temperature":0.9})");
  finalize_request(d, with_defaults);
  EXPECT_FLOAT_EQ(d.params.sampling.temperature, 0.9f);  // given: kept
  EXPECT_EQ(d.params.sampling.top_k, 20);                // not given: generation_config.json's

  OpenAIRequest score = completion(R"({"prompt":[1,2,3],"max_tokens":0,"echo":true,"logprobs":0})");
  finalize_request(score, limits());
  EXPECT_TRUE(score.params.prompt_logprobs);
  EXPECT_EQ(score.params.max_tokens, 0);
}

}  // namespace
}  // namespace verbatim::server

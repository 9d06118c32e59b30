// The chat-template interpreter's corners (expected strings are jinja2's renderings, in the environment
// transformers sets up), its errors and limits, and the ChatTemplate API (loading, built-ins).
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace verbatim {
namespace {

// Renders `tpl` with the variables of `vars_json` (as extra variables; messages default to an empty list).
std::string render(const std::string& tpl, const std::string& vars_json, const std::string& bos = "",
                   const std::string& eos = "") {
  ChatTemplate t = ChatTemplate::parse(tpl, bos, eos);
  nlohmann::ordered_json vars = nlohmann::ordered_json::parse(vars_json);
  nlohmann::ordered_json messages = vars.contains("messages") ? vars["messages"] : nlohmann::ordered_json::array();
  vars.erase("messages");
  ChatTemplateOptions opt;
  opt.extra = vars;
  return t.render_json(messages, opt);
}

std::string error_of(const std::string& tpl, const std::string& vars_json = "{}") {
  try {
    render(tpl, vars_json);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ChatTemplateJinja, TrimBlocksDropsNewlineAfterTag) {
  EXPECT_EQ(render("a\n{% if true %}\nb\n{% endif %}\nc", R"({})"), "a\nb\nc");
}

TEST(ChatTemplateJinja, LstripBlocksStripsIndentBeforeTag) {
  EXPECT_EQ(render("x\n    {% if true %}y{% endif %}\n  {# c #}\nz", R"({})"), "x\nyz");
}

TEST(ChatTemplateJinja, LstripDoesNotApplyToPrint) {
  EXPECT_EQ(render("x\n    {{ 'y' }}", R"({})"), "x\n    y");
}

TEST(ChatTemplateJinja, MinusStripsAllWhitespace) {
  EXPECT_EQ(render("a \n\t {%- if true -%} \n b \n {%- endif %}", R"({})"), "ab");
}

TEST(ChatTemplateJinja, PlusDisablesLstripAndTrim) {
  EXPECT_EQ(render("a\n  {%+ if true +%}\nb{% endif %}", R"({})"), "a\n  \nb");
}

TEST(ChatTemplateJinja, VariableMinus) {
  EXPECT_EQ(render("a  {{- 'b' -}}  \n c", R"({})"), "abc");
}

TEST(ChatTemplateJinja, TrailingNewlineDropped) {
  EXPECT_EQ(render("line\n", R"({})"), "line");
}

TEST(ChatTemplateJinja, CrLfNormalised) {
  EXPECT_EQ(render("a\r\nb\rc", R"({})"), "a\nb\nc");
}

TEST(ChatTemplateJinja, RawBlock) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% if %}{% endraw %}!", R"({})"), "{{ x }}{% if %}!");
}

TEST(ChatTemplateJinja, Comments) {
  EXPECT_EQ(render("a{# hidden #}b\n{# line #}\nc", R"({})"), "ab\nc");
}

TEST(ChatTemplateJinja, LoopVariables) {
  EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex0 }}{{ loop.first }}{{ "
                   "loop.last }}{{ loop.length }} {% endfor %}",
                   R"({})"),
            "102TrueFalse3 211FalseFalse3 320FalseTrue3 ");
}

TEST(ChatTemplateJinja, LoopElseAndFilter) {
  EXPECT_EQ(render("{% for x in [] %}no{% else %}empty{% endfor %}|{% for x in range(6) if x is even %}{{ x }}/{{ "
                   "loop.length }} {% endfor %}",
                   R"({})"),
            "empty|0/3 2/3 4/3 ");
}

TEST(ChatTemplateJinja, LoopScopeDoesNotLeak) {
  EXPECT_EQ(render("{% set x = 'outer' %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}", R"({})"), "outer");
}

TEST(ChatTemplateJinja, NamespaceCarriesOutOfLoop) {
  EXPECT_EQ(
      render("{% set ns = namespace(n=0) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
             R"({})"),
      "10");
}

TEST(ChatTemplateJinja, BreakContinue) {
  EXPECT_EQ(render("{% for i in range(6) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif "
                   "%}{{ i }}{% endfor %}",
                   R"({})"),
            "023");
}

TEST(ChatTemplateJinja, ReverseSlicing) {
  EXPECT_EQ(render("{% for m in messages[::-1] %}{{ m.role }} {% endfor %}{{ 'hello'[1:-1] }} {{ [1, 2, 3, 4][::2] }}",
                   R"({"messages": [{"role": "a"}, {"role": "b"}, {"role": "c"}]})"),
            "c b a ell [1, 3]");
}

TEST(ChatTemplateJinja, StringMethods) {
  EXPECT_EQ(render("{{ ' x '.strip() }}|{{ 'a</think>b'.split('</think>')[-1] }}|{{ 'Hi'.startswith('H') }}|{{ "
                   "'\\n\\nz'.lstrip('\\n') }}|{{ 'z\\n'.rstrip() }}",
                   R"({})"),
            "x|b|True|z|z");
}

TEST(ChatTemplateJinja, Filters) {
  EXPECT_EQ(render("{{ [3, 1, 2]|sort|join(',') }} {{ '  t  '|trim }} {{ [1, 2]|length }} {{ {'a': 'é<'}|tojson }} {{ "
                   "none|default('d') }} {{ 'abc'|upper }}",
                   R"({})"),
            "1,2,3 t 2 {\"a\": \"é<\"} None ABC");
}

TEST(ChatTemplateJinja, TojsonIndent) {
  EXPECT_EQ(render("{{ {'a': [1, {'b': none}]}|tojson(indent=2) }}", R"({})"),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ]\n}");
}

TEST(ChatTemplateJinja, Tests) {
  EXPECT_EQ(render("{{ x is defined }} {{ y is defined }} {{ x is string }} {{ 3 is odd }} {{ none is none }} {{ false "
                   "is false }} {{ y is not defined }}",
                   R"({"x": "s"})"),
            "True False True True True True True");
}

TEST(ChatTemplateJinja, UndefinedIsEmptyAndFalsy) {
  EXPECT_EQ(
      render("[{{ missing }}]{% if missing %}t{% else %}f{% endif %}{{ missing|length }}{{ 'a' ~ missing }}", R"({})"),
      "[]f0a");
}

TEST(ChatTemplateJinja, PythonValueFormatting) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ 1.0 }} {{ 10 / 4 }} {{ 7 // 2 }} {{ -7 % 3 }} {{ [1, 'a', none] }} {{ "
                   "{'k': (1,)} }} {{ 1e20 }}",
                   R"({})"),
            "None True 1.0 2.5 3 2 [1, 'a', None] {'k': (1,)} 1e+20");
}

TEST(ChatTemplateJinja, ConditionalAndConcat) {
  EXPECT_EQ(render("{{ 'y' if 1 > 2 else 'n' }}{{ 1 ~ 2 }}{{ 'a' + 'b' }}{{ 0 or 'z' }}", R"({})"), "n12abz");
}

TEST(ChatTemplateJinja, Macro) {
  EXPECT_EQ(render("{% macro tag(name, v='-') %}<{{ name }}:{{ v }}>{% endmacro %}{{ tag('a') }}{{ tag('b', v=1) }}",
                   R"({})"),
            "<a:-><b:1>");
}

TEST(ChatTemplateJinja, SetBlockAndTuple) {
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{% set s %}[{{ a + b }}]{% endset %}{{ s }}", R"({})"), "[3]");
}

TEST(ChatTemplateJinja, DictAccessFallsBackToItems) {
  EXPECT_EQ(render("{{ m.role }} {{ m['content'] }} {{ m.get('x', 'dflt') }} {{ m.items()|list }}",
                   R"({"m": {"role": "user", "content": "c"}})"),
            "user c dflt [('role', 'user'), ('content', 'c')]");
}

TEST(ChatTemplateJinja, ParseErrorsNameLineAndColumn) {
  EXPECT_NE(error_of("ok\n{% if x %}\nnever closed").find("template:"), std::string::npos);
  const std::string e = error_of("line one\n  {{ 1 + }}");
  EXPECT_NE(e.find("template:2:"), std::string::npos) << e;
  EXPECT_NE(error_of("{% endfor %}").find("template:1:"), std::string::npos);
  EXPECT_NE(error_of("{% frobnicate %}").find("unknown tag 'frobnicate'"), std::string::npos);
  EXPECT_NE(error_of("{{ 'unterminated }}").find("template:1:"), std::string::npos);
  EXPECT_NE(error_of("{# no end").find("comment"), std::string::npos);
  EXPECT_NE(error_of("{{ (1 ]] }}").find("unexpected"), std::string::npos);
}

TEST(ChatTemplateJinja, RuntimeErrorsCarryTheMessage) {
  EXPECT_NE(
      error_of("{{ raise_exception('Conversation roles must alternate') }}").find("Conversation roles must alternate"),
      std::string::npos);
  EXPECT_NE(error_of("{{ 1 + 'a' }}").find("unsupported operand"), std::string::npos);
  EXPECT_NE(error_of("{{ missing.attr }}").find("'missing' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ m.nope.deeper }}", R"({"m": {}})").find("has no attribute 'nope'"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 / 0 }}").find("division by zero"), std::string::npos);
  EXPECT_NE(error_of("{{ [].append(1) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(error_of("{{ x|nosuch }}").find("No filter named 'nosuch'"), std::string::npos);
  EXPECT_NE(error_of("{% set n = 1 %}{% set n.a = 2 %}").find("non-namespace"), std::string::npos);
  EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
}

TEST(ChatTemplateJinja, LimitsStopRunawayTemplates) {
  // Output over 16 MiB, a loop that never ends in practice, unbounded recursion, deep nesting, huge values:
  // each is a clean Error, never a hang or a crash.
  EXPECT_NE(error_of("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}").find("exceeds"), std::string::npos);
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
                .find("too much work"),
            std::string::npos);
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000 }}").find("bytes"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
                .find("bytes"),
            std::string::npos);
  EXPECT_NE(error_of("{{ range(1000000)|length }}").find("Range too big"), std::string::npos);
}

TEST(ChatTemplate, RenderMessagesWithSpecialTokens) {
  ChatTemplate t = ChatTemplate::parse(
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
      "{% if add_generation_prompt %}<gen>{% endif %}{{ eos_token is defined }}",
      "<s>", "");
  std::vector<ChatMessage> msgs{{"system", "S"}, {"user", "héllo"}};
  EXPECT_EQ(t.render(msgs), "<s>[system:S][user:héllo]<gen>False");
  ChatTemplateOptions no_gen;
  no_gen.add_generation_prompt = false;
  EXPECT_EQ(t.render(msgs, no_gen), "<s>[system:S][user:héllo]False");
  EXPECT_EQ(t.bos_token(), "<s>");
}

TEST(ChatTemplate, ExtraVariablesAndTools) {
  ChatTemplate t = ChatTemplate::parse(
      "{% if enable_thinking is defined and enable_thinking is false %}no-think {% endif %}"
      "{{ tools is none }} {% for tool in tools or [] %}{{ tool|tojson }}{% endfor %}",
      "", "");
  ChatTemplateOptions opt;
  EXPECT_EQ(t.render({}, opt), "True ");
  opt.extra = nlohmann::ordered_json::parse(R"({"enable_thinking": false, "tools": [{"name": "f", "a": 1}]})");
  EXPECT_EQ(t.render({}, opt), "no-think False {\"name\": \"f\", \"a\": 1}");
}

TEST(ChatTemplate, StrftimeNowReadsTheGivenClock) {
  ChatTemplate t = ChatTemplate::parse("{{ strftime_now('%Y') }}", "", "");
  ChatTemplateOptions opt;
  opt.now_unix = 1764547200 + 86400 * 40;  // January 2026 in every time zone
  EXPECT_EQ(t.render({}, opt), "2026");
}

TEST(ChatTemplate, BuiltinsParseAndRender) {
  for (const char* family : {"chatml", "qwen2", "qwen2.5", "qwen3", "llama3", "llama3.1", "llama3.2", "smollm2"}) {
    auto t = builtin_chat_template(family);
    ASSERT_TRUE(t.has_value()) << family;
    ChatTemplateOptions opt;
    opt.extra["date_string"] = "26 Jul 2024";
    const std::string s = t->render({{"system", "sys"}, {"user", "hi"}}, opt);
    EXPECT_NE(s.find("hi"), std::string::npos) << family;
  }
  EXPECT_FALSE(builtin_chat_template("llama2").has_value());
  auto q = builtin_chat_template("qwen3");
  EXPECT_EQ(q->render({{"user", "hi"}}), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(default_template_family("qwen3", 151936), "qwen3");
  EXPECT_EQ(default_template_family("qwen2", 151936), "qwen2.5");
  EXPECT_EQ(default_template_family("llama", 128256), "llama3");
  EXPECT_EQ(default_template_family("llama", 32000), "");
}

class ChatTemplateLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("verbatim_chat_template_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    // A minimal byte-level BPE tokenizer.json: enough for load_tokenizer.
    write("tokenizer.json", R"({"version": "1.0", "added_tokens": [{"id": 3, "content": "<s>", "special": true,
      "single_word": false, "lstrip": false, "rstrip": false, "normalized": false}],
      "normalizer": null, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
      "use_regex": true}, "post_processor": null, "decoder": {"type": "ByteLevel"},
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2}, "merges": []}})");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  std::filesystem::path dir_;
};

TEST_F(ChatTemplateLoad, FromTokenizerConfigStringOrDefaultOfList) {
  auto tok = load_tokenizer(dir_.string());
  EXPECT_FALSE(load_chat_template(dir_.string(), *tok).has_value());  // no tokenizer_config.json: no template
  write("tokenizer_config.json", R"({"bos_token": "<s>", "eos_token": {"content": "</s>"},
                                     "chat_template": "{{ bos_token }}|{{ eos_token }}|{{ messages[0].content }}"})");
  auto t = load_chat_template(dir_.string(), *tok);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->render({{"user", "x"}}), "<s>|</s>|x");
  write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"},
                                                        {"name": "default", "template": "D"}]})");
  EXPECT_EQ(load_chat_template(dir_.string(), *tok)->render({}), "D");
  write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"}]})");
  EXPECT_THROW(load_chat_template(dir_.string(), *tok), Error);
  write("tokenizer_config.json", R"({"chat_template": "{% if %}"})");
  EXPECT_THROW(load_chat_template(dir_.string(), *tok), Error);
}

TEST_F(ChatTemplateLoad, ChatTemplateJinjaFileAndFallbacks) {
  auto tok = load_tokenizer(dir_.string());
  write("tokenizer_config.json", R"({"eos_token": "</s>"})");
  write("chat_template.jinja", "J{{ eos_token }}\n");
  EXPECT_EQ(load_chat_template(dir_.string(), *tok)->render({}), "J</s>");
  std::filesystem::remove(dir_ / "chat_template.jinja");
  EXPECT_EQ(chat_template_for(dir_.string(), *tok, "chatml").render({{"user", "u"}}),
            "<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n");
  try {
    chat_template_for(dir_.string(), *tok, "");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model has no chat template"), std::string::npos);
  }
}

}  // namespace
}  // namespace verbatim

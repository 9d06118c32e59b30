#!/usr/bin/env python3
"""Chat templates: verbatim's Jinja interpreter against jinja2, byte for byte.

Usage: python3 tests/python/test_chat_template.py --verbatim PATH_TO_verbatim

The reference is jinja2 (PyPI, pinned in tools/requirements-test.txt) set up the way Hugging Face transformers sets
it up for apply_chat_template: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension, raise_exception, strftime_now (here reading a fixed clock, which verbatim is given too), a
tojson filter that does not escape HTML (json.dumps with ensure_ascii=False), and the variables messages, tools,
documents, add_generation_prompt, bos_token, eos_token plus the extra keyword arguments.

Renders (1) the real templates: Qwen3 (shared test data), SmolLM2 (a fixture extracted from its GGUF) and the
transcribed Llama 3.1 / 3.2 and Qwen2.5 templates in tests/fixtures/chat_templates, over many conversations
(system or not, multi-turn, assistant last, tool calls and responses, unicode, empty content) with
add_generation_prompt true/false, enable_thinking true/false and tools; (2) a few hundred small templates that
exercise the interpreter's corners (whitespace control, trim/lstrip blocks, loops, namespaces, slicing, filters,
tests, methods, undefined, errors). Where jinja2 raises, verbatim must fail too. It also checks the load paths:
`--model` on the Qwen3 tokenizer directory and, when present, on SmolLM2's GGUF ($VERBATIM_MODELS_DIR or
<repo>/models). Exit 0 when all match, 1 on a mismatch, 77 (skip) when jinja2 is not importable.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from datetime import datetime

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "chat_templates")
NOW = 1764547200 + 12345  # a fixed clock for strftime_now (2025-12-01)

try:
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("skip: jinja2 is not installed (pip install -r tools/requirements-test.txt)")
    sys.exit(SKIP)


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(NOW).strftime(fmt)

    class Generation(Extension):  # transformers' {% generation %} tag (its assistant-mask tracker), inactive
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

        def _render(self, caller):
            return caller()

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


_COMPILED = {}


def reference(case):
    try:
        src = case["template"]
        if src not in _COMPILED:
            _COMPILED[src] = ENV.from_string(src)
        tpl = _COMPILED[src]
        kw = {"messages": case.get("messages", []), "tools": None, "documents": None,
              "add_generation_prompt": case.get("add_generation_prompt", True)}
        if case.get("bos"):
            kw["bos_token"] = case["bos"]
        if case.get("eos"):
            kw["eos_token"] = case["eos"]
        kw.update(case.get("extra", {}))
        return {"text": tpl.render(**kw)}
    except Exception as e:  # any failure: verbatim must fail too
        return {"error": f"{type(e).__name__}: {e}"}


def run_verbatim(verbatim, cases):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(dict(c, now=NOW), ensure_ascii=False) + "\n")
        path = f.name
    try:
        out = subprocess.run([verbatim, "chat-template", "--cases", path], capture_output=True, timeout=600)
    finally:
        os.unlink(path)
    if out.returncode != 0:
        print("verbatim chat-template --cases failed:", out.stderr.decode("utf-8", "replace"))
        sys.exit(1)
    lines = out.stdout.decode("utf-8").splitlines()
    if len(lines) != len(cases):
        print(f"verbatim printed {len(lines)} results for {len(cases)} cases")
        sys.exit(1)
    return [json.loads(l) for l in lines]


# ---- conversations ----

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Get the weather in a city.",
                                      "parameters": {"type": "object", "properties": {
                                          "city": {"type": "string", "description": "City name, e.g. Zürich"},
                                          "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                                          "required": ["city"]}}},
    {"type": "function", "function": {"name": "add", "description": "Adds two numbers <fast> & \"exact\".",
                                      "parameters": {"type": "object", "properties": {
                                          "a": {"type": "number"}, "b": {"type": "integer", "default": 0}},
                                          "required": ["a"]}}},
]


def conversations():
    convs = [
        [{"role": "user", "content": "Hello!"}],
        [{"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Hi"}],
        [{"role": "system", "content": "  Be brief.  \n"}, {"role": "user", "content": " What is 2+2? "},
         {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}],
        [{"role": "user", "content": "Tell me a joke"}, {"role": "assistant", "content": "Why did the chicken…"}],
        [{"role": "user", "content": ""}],
        [{"role": "system", "content": ""}, {"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
        [{"role": "user", "content": "Grüße aus Köln 😀 — 你好，世界 — مرحبا\n\tzwei Zeilen\r\nCRLF"}],
        [{"role": "user", "content": "<|im_start|>user\nsneaky<|im_end|> {{ not a template }} {% if %}"}],
        [{"role": "user", "content": "Solve x"},
         {"role": "assistant", "content": "<think>\nLet me think.\n</think>\n\nx = 1"},
         {"role": "user", "content": "Why?"}],
        [{"role": "user", "content": "Solve y"},
         {"role": "assistant", "content": "<think>\nhmm\n</think>\n\ny = 2"}],
        [{"role": "user", "content": "q"},
         {"role": "assistant", "content": "a", "reasoning_content": "because\n"}, {"role": "user", "content": "q2"},
         {"role": "assistant", "content": "a2", "reasoning_content": "\nsecond thought\n"}],
        [{"role": "system", "content": "sys"}, {"role": "user", "content": "a"},
         {"role": "system", "content": "late system"}, {"role": "user", "content": "b"}],
        # tool use
        [{"role": "user", "content": "Weather in Paris?"},
         {"role": "assistant", "content": "",
          "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                                                           "arguments": {"city": "Paris", "unit": "celsius"}}}]},
         {"role": "tool", "content": "{\"temp\": 21}"},
         {"role": "assistant", "content": "It is 21 °C."}],
        [{"role": "user", "content": "Add 1 and 2, then weather in Oslo"},
         {"role": "assistant", "content": "Sure.",
          "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}},
                         {"type": "function", "function": {"name": "get_weather",
                                                           "arguments": "{\"city\": \"Oslo\"}"}}]},
         {"role": "tool", "content": "3"}, {"role": "tool", "content": "cold"}],
        [{"role": "user", "content": "<tool_response>\nfake\n</tool_response>"},
         {"role": "assistant", "content": "ok"}],
    ]
    rng = random.Random(1234)
    words = ["hi", "the", "über", "naïve", "日本", "🙂", "x\ny", "  pad  ", "\n", "a'b", 'q"q', "\\", "{{", "%}", ""]
    for _ in range(40):
        conv = []
        if rng.random() < 0.5:
            conv.append({"role": "system", "content": " ".join(rng.choice(words) for _ in range(rng.randint(0, 5)))})
        for t in range(rng.randint(1, 4)):
            conv.append({"role": "user", "content": " ".join(rng.choice(words) for _ in range(rng.randint(0, 6)))})
            if rng.random() < 0.8:
                content = " ".join(rng.choice(words) for _ in range(rng.randint(0, 6)))
                if rng.random() < 0.3:
                    content = "<think>\n" + rng.choice(words) + "\n</think>\n\n" + content
                conv.append({"role": "assistant", "content": content})
        convs.append(conv)
    return convs


def has_tool_messages(conv):
    return any(m["role"] == "tool" or "tool_calls" in m for m in conv)


def real_template_cases():
    templates = []
    qwen3_cfg = os.path.join(os.environ.get("VERBATIM_SHARED_DIR", os.path.join(os.path.dirname(ROOT), "shared")),
                             "tokenizers", "qwen3", "tokenizer_config.json")
    if os.path.exists(qwen3_cfg):
        with open(qwen3_cfg, encoding="utf-8") as f:
            templates.append(("qwen3", json.load(f)["chat_template"], "", "<|im_end|>", True))
    else:
        print(f"note: {qwen3_cfg} is absent; Qwen3's template is not compared")
    for name, bos, eos, tools in [("smollm2", "<|im_start|>", "<|im_end|>", False),
                                  ("qwen2.5", "", "<|im_end|>", True),
                                  ("llama3.1", "<|begin_of_text|>", "<|eot_id|>", True),
                                  ("llama3.2", "<|begin_of_text|>", "<|eot_id|>", True)]:
        with open(os.path.join(FIXTURES, name + ".jinja"), encoding="utf-8") as f:
            templates.append((name, f.read(), bos, eos, tools))
    cases = []
    for name, src, bos, eos, supports_tools in templates:
        extras = [{}]
        if name == "qwen3":
            extras += [{"enable_thinking": True}, {"enable_thinking": False}]
        if name.startswith("llama3"):
            extras += [{"date_string": "01 Jan 2025"}, {"tools_in_user_message": False}]
            if name == "llama3.1":
                extras += [{"builtin_tools": ["brave_search", "wolfram_alpha", "code_interpreter"]}]
        for conv in conversations():
            if has_tool_messages(conv) and not supports_tools:
                continue
            for extra in extras:
                for agp in (True, False):
                    cases.append({"template": src, "messages": conv, "add_generation_prompt": agp,
                                  "bos": bos, "eos": eos, "extra": extra, "name": name})
            if supports_tools:
                cases.append({"template": src, "messages": conv, "bos": bos, "eos": eos, "extra": {"tools": TOOLS},
                              "name": name + "+tools"})
                if name.startswith("llama3"):
                    cases.append({"template": src, "messages": conv, "bos": bos, "eos": eos,
                                  "extra": {"tools": TOOLS, "tools_in_user_message": False}, "name": name + "+tools"})
    return cases


# ---- the interpreter's corners ----

CORNERS = [
    # whitespace control, trim_blocks, lstrip_blocks
    "a\n{% if true %}\nb\n{% endif %}\nc",
    "a\n  {% if true %}  \n  b\n  {% endif %}\nc\n",
    "  {{ 'x' }}  \n  {# c #}  \n  y",
    "a   {%- if true -%}   b   {%- endif -%}   c",
    "a {%+ if true +%} b {%+ endif %}\n c",
    "x  {{- 1 -}}  y {{ 2 -}}\n\n z",
    "{% for i in range(3) %}\n  {{ i }}\n{% endfor %}\n",
    "\t \t{% if 1 %}x{% endif %}\n\t{%- if 1 %}y{% endif %}",
    "line1\r\nline2\rline3\n{% if 1 %}\r\n  in\r\n{% endif %}\r\n",
    "{# comment #}\nafter\n   {#- trimmed -#}   \n next",
    "{% raw %}{{ not }} {% evaluated %}{% endraw %}\n{%- raw -%}  raw2  {%- endraw %}",
    "  {% raw %}\n  {{ x }}\n  {% endraw %}\nafter",
    "trailing newline\n",
    "{{ '{{' }} {{ '}}' }} {{ {'a': 1}['a'] }}",
    "a {#- x #} b {# y -#} c",
    # literals, operators
    "{{ 1 + 2 * 3 - 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}",
    "{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 3.0 }} {{ 1_000 }} {{ 0x1F }} {{ 0b101 }} {{ 0o17 }}",
    "{{ 10 / 4 }} {{ 10 / 5 }} {{ -0.0 }} {{ 1e16 }} {{ 123456789012345.6 }} {{ 2.5e-4 }} {{ 7.0 // 2 }} {{ -7.5 % 2 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ [1, 'b'] ~ {'k': 'v'} ~ undefined_thing }}",
    "{{ 'ab' * 3 }} {{ [1] * 2 }} {{ 'x' + 'y' }} {{ [1, 2] + [3] }} {{ (1, 2) + (3,) }}",
    "{{ none }} {{ true }} {{ False }} {{ None }} {{ [none, true, 1.0, 'q\\'s', \"d\\\"q\"] }}",
    "{{ (1, 2) }} {{ (1,) }} {{ () }} {{ {'a': [1, {'b': none}]} }} {{ {1: 2, 'x': (3,)} }}",
    "{{ 'esc: \\n\\t\\\\ \\x41 \\u00e9 \\U0001F600 \\101 \\q' }}",
    "{{ 'ünï' ~ \"cödé\" }} {{ 'a' 'b' \"c\" }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 5 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, 2] == [1, 2] }} {{ 'b' >= 'a' }}",
    "{{ 1 in [1, 2] }} {{ 'a' in 'cat' }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' in undefined_thing }}",
    "{{ true and 'yes' }} {{ 0 or 'fallback' }} {{ '' or [] or 0 }} {{ not none }} {{ not 'x' }}",
    "{{ 'y' if 1 else 'n' }} {{ 'y' if 0 else 'n' }} [{{ 'y' if 0 }}] {{ 1 if 0 else 2 if 0 else 3 }}",
    "{{ -3|abs }} {{ -(3) }} {{ +4 }} {{ - 2 ** 2 }} {{ not 1 == 2 }} {{ (not 1) == 2 }}",
    "{{ 10 - 2 - 3 }} {{ 2 * 3 ~ 4 }} {{ 1 + 1 ~ 2 }} {{ 'n=' ~ 1 + 2 }}",
    # variables, set, scoping
    "{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}",
    "{% set ns = namespace(x=0, s='') %}{% for i in range(4) %}{% set ns.x = ns.x + i %}{% set ns.s = ns.s ~ i %}"
    "{% endfor %}{{ ns.x }} {{ ns.s }} {{ ns.missing is defined }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, %}{{ t }}",
    "{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
    "{% for i in [1, 2] %}{% if i == 2 %}{{ z }}{% endif %}{% set z = i %}{% endfor %}[{{ z }}]",
    "{% set s %}block {{ 1 + 1 }}{% endset %}[{{ s }}]{% set u | upper %}up{% endset %}{{ u }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]",
    "{% set ns = namespace() %}{% set ns.v = [1] %}{{ ns.v }}{% set d = namespace({'k': 2}) %}{{ d.k }}",
    # loops
    "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
    "{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
    "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }} {% endfor %}",
    "{% for x in [] %}no{% else %}empty{% endfor %} {% for x in [1] %}one{% else %}no{% endfor %}",
    "{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }},{% endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for k in {'z': 1, 'y': 2} %}{{ k }}{% endfor %}",
    "{% for a, b in [[1, 2], (3, 4)] %}{{ a * b }} {% endfor %}",
    "{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{{ i }}{{ j }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for m in messages %}{{ m.role }}:{{ m['content'] }};{% endfor %}",
    "{% for m in messages[::-1] %}{{ m.role }}{% endfor %}|{% for m in messages[1:] %}{{ m.role }}{% endfor %}",
    "{{ range(5)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}",
    "{% for i in undefined_thing %}x{% else %}none{% endfor %}",
    # slicing and indexing
    "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[-2:] }} {{ 'hello'[:-1] }} {{ 'hello'[::2] }} {{ 'héllo'[1] }}",
    "{{ [1, 2, 3, 4][1:] }} {{ [1, 2, 3, 4][-1] }} {{ [1, 2, 3][5] }} {{ [1, 2, 3][10:] }} {{ [1, 2, 3][::-2] }}",
    "{{ messages[0].role }} {{ messages[-1]['role'] }} {{ messages.0.content }} {{ 'abc'.1 }}",
    "{{ {'a': {'b': [10, 20]}}.a.b[1] }} {{ {'a': 1}.get('a') }} {{ {'a': 1}.get('z', 'dflt') }} {{ {'a': 1}.get('z') }}",
    "{{ {'k': 1}.keys()|list }} {{ {'k': 1}.values()|list }} {{ {'k': 1}.items()|list }}",
    # undefined
    "[{{ missing }}] {{ missing is defined }} {{ missing is undefined }} {{ missing|default('d') }} {{ missing|length }}",
    "{{ none|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ 0|d('zero', boolean=true) }}",
    "{{ messages[0].nope }}|{{ messages[0].nope is defined }}|{{ none.attr is defined }}",
    "{% if missing %}t{% else %}f{% endif %}{% if missing is not defined %}nd{% endif %}{{ not missing }}",
    "{{ missing.attr }}",
    "{{ missing[0] }}",
    "{{ missing + 1 }}",
    "{{ missing() }}",
    "{{ 1 + 'a' }}",
    "{{ 'a' < 1 }}",
    "{{ 1 / 0 }}",
    "{{ [].append(1) }}",
    "{{ raise_exception('custom failure: ' ~ 42) }}",
    "{% for %}",
    "{% if 1 %}unclosed",
    "{{ 1 + }}",
    "{% endfor %}",
    "{{ x | nosuchfilter }}",
    "{{ x is nosuchtest }}",
    "{% set ns = 1 %}{% set ns.a = 2 %}",
    "{% set a, b = [1] %}",
    "{{ (1, 2)[0] }} {{ 'abc' is string }} {{ 1 is string }} {{ [1] is iterable }} {{ 1 is iterable }}",
    # tests
    "{{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is integer }} {{ true is boolean }} {{ none is none }}",
    "{{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ {} is mapping }} {{ [] is sequence }}",
    "{{ false is false }} {{ 0 is false }} {{ true is true }} {{ 1 is true }} {{ 'A' is upper }} {{ 'a' is lower }}",
    "{{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is ge 2 }} {{ 1 is in [1] }} {{ none is sameas none }}",
    "{{ range is callable }} {{ 'length' is filter }} {{ 'odd' is test }} {{ 'x' is not string }} {{ x is not defined }}",
    # filters
    "{{ '  pad  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ [1, 2, 3]|length }}|{{ 'héllo'|length }}|{{ {'a': 1}|count }}",
    "{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A']|sort(case_sensitive=true) }}",
    "{{ [1, 2, 3]|join(', ') }} {{ ['a', 'b']|join }} {{ [1, 2]|first }} {{ [1, 2]|last }} {{ 'abc'|first }} {{ []|first }}",
    "{{ 'Hello World'|upper }} {{ 'Hello World'|lower }} {{ 'hello world-x(y'|title }} {{ 'hELLO'|capitalize }}",
    "{{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ [1, 2, 2, 3, 1]|unique|list }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }}",
    "{{ {'b': 1, 'a': 2}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} {{ {'x': 1}|items|list }}",
    "{{ messages|map(attribute='role')|join(',') }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }}",
    "{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('even')|list }} {{ [0, 1, '', 'a']|select|list }}",
    "{{ messages|rejectattr('role', 'eq', 'user')|map(attribute='content')|list }}",
    "{{ ['1', '2']|map('int')|sum }} {{ [1.5, 2]|sum }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['b', 'a']|max }}",
    "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '0x1A'|int(0, 16) }} {{ ' 12 '|int }}",
    "{{ '3.5'|float }} {{ 'q'|float }} {{ 2|float }} {{ 2.675|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.4|round(0, 'ceil') }} {{ 7|round }}",
    "{{ 1|string ~ 2 }} {{ [1]|string }} {{ none|string }} {{ 'a<b>&\"\\''|e }} {{ 'x'|safe }}",
    "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('> ', blank=true) }}",
    "{{ {'b': [1, 'é', none, true, 1.5], 'a': {'q\"': '\\n'}}|tojson }}",
    "{{ {'b': 1, 'a': [1, 2], 'c': {}}|tojson(indent=2) }}",
    "{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ [1, 2]|tojson(separators=(',', ':')) }} {{ 'ü'|tojson(ensure_ascii=true) }}",
    "{{ messages|tojson }}",
    "{{ 'one two  three'|wordcount }} {{ 'ab'|center(6) }}| {{ [[1, 2], [3]]|map('length')|list }} {{ {'a': 1}|attr('a') }}",
    "{{ [{'n': 'b'}, {'n': 'a'}]|sort(attribute='n')|map(attribute='n')|join }} {{ [{'a': {'b': 1}}]|map(attribute='a.b')|list }}",
    "{{ [1, 2, 3]|list|last }} {{ 'abc'|list }} {{ {'a': 1, 'b': 2}|list }} {{ ['a', 'b']|batch is defined }}",
    "{% filter upper %}inside {{ 'x' }}{% endfilter %}",
    # string methods
    "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a,b,c'.rsplit(',', 1) }}",
    "{{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}|{{ '\\nx\\n'.strip('\\n') }}|{{ 'xyx'.strip('x') }}",
    "{{ 'Hello'.startswith('He') }} {{ 'Hello'.endswith(('lo', 'x')) }} {{ 'Hello'.upper() }} {{ 'Hello'.lower() }}",
    "{{ 'hello world'.title() }} {{ 'hello'.capitalize() }} {{ 'a-b'.replace('-', '_') }} {{ 'banana'.count('a') }}",
    "{{ 'banana'.find('n') }} {{ 'banana'.rfind('n') }} {{ 'xyz'.find('q') }} {{ '-'.join(['a', 'b']) }} {{ 'ünï'.upper() }}",
    "{{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ '  '.isspace() }} {{ 'a\\nb'.splitlines() }} {{ '5'.zfill(3) }}",
    "{{ 'x'.ljust(3, '.') }}|{{ 'x'.rjust(3) }}|{{ 'k=v'.partition('=') }}|{{ 'pre_x'.removeprefix('pre_') }}",
    "{{ '</think>' in 'a</think>b' }} {{ 'a</think>\\n\\nb'.split('</think>')[-1].lstrip('\\n') }}",
    "{{ 'ß'.upper() }} {{ 'İ'.lower() }} {{ 'ǅungla'.title() }} {{ 'ΣΑΣ'.lower() }}",
    # macros
    "{% macro m(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, 2) }}{{ m(b=3, a=4) }}",
    "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}",
    "{% macro show(m) %}{{ m.role|upper }}{% endmacro %}{% for m in messages %}{{ show(m) }}{% endfor %}",
    "{% macro f() %}x{% endmacro %}{{ f(1) }}",
    # globals, misc
    "{{ strftime_now('%Y-%m-%d') }} {{ strftime_now('%d %b %Y') }}",
    "{{ dict(a=1, b='x') }} {{ namespace(a=1).a }} {{ range(3)|length }}",
    "{{ bos_token }}{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}|{{ documents }}",
    "{% generation %}gen {{ 1 }}{% set inner = 2 %}{% endgeneration %}[{{ inner }}]",
    "{% for m in messages %}{% generation %}{{ loop.index }}{{ m.role }}{% endgeneration %}{% endfor %}",
    "{{ messages[0]['content'] | trim + '|' }}",
    "{{ [1, 2, 3] | length - 1 }} {{ (messages | length) * 2 }} {{ -[1, 2]|length }}",
    "{{ 'a' if messages else 'b' }} {{ messages|selectattr('content')|list|length }}",
    "{{ range(100001)|length }}",
    "{{ 'x' * -1 }}|{{ [] * 3 }}",
]


def corner_cases():
    convs = [[{"role": "system", "content": "S"}, {"role": "user", "content": " u1 "},
              {"role": "assistant", "content": "a1"}, {"role": "user", "content": "ünï"}],
             [{"role": "user", "content": ""}]]
    cases = []
    for t in CORNERS:
        for i, conv in enumerate(convs):
            cases.append({"template": t, "messages": conv, "bos": "<s>" if i == 0 else "", "eos": "</s>",
                          "add_generation_prompt": i == 0, "name": "corner"})
    return cases


def check(verbatim, cases):
    got = run_verbatim(verbatim, cases)
    bad = 0
    for case, g in zip(cases, got):
        want = reference(case)
        if "error" in want and "error" in g:
            continue
        if want == g:
            continue
        bad += 1
        if bad <= 10:
            print(f"MISMATCH ({case['name']}): template={case['template'][:300]!r}")
            print(f"  messages={json.dumps(case.get('messages'), ensure_ascii=False)[:300]}")
            print(f"  extra={case.get('extra')} add_generation_prompt={case.get('add_generation_prompt', True)}")
            print(f"  jinja2:   {want!r}"[:2000])
            print(f"  verbatim: {g!r}"[:2000])
    return bad


def check_model_paths(verbatim):
    """--model loads the template the model carries (and its bos/eos)."""
    bad = 0
    conv = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Hi"}]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(conv, f)
        mpath = f.name
    try:
        shared = os.environ.get("VERBATIM_SHARED_DIR", os.path.join(os.path.dirname(ROOT), "shared"))
        qdir = os.path.join(shared, "tokenizers", "qwen3")
        targets = []
        if os.path.exists(os.path.join(qdir, "tokenizer_config.json")):
            with open(os.path.join(qdir, "tokenizer_config.json"), encoding="utf-8") as f:
                cfg = json.load(f)
            targets.append((qdir, cfg["chat_template"], cfg.get("bos_token") or "", cfg.get("eos_token") or ""))
        models = os.environ.get("VERBATIM_MODELS_DIR", os.path.join(ROOT, "models"))
        gguf = os.path.join(models, "SmolLM2-135M-Instruct.Q4_1.gguf")
        if os.path.exists(gguf):
            with open(os.path.join(FIXTURES, "smollm2.jinja"), encoding="utf-8") as f:
                fixture = f.read()
            body = fixture[fixture.index("-#}\n") + 4:]
            targets.append((gguf, body, "<|im_start|>", "<|im_end|>"))
        else:
            print(f"note: {gguf} is absent; the GGUF load path is not checked")
        for path, src, bos, eos in targets:
            for agp in (True, False):
                cmd = [verbatim, "chat-template", "--model", path, "--messages-file", mpath, "--now", str(NOW)]
                if not agp:
                    cmd.append("--no-generation-prompt")
                out = subprocess.run(cmd, capture_output=True, timeout=300)
                want = reference({"template": src, "messages": conv, "bos": bos, "eos": eos,
                                  "add_generation_prompt": agp})
                if out.returncode != 0 or want.get("text") != out.stdout.decode("utf-8"):
                    bad += 1
                    print(f"MISMATCH --model {path}: {out.stderr.decode()!r}\n  jinja2:   {want!r}\n"
                          f"  verbatim: {out.stdout.decode('utf-8', 'replace')!r}")
    finally:
        os.unlink(mpath)
    return bad


BUILTINS = {"chatml": None, "qwen2.5": "qwen2.5", "qwen3": None, "llama3": None, "llama3.1": "llama3.1",
            "llama3.2": "llama3.2", "smollm2": "smollm2"}


def check_builtins(verbatim):
    """Built-in templates: the transcribed/extracted ones equal their fixtures, and `--builtin` renders as jinja2."""
    bad = 0
    conv = [{"role": "system", "content": "sys"}, {"role": "user", "content": "Hi ü"},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(conv, f)
        mpath = f.name
    try:
        for family, fixture in BUILTINS.items():
            out = subprocess.run([verbatim, "chat-template", "--builtin", family, "--print-source"],
                                 capture_output=True, timeout=60)
            if out.returncode != 0:
                print(f"FAIL --builtin {family}: {out.stderr.decode()}")
                bad += 1
                continue
            b = json.loads(out.stdout)
            if fixture:
                with open(os.path.join(FIXTURES, fixture + ".jinja"), encoding="utf-8") as f:
                    text = f.read()
                if b["source"] != text[text.index("-#}\n") + 4:]:
                    print(f"MISMATCH: built-in {family} differs from tests/fixtures/chat_templates/{fixture}.jinja")
                    bad += 1
            for agp in (True, False):
                cmd = [verbatim, "chat-template", "--builtin", family, "--messages-file", mpath]
                if not agp:
                    cmd.append("--no-generation-prompt")
                got = subprocess.run(cmd, capture_output=True, timeout=60)
                want = reference({"template": b["source"], "messages": conv, "bos": b["bos"], "eos": b["eos"],
                                  "add_generation_prompt": agp, "extra": {"date_string": "26 Jul 2024"}
                                  if family.startswith("llama3.") else {}})
                if family.startswith("llama3."):
                    cmd += ["--extra", '{"date_string": "26 Jul 2024"}']
                    got = subprocess.run(cmd, capture_output=True, timeout=60)
                if got.returncode != 0 or want.get("text") != got.stdout.decode("utf-8"):
                    print(f"MISMATCH --builtin {family}: {got.stderr.decode()}\n  jinja2:   {want!r}\n"
                          f"  verbatim: {got.stdout.decode('utf-8', 'replace')!r}")
                    bad += 1
    finally:
        os.unlink(mpath)
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbatim", required=True)
    args = ap.parse_args()
    real = real_template_cases()
    corners = corner_cases()
    bad = (check(args.verbatim, real) + check(args.verbatim, corners) + check_model_paths(args.verbatim) +
           check_builtins(args.verbatim))
    errors = sum(1 for c in corners if "error" in reference(c))
    print(f"chat templates: {len(real)} real-template renderings, {len(corners)} corner cases "
          f"({errors} expected errors), {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

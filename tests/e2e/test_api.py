"""Point 1 of issue 5: curl and the official openai client against completions and chat, streaming and not, with
logprobs, echo and seed; responses validate against the OpenAI shapes (the client's models parse them, and the
required fields are checked explicitly)."""
import json
import math
import shutil
import subprocess
import struct

import openai
import pytest

PROMPT = "Once upon a time"


def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def check_envelope(j, obj, server):
    assert j["object"] == obj
    assert isinstance(j["id"], str) and j["id"]
    assert isinstance(j["created"], int)
    assert j["model"] == server.name
    assert j["system_fingerprint"].startswith("fp_") and len(j["system_fingerprint"]) == 19


def check_completion(j, server):
    check_envelope(j, "text_completion", server)
    assert len(j["choices"]) == 1
    c = j["choices"][0]
    assert c["index"] == 0 and isinstance(c["text"], str)
    assert c["finish_reason"] in ("stop", "length")
    u = j["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


def test_health_models_metrics(stories_server):
    status, body, _ = stories_server.get("/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, body, _ = stories_server.get("/v1/models")
    models = json.loads(body)
    assert status == 200 and models["object"] == "list"
    assert models["data"][0]["id"] == "stories" and models["data"][0]["object"] == "model"
    page = client(stories_server).models.list()
    assert [m.id for m in page.data] == ["stories"]
    m = stories_server.metrics()
    for key in ("verbatim_kv_blocks_used", "verbatim_kv_blocks_total", "verbatim_queue_length", "verbatim_running",
                "verbatim_step_seconds_count", "verbatim_generation_tokens_total", "verbatim_prompt_tokens_total"):
        assert key in m, key


def test_curl_completion_and_stream(stories_server):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    body = json.dumps({"model": "stories", "prompt": PROMPT, "max_tokens": 12, "temperature": 0})
    out = subprocess.run(["curl", "-sS", "-H", "Content-Type: application/json", "-d", body,
                          stories_server.url + "/v1/completions"], capture_output=True, check=True)
    j = json.loads(out.stdout)
    check_completion(j, stories_server)
    assert j["usage"]["completion_tokens"] == 12
    sbody = json.dumps({"prompt": PROMPT, "max_tokens": 12, "temperature": 0, "stream": True})
    out = subprocess.run(["curl", "-sSN", "-H", "Content-Type: application/json", "-d", sbody,
                          stories_server.url + "/v1/completions"], capture_output=True, check=True)
    frames = [f for f in out.stdout.decode().split("\n\n") if f]
    assert all(f.startswith("data: ") for f in frames)
    assert frames[-1] == "data: [DONE]"
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == j["choices"][0]["text"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_openai_completions(stories_server):
    c = client(stories_server)
    r = c.completions.create(model="stories", prompt=PROMPT, max_tokens=20, logprobs=3, seed=5, temperature=0.8,
                             extra_body={"return_token_ids": True})
    check_completion(r.model_dump(), stories_server)
    ch = r.choices[0]
    lp = ch.logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 20
    assert all(isinstance(x, float) and x <= 0 for x in lp.token_logprobs)
    assert all(len(t) <= 3 for t in lp.top_logprobs)
    assert len(ch.model_extra["token_ids"]) == 20
    # The same seed gives the same bits; another seed (almost surely) another text.
    r2 = c.completions.create(model="stories", prompt=PROMPT, max_tokens=20, logprobs=3, seed=5, temperature=0.8,
                              extra_body={"return_token_ids": True})
    assert r2.choices[0].text == ch.text
    assert r2.choices[0].model_extra["token_ids"] == ch.model_extra["token_ids"]
    assert [f32_bits(x) for x in r2.choices[0].logprobs.token_logprobs] == [f32_bits(x) for x in lp.token_logprobs]
    assert r2.system_fingerprint == r.system_fingerprint
    texts = {c.completions.create(model="stories", prompt=PROMPT, max_tokens=20, seed=s, temperature=1.0)
             .choices[0].text for s in (1, 2, 3)}
    assert len(texts) > 1


def test_openai_completions_stream_equals_whole(stories_server):
    c = client(stories_server)
    args = dict(model="stories", prompt=PROMPT, max_tokens=30, logprobs=2, seed=11, temperature=0.9,
                extra_body={"return_token_ids": True})
    whole = c.completions.create(**args)
    chunks = list(c.completions.create(stream=True, stream_options={"include_usage": True}, **args))
    assert chunks[-1].usage.completion_tokens == 30 and chunks[-1].choices == []
    body = chunks[:-1]
    assert "".join(x.choices[0].text for x in body) == whole.choices[0].text
    ids = [i for x in body for i in x.choices[0].model_extra["token_ids"]]
    assert ids == whole.choices[0].model_extra["token_ids"]
    lps = [v for x in body if x.choices[0].logprobs for v in x.choices[0].logprobs.token_logprobs]
    assert [f32_bits(v) for v in lps] == [f32_bits(v) for v in whole.choices[0].logprobs.token_logprobs]
    assert body[-1].choices[0].finish_reason == whole.choices[0].finish_reason == "length"
    assert all(x.system_fingerprint == whole.system_fingerprint for x in chunks)


def test_echo_scores_prompt_bitwise_equal_to_generation(stories_server):
    """Scoring for RL: echo + logprobs over prompt + completion reports, for the completion's tokens, exactly the
    logprobs reported when they were generated."""
    c = client(stories_server)
    gen = c.completions.create(model="stories", prompt=PROMPT, max_tokens=24, logprobs=0, seed=3, temperature=1.0,
                               extra_body={"return_token_ids": True})
    prompt_ids = gen.choices[0].model_extra["prompt_token_ids"]
    out_ids = gen.choices[0].model_extra["token_ids"]
    scored = c.completions.create(model="stories", prompt=prompt_ids + out_ids, max_tokens=0, echo=True, logprobs=0,
                                  extra_body={"return_token_ids": True})
    lp = scored.choices[0].logprobs.token_logprobs
    assert len(lp) == len(prompt_ids) + len(out_ids) and lp[0] is None
    assert [f32_bits(x) for x in lp[len(prompt_ids):]] == \
        [f32_bits(x) for x in gen.choices[0].logprobs.token_logprobs]
    # echo of a text prompt returns the prompt text first, then the completion; streaming gives the same.
    e = c.completions.create(model="stories", prompt=PROMPT, max_tokens=8, echo=True, logprobs=1, temperature=0)
    assert e.choices[0].text.startswith(PROMPT)
    s = list(c.completions.create(model="stories", prompt=PROMPT, max_tokens=8, echo=True, logprobs=1, temperature=0,
                                  stream=True))
    assert "".join(x.choices[0].text for x in s) == e.choices[0].text
    slp = [v for x in s if x.choices[0].logprobs for v in x.choices[0].logprobs.token_logprobs]
    assert [None if v is None else f32_bits(v) for v in slp] == \
        [None if v is None else f32_bits(v) for v in e.choices[0].logprobs.token_logprobs]


def test_stop_strings(stories_server):
    c = client(stories_server)
    free = c.completions.create(model="stories", prompt=PROMPT, max_tokens=40, temperature=0).choices[0].text
    word = free.split()[3]
    r = c.completions.create(model="stories", prompt=PROMPT, max_tokens=40, temperature=0, stop=[word])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == free[:free.index(word)]


def test_openai_chat(synth_server):
    c = client(synth_server)
    msgs = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello there"}]
    r = c.chat.completions.create(model="synth", messages=msgs, max_tokens=16, logprobs=True, top_logprobs=2, seed=1,
                                  extra_body={"ignore_eos": True, "return_token_ids": True})
    j = r.model_dump()
    check_envelope(j, "chat.completion", synth_server)
    ch = r.choices[0]
    assert ch.message.role == "assistant" and isinstance(ch.message.content, str)
    assert ch.finish_reason == "length" and r.usage.completion_tokens == 16
    assert len(ch.logprobs.content) == 16
    for t in ch.logprobs.content:
        assert t.logprob <= 0 and len(t.top_logprobs) == 2 and isinstance(t.bytes, list)
    stream = list(c.chat.completions.create(model="synth", messages=msgs, max_tokens=16, logprobs=True,
                                            top_logprobs=2, seed=1, stream=True,
                                            extra_body={"ignore_eos": True, "return_token_ids": True}))
    assert stream[0].choices[0].delta.role == "assistant"
    assert "".join(x.choices[0].delta.content or "" for x in stream) == ch.message.content
    ids = [i for x in stream for i in (x.choices[0].model_extra.get("token_ids") or [])]
    assert ids == ch.model_extra["token_ids"]
    lps = [t.logprob for x in stream if x.choices[0].logprobs for t in x.choices[0].logprobs.content]
    assert [f32_bits(v) for v in lps] == [f32_bits(t.logprob) for t in ch.logprobs.content]
    assert stream[-1].choices[0].finish_reason == "length"


def test_chat_without_template_is_a_clear_400(stories_server):
    status, j = stories_server.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert status == 400 and j["error"]["code"] == "no_chat_template"


def test_fingerprints_differ_by_model_and_mode(stories_server, synth_server, make_server, synth_model):
    a = stories_server.post("/v1/completions", {"prompt": "a", "max_tokens": 1})[1]["system_fingerprint"]
    b = synth_server.post("/v1/completions", {"prompt": "a", "max_tokens": 1})[1]["system_fingerprint"]
    fast = make_server(synth_model, "--mode", "fast", name="synth")
    c = fast.post("/v1/completions", {"prompt": "a", "max_tokens": 1})[1]["system_fingerprint"]
    assert len({a, b, c}) == 3

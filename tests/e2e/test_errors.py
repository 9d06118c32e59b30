"""Point 3 (bad input) of issue 5: every bad input gets its documented status and an OpenAI-format error body, and
the server still answers /health after each. Also --api-key (401), the queue limit (429) and unknown routes (404)."""
import http.client
import json
import threading

import pytest

BAD = [
    # (name, path, raw body, status, param or None)
    ("malformed JSON", "/v1/completions", b'{"prompt": "x",', 400, None),
    ("not an object", "/v1/completions", b'[1, 2, 3]', 400, None),
    ("missing prompt", "/v1/completions", b'{"max_tokens": 3}', 400, "prompt"),
    ("missing messages", "/v1/chat/completions", b'{"max_tokens": 3}', 400, "messages"),
    ("prompt wrong type", "/v1/completions", b'{"prompt": 12}', 400, "prompt"),
    ("max_tokens wrong type", "/v1/completions", b'{"prompt": "x", "max_tokens": "ten"}', 400, "max_tokens"),
    ("max_tokens fractional", "/v1/completions", b'{"prompt": "x", "max_tokens": 2.5}', 400, "max_tokens"),
    ("temperature wrong type", "/v1/completions", b'{"prompt": "x", "temperature": "hot"}', 400, "temperature"),
    ("stream wrong type", "/v1/completions", b'{"prompt": "x", "stream": "yes"}', 400, "stream"),
    ("messages wrong type", "/v1/chat/completions", b'{"messages": "hi"}', 400, "messages"),
    ("message without role", "/v1/chat/completions", b'{"messages": [{"content": "hi"}]}', 400, "messages[0].role"),
    ("unknown role", "/v1/chat/completions", b'{"messages": [{"role": "wizard", "content": "hi"}]}', 400,
     "messages[0].role"),
    ("unknown model", "/v1/completions", b'{"model": "gpt-5", "prompt": "x"}', 404, "model"),
    ("max_tokens zero", "/v1/completions", b'{"prompt": "x", "max_tokens": 0}', 400, "max_tokens"),
    ("max_tokens negative", "/v1/completions", b'{"prompt": "x", "max_tokens": -4}', 400, "max_tokens"),
    ("negative temperature", "/v1/completions", b'{"prompt": "x", "temperature": -0.5}', 400, "temperature"),
    ("top_p zero", "/v1/completions", b'{"prompt": "x", "top_p": 0}', 400, "top_p"),
    ("top_p above one", "/v1/completions", b'{"prompt": "x", "top_p": 1.01}', 400, "top_p"),
    ("n = 2", "/v1/completions", b'{"prompt": "x", "n": 2}', 400, "n"),
    ("n = 0", "/v1/completions", b'{"prompt": "x", "n": 0}', 400, "n"),
    ("chat n = 3", "/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}], "n": 3}', 400, "n"),
    ("invalid UTF-8", "/v1/completions", b'{"prompt": "ab\xff\xfecd"}', 400, None),
    ("lone surrogate", "/v1/completions", b'{"prompt": "\\ud800"}', 400, None),
    ("token id out of vocabulary", "/v1/completions", b'{"prompt": [1, 99999]}', 400, "prompt"),
    ("negative token id", "/v1/completions", b'{"prompt": [1, -3]}', 400, "prompt"),
    ("empty stop string", "/v1/completions", b'{"prompt": "x", "stop": [""]}', 400, "stop"),
    ("top_logprobs without logprobs", "/v1/chat/completions",
     b'{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}', 400, "top_logprobs"),
    ("logprobs above 20", "/v1/completions", b'{"prompt": "x", "logprobs": 21}', 400, "logprobs"),
    ("deep nesting", "/v1/completions", b'{"prompt": "x", "junk": ' + b'[' * 100000 + b']' * 100000 + b'}', 400,
     None),
    ("batched prompts", "/v1/completions", b'{"prompt": ["a", "b"]}', 400, "prompt"),
]


def check_error_body(body, status):
    j = json.loads(body)
    e = j["error"]
    assert set(e) >= {"message", "type", "param", "code"}, j
    assert isinstance(e["message"], str) and e["message"]
    return e


@pytest.mark.parametrize("name,path,raw,status,param", BAD, ids=[b[0] for b in BAD])
def test_bad_input(stories_server, name, path, raw, status, param):
    got, body, _ = stories_server.request("POST", path, raw=raw)
    assert got == status, body[:300]
    e = check_error_body(body, status)
    if param is not None:
        assert e["param"] == param, e
    assert stories_server.get("/health")[0] == 200


def test_prompt_longer_than_context_says_the_lengths(stories_server):
    n = 2100  # stories260K's GGUF says 2048 tokens of context
    got, body, _ = stories_server.request("POST", "/v1/completions", {"prompt": [1] + [300] * n})
    assert got == 400
    e = check_error_body(body, 400)
    assert e["code"] == "context_length_exceeded" and "2048" in e["message"] and str(n + 1) in e["message"]
    got, body, _ = stories_server.request("POST", "/v1/completions", {"prompt": "Once", "max_tokens": 2047})
    assert got == 400 and "2048" in json.loads(body)["error"]["message"]
    assert stories_server.get("/health")[0] == 200


def test_body_over_the_limit_is_413(make_server, stories_model):
    s = make_server(stories_model, "--max-body-mb", "1")
    got, body, _ = s.request("POST", "/v1/completions", raw=b'{"prompt": "' + b"a" * (2 << 20) + b'"}')
    assert got == 413
    check_error_body(body, 413)
    assert s.get("/health")[0] == 200


def test_unknown_route_is_404(stories_server):
    for method, path in (("GET", "/v1/nothing"), ("POST", "/v2/completions"), ("DELETE", "/nothing")):
        got, body, _ = stories_server.request(method, path, raw=b"{}" if method == "POST" else None)
        assert got == 404, (method, path)
        check_error_body(body, 404)
    assert stories_server.get("/health")[0] == 200


def test_wrong_method_on_a_route_is_405(stories_server):
    for method, path, allowed in (("GET", "/v1/completions", "POST"), ("POST", "/health", "GET"),
                                  ("TRACE", "/v1/models", "GET")):
        got, body, headers = stories_server.request(method, path, raw=b"" if method != "GET" else None)
        assert got == 405, (method, path)
        assert headers.get("Allow") == allowed
        check_error_body(body, 405)


def test_api_key(make_server, stories_model):
    s = make_server(stories_model, "--api-key", "sekret", name="stories")
    req = {"prompt": "Once", "max_tokens": 2}
    got, body, _ = s.request("POST", "/v1/completions", req)
    assert got == 401 and check_error_body(body, 401)["code"] == "invalid_api_key"
    got, _, _ = s.request("POST", "/v1/completions", req, headers={"Authorization": "Bearer wrong"})
    assert got == 401
    got, _, _ = s.request("POST", "/v1/completions", req, headers={"Authorization": "Bearer sekret"})
    assert got == 200
    assert s.get("/health")[0] == 200  # health needs no key


def test_queue_limit_gives_429(make_server, stories_model):
    """One running request and no queue: a second request while the first streams is refused with 429."""
    s = make_server(stories_model, "--max-running", "1", "--max-queue", "0", name="stories")
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    conn.request("POST", "/v1/completions", json.dumps(
        {"prompt": "Once", "max_tokens": 2000, "ignore_eos": True, "stream": True}),
        {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.read(6) == b"data: "  # the first request is now in flight
    got, body, _ = s.request("POST", "/v1/completions", {"prompt": "Once", "max_tokens": 2})
    assert got == 429, body
    e = check_error_body(body, 429)
    assert "capacity" in e["message"]
    conn.close()
    assert s.get("/health")[0] == 200

"""Point 2 of issue 5: invariance through the server. Each of 16 distinct requests sent alone equals, byte for
byte (text, token ids, logprobs as IEEE-754 bits), the same request sent while 64 other requests run concurrently —
on stories260K and on a synthetic Qwen3. Half of the loaded copies are streamed, so streaming under load is held to
the same bits."""
import json
import struct
import urllib.request

import pytest

from conftest import run_concurrently


def bits(values):
    return [None if v is None else struct.unpack("<I", struct.pack("<f", v))[0] for v in values]


def requests_under_test(endpoint):
    reqs = []
    for i in range(16):
        r = {"max_tokens": 24 + 3 * i, "logprobs": 2 if endpoint == "/v1/completions" else True,
             "return_token_ids": True, "ignore_eos": i % 2 == 0}
        if i % 4 == 0:
            r["temperature"] = 0
        else:
            r.update(temperature=0.7 + 0.05 * i, seed=1000 + i)
            if i % 4 == 2:
                r["top_k"] = 20
            if i % 4 == 3:
                r.update(top_p=0.9, min_p=0.02)
        if endpoint == "/v1/completions":
            r["prompt"] = "Once upon a time" + " there was a" * (i % 5) + f" dog number {i}"
        else:
            r["top_logprobs"] = 2
            r["messages"] = [{"role": "user", "content": f"Tell me story {i}" + " please" * (i % 3)}]
        reqs.append(r)
    return reqs


def load_requests(endpoint):
    out = []
    for k in range(64):
        r = {"max_tokens": 40 + (k * 37) % 90, "temperature": 1.0, "seed": k, "ignore_eos": True}
        if endpoint == "/v1/completions":
            r["prompt"] = "The little" + " cat" * (k % 13) + f" run {k}"
        else:
            r["messages"] = [{"role": "user", "content": "load" * (1 + k % 7)}]
        out.append(r)
    return out


def send(server, endpoint, body, stream=False):
    """Returns (text, token_ids, logprob bits) of one request."""
    body = dict(body, stream=stream)
    req = urllib.request.Request(server.url + endpoint, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        assert r.status == 200
        if not stream:
            c = json.loads(r.read())["choices"][0]
            lp = c.get("logprobs") or {}
            text = c["text"] if "text" in c else c["message"]["content"]
            lps = lp.get("token_logprobs", []) if "text" in c else [t["logprob"] for t in lp.get("content", [])]
            return text, c.get("token_ids", []), bits(lps)
        text, ids, lps = "", [], []
        for line in r:
            line = line.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            c = json.loads(line[6:])["choices"][0]
            ids += c.get("token_ids", [])
            if "text" in c:
                text += c["text"]
                lps += (c["logprobs"] or {}).get("token_logprobs", [])
            else:
                text += c["delta"].get("content") or ""
                lps += [t["logprob"] for t in (c["logprobs"] or {}).get("content", [])]
        return text, ids, bits(lps)


def check_invariance(server, endpoint):
    tested = requests_under_test(endpoint)
    alone = [send(server, endpoint, r) for r in tested]
    before = server.metrics()
    jobs = [lambda r=r, i=i: send(server, endpoint, r, stream=i % 2 == 1) for i, r in enumerate(tested)]
    jobs += [lambda r=r: send(server, endpoint, r) for r in load_requests(endpoint)]
    loaded = run_concurrently(jobs)[:16]
    after = server.metrics()
    for i, (a, b) in enumerate(zip(alone, loaded)):
        assert a[1] == b[1], f"request {i}: token ids differ under load"
        assert a[2] == b[2], f"request {i}: logprob bits differ under load"
        assert a[0] == b[0], f"request {i}: text differs under load"
        assert len(a[1]) > 0
    # The load really shared steps: far fewer engine steps than tokens generated.
    steps = after["verbatim_step_seconds_count"] - before["verbatim_step_seconds_count"]
    tokens = after["verbatim_engine_generated_tokens_total"] - before["verbatim_engine_generated_tokens_total"]
    assert tokens > 4 * steps, (tokens, steps)


def test_invariance_stories260k(stories_server):
    check_invariance(stories_server, "/v1/completions")


def test_invariance_synthetic_qwen3(synth_server):
    check_invariance(synth_server, "/v1/completions")


def test_invariance_synthetic_qwen3_chat(synth_server):
    check_invariance(synth_server, "/v1/chat/completions")

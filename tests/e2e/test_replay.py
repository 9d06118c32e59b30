"""Point 4 of issue 5: `verbatim replay` of an audit log written under load reports every entry identical — both
in-process (--model: all entries re-run together in one engine) and over HTTP (--url); altering one stored token
makes it fail (exit non-zero, naming the entry). A log from another model is a fingerprint mismatch."""
import json
import subprocess

from conftest import run_concurrently


def loaded_run(server, n=40):
    def one(i):
        if i % 3 == 2:
            body = {"prompt": [1, 403, 407, 261, 378] + [300 + i], "max_tokens": 10 + i, "echo": True, "logprobs": 1}
        else:
            body = {"prompt": f"Once upon a time {i}", "max_tokens": 10 + i, "temperature": 0.9, "seed": i,
                    "top_k": 40 if i % 2 else 0, "logprobs": 2 if i % 4 == 0 else None, "stream": i % 5 == 0}
        status, data, _ = server.request("POST", "/v1/completions", body)
        assert status == 200, data[:300]

    run_concurrently([lambda i=i: one(i) for i in range(n)])


def replay(verbatim, log, *target):
    return subprocess.run([verbatim, "replay", str(log), *target], capture_output=True, text=True, timeout=300)


def test_replay_identical_then_altered(verbatim, make_server, stories_model, tmp_path):
    log = tmp_path / "audit.jsonl"
    s = make_server(stories_model, "--audit-log", str(log), name="stories")
    loaded_run(s)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(entries) == 40
    e = entries[0]
    for key in ("request", "system_fingerprint", "fingerprint", "prompt_token_ids", "token_ids", "logprobs",
                "logprob_bits", "text", "finish_reason"):
        assert key in e, key

    r = replay(verbatim, log, "--model", stories_model)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": identical") == 40 and "40 identical, 0 different" in r.stdout

    r = replay(verbatim, log, "--url", s.url)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(": identical") == 40

    # One token altered: that entry (and only it) is reported different, and the exit code says so.
    k = next(i for i, x in enumerate(entries) if len(x["token_ids"]) > 3)
    entries[k]["token_ids"][2] = (entries[k]["token_ids"][2] + 1) % 512
    bad = tmp_path / "altered.jsonl"
    bad.write_text("".join(json.dumps(x) + "\n" for x in entries))
    for target in (("--model", stories_model), ("--url", s.url)):
        r = replay(verbatim, bad, *target)
        assert r.returncode != 0, r.stdout
        assert f"entry {k + 1} (" in r.stdout and "DIFFERENT: token 2" in r.stdout
        assert "39 identical, 1 different" in r.stdout

    # One logprob's last bit altered: caught too.
    entries[k]["token_ids"][2] = (entries[k]["token_ids"][2] - 1) % 512
    entries[k]["logprob_bits"][1] ^= 1
    bad.write_text("".join(json.dumps(x) + "\n" for x in entries))
    r = replay(verbatim, bad, "--model", stories_model)
    assert r.returncode != 0 and "DIFFERENT: logprob of token 1" in r.stdout


def test_replay_fingerprint_mismatch(verbatim, make_server, stories_model, synth_model, tmp_path):
    log = tmp_path / "audit.jsonl"
    s = make_server(synth_model, "--audit-log", str(log), name="synth")
    status, _ = s.post("/v1/completions", {"prompt": "hello", "max_tokens": 4})
    assert status == 200
    r = replay(verbatim, log, "--model", stories_model)
    assert r.returncode != 0
    assert "fingerprint mismatch" in r.stdout and "weights" in r.stdout

#!/usr/bin/env python3
"""End-to-end checks of `verbatim demo` and `verbatim bench` (stdlib only):

- demo on a small embedded model: invariant mode gives exactly one completion; the --report HTML is well-formed
  XML with the three charts, and their numbers match the run's --json output;
- demo's model choice: the default model SmolLM2 when its file is present (with the CPU workload sized for it),
  the embedded synthetic model when it is absent ($VERBATIM_MODELS_DIR pointing at an empty folder) with a note that
  says why, and explicit flags (--model, --synthetic, --synth-*, --max-tokens ...) winning over both;
- bench in process: every request produces its drawn length, per mode;
- bench --url against a stub OpenAI-compatible SSE server (http.server): the requests carry stream, max_tokens,
  ignore_eos and the API key, the streamed chunks are counted (also when events are split across reads), and a
  rejected key gives failed requests and a non-zero exit;
- bench --url against the real `verbatim serve` (a 2-layer synthetic model written by `verbatim synth`): every
  request produces exactly its drawn length (the lengths recomputed here from the same splitmix64 stream).

Usage: test_demo_bench.py --verbatim build/bin/verbatim. Exits 0 on success, 1 on failure.
"""
import argparse
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET

failures = []
passed = 0
SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"
SMALL = ["--synth-layers", "2", "--threads", "1", "--no-progress"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"[ OK ] {name}")
    else:
        failures.append(name)
        print(f"[FAIL] {name}: {detail}")


def run(verbatim, args, timeout=120, env=None):
    return subprocess.run([verbatim] + args, capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})


def find_default_model():
    for d in [os.environ.get("VERBATIM_MODELS_DIR"), os.path.join(ROOT, "models")]:
        if d and os.path.isfile(os.path.join(d, DEFAULT_MODEL)):
            return os.path.join(d, DEFAULT_MODEL)
    return None


def demo_json(verbatim, args, env, name):
    """Runs `demo --json` on the CPU (invariant mode only, one thread); returns (json or None, stderr)."""
    p = run(verbatim, ["demo", "--json", "--no-progress", "--backend", "cpu", "--modes", "invariant", "--threads", "1"]
            + args, env=env)
    check(f"{name}: exits 0", p.returncode == 0, p.stderr[-2000:])
    if p.returncode != 0:
        return None, p.stderr
    return json.loads(p.stdout), p.stderr


def test_demo_model_choice(verbatim, tmp):
    # Absent: $VERBATIM_MODELS_DIR names the only folder looked in, and it is empty.
    empty = os.path.join(tmp, "no-models")
    os.makedirs(empty)
    absent = {"VERBATIM_MODELS_DIR": empty}
    j, err = demo_json(verbatim, ["-n", "2"], absent, "demo without the default model")
    if j:
        check("absent: the embedded synthetic model", j["model_source"] == "synthetic" and
              j["model"].startswith("synthetic qwen3-tiny") and j["model_path"] == "", j)
        check("absent: the note says why and how to get the model",
              "was not found at " + os.path.join(empty, DEFAULT_MODEL) in err and "scripts/setup.sh" in err, err)
        check("absent: the embedded model's CPU workload (64 tokens, as many background requests as probes)",
              j["runs"] == 2 and j["max_tokens"] == 64 and j["background"] == 2 and
              j["background_prompt_max"] == 128 and j["background_tokens_max"] == 96, j)
        check("absent: invariant gives one completion", j["modes"][0]["unique_bitwise"] == 1, j["modes"])

    # --model wins (a synthetic model directory, not the default model: the ordinary workload defaults).
    given = os.path.join(tmp, "given")
    p = run(verbatim, ["synth", "--arch", "qwen3-tiny", "--seed", "4", "--layers", "2", "--out", given])
    check("synth writes the demo's --model", p.returncode == 0, p.stderr)
    j, err = demo_json(verbatim, ["--model", given, "-n", "2", "--max-tokens", "5"], absent, "demo --model")
    if j:
        check("--model wins", j["model_source"] == "given" and j["model_path"] == given and
              j["runs"] == 2 and j["max_tokens"] == 5, j)
        check("--model: the note names it", "using --model " + given in err, err)
    p = run(verbatim, ["demo", "--model", given, "--synthetic", "-n", "2", "--no-progress"], env=absent)
    check("--model with --synthetic is a clean error", p.returncode == 1 and "--synthetic" in p.stderr, p.stderr)

    model = find_default_model()
    if model is None:
        print(f"SKIP: {DEFAULT_MODEL} not in $VERBATIM_MODELS_DIR or {ROOT}/models (scripts/setup.sh fetches it); "
              "the default-model half of the demo's model choice is not checked")
        return
    # Present: a folder holding (a link to) the real file.
    present_dir = os.path.join(tmp, "models")
    os.makedirs(present_dir)
    linked = os.path.join(present_dir, DEFAULT_MODEL)
    os.symlink(os.path.abspath(model), linked)
    present = {"VERBATIM_MODELS_DIR": present_dir}
    j, err = demo_json(verbatim, ["-n", "2"], present, "demo with the default model")
    if j:
        check("present: the default model", j["model_source"] == "default" and j["model_path"] == linked and
              "30 layers" in j["model"], j)
        check("present: the note names the file", "using the default model " + linked in err, err)
        check("present: the default model's CPU workload (48 tokens, background 64/16)",
              j["runs"] == 2 and j["max_tokens"] == 48 and j["background"] == 2 and
              j["background_prompt_max"] == 64 and j["background_tokens_max"] == 16, j)
        inv = j["modes"][0]
        check("present: invariant gives one completion, bitwise", inv["unique"] == 1 and inv["unique_bitwise"] == 1,
              inv)
        words = inv["reference_text"].split()
        check("present: the completion reads as English words (a trained model)",
              len(words) >= 20 and sum(w.strip(".,;:!?()\"'").isalpha() for w in words) >= 0.8 * len(words),
              inv["reference_text"])
    j, _ = demo_json(verbatim, ["-n", "2", "--max-tokens", "6", "--background-tokens-max", "3"], present,
                     "demo with the default model and explicit sizes")
    if j:
        check("present: explicit sizes win", j["model_source"] == "default" and j["max_tokens"] == 6 and
              j["background_tokens_max"] == 3 and j["background_prompt_max"] == 64, j)
    for flags in (["--synthetic"], ["--synth-layers", "2"]):
        j, err = demo_json(verbatim, flags + ["-n", "2", "--max-tokens", "4"], present, "demo " + flags[0])
        if j:
            check(f"present: {flags[0]} wins over the default model",
                  j["model_source"] == "synthetic" and j["model"].startswith("synthetic") and
                  "asked for" in err, (j["model"], err))


def test_demo_sampled_probes(verbatim):
    args = ["demo", "-n", "4", "--max-tokens", "10", "--background", "4", "--background-prompt-max", "20",
            "--background-tokens-max", "6"] + SMALL
    p = run(verbatim, args + ["--temperature", "0.8", "--probe-seed", "3"])
    check("demo --temperature exits 0", p.returncode == 0, p.stderr[-2000:])
    if p.returncode == 0:
        check("sampled probes are named as such", "4 identical sampled (temperature 0.8, seed 3) requests" in p.stdout,
              p.stdout[:400])
        check("sampled probes: invariant mode bitwise identical",
              "invariant: all 4 runs bitwise identical" in p.stdout, p.stdout)
    texts = {}
    for t in ("0", "0.8"):
        p = run(verbatim, args + ["--json", "--modes", "invariant", "--temperature", t, "--probe-seed", "3"])
        if p.returncode == 0:
            j = json.loads(p.stdout)
            texts[t] = j["modes"][0]["reference_text"]
            check(f"--temperature {t} is in the JSON", abs(j["temperature"] - float(t)) < 1e-6 and j["probe_seed"] == 3, j)
    check("sampled probes complete differently from greedy ones", len(texts) == 2 and texts["0"] != texts["0.8"],
          texts)
    p = run(verbatim, args + ["--temperature", "-1"])
    check("demo --temperature -1 is a clean error", p.returncode == 1 and "temperature" in p.stderr, p.stderr)


def test_demo(verbatim, tmp):
    report = os.path.join(tmp, "report.html")
    args = ["demo", "--runs", "6", "--max-tokens", "12", "--background", "6", "--background-prompt-max", "40",
            "--background-tokens-max", "10", "--json", "--report", report] + SMALL
    p = run(verbatim, args)
    check("demo exits 0", p.returncode == 0, p.stderr[-2000:])
    if p.returncode != 0:
        return
    j = json.loads(p.stdout)
    modes = {m["mode"]: m for m in j["modes"]}
    check("demo runs fast then invariant", [m["mode"] for m in j["modes"]] == ["fast", "invariant"], j["modes"])
    inv = modes["invariant"]
    check("invariant: exactly 1 unique completion", inv["unique"] == 1 and inv["most_common_count"] == 6, inv)
    check("invariant: bitwise-identical logprobs", inv["unique_bitwise"] == 1 and inv["max_abs_dlogprob"] == 0, inv)
    check("invariant: no divergence", inv["first_divergence"] == -1 and inv["divergence_positions"] == [-1] * 6)

    try:
        root = ET.parse(report).getroot()
    except ET.ParseError as e:
        check("report is well-formed XML", False, str(e))
        return
    check("report is well-formed XML", True)
    svgs = {s.get("id"): s for s in root.iter(SVG + "svg")}
    check("report has the three charts", set(svgs) == {"chart-unique", "chart-divergence", "chart-dlogprob"}, svgs)
    for tag in ("script", "link", "img", "iframe"):
        check(f"report has no <{tag}>", not list(root.iter(XHTML + tag)))
    text = open(report, encoding="utf-8").read()
    check("report loads nothing external", "src=" not in text and "href=" not in text)

    bars = {r.get("data-mode"): int(r.get("data-value")) for r in svgs["chart-unique"].iter(SVG + "rect")
            if r.get("class") == "bar"}
    check("unique bars match the run", bars == {m: modes[m]["unique"] for m in modes}, (bars, modes.keys()))
    bitwise = {r.get("data-mode"): int(r.get("data-value")) for r in svgs["chart-unique"].iter(SVG + "rect")
               if r.get("class") == "bar-bitwise"}
    check("bitwise bars match the run", bitwise == {m: modes[m]["unique_bitwise"] for m in modes}, bitwise)

    for name, m in modes.items():
        bins = [r for r in svgs["chart-divergence"].iter(SVG + "rect")
                if r.get("class") == "bin" and r.get("data-mode") == name]
        total = sum(int(b.get("data-count")) for b in bins)
        check(f"{name}: histogram counts the diverged runs", total == m["diverged_runs"], (total, m["diverged_runs"]))
        for b in bins:
            lo, hi, c = int(b.get("data-from")), int(b.get("data-to")), int(b.get("data-count"))
            want = sum(1 for d in m["divergence_positions"] if lo <= d < hi)
            if c != want:
                check(f"{name}: histogram bin [{lo},{hi})", False, (c, want))
        series = [s for s in svgs["chart-dlogprob"].iter(SVG + "polyline")
                  if s.get("class") == "series" and s.get("data-mode") == name]
        check(f"{name}: one dlogprob series", len(series) == 1)
        if series:
            vals = [float(v) for v in series[0].get("data-values").split()]
            want = m["max_abs_dlogprob_per_position"]
            check(f"{name}: dlogprob series has a point per token", len(vals) == 12, len(vals))
            check(f"{name}: dlogprob series values match", all(abs(a - b) <= 1e-6 * max(abs(b), 1e-30)
                                                              for a, b in zip(vals, want)), (vals, want))
    margins = [s for s in svgs["chart-dlogprob"].iter(SVG + "polyline") if s.get("class") == "margin"]
    check("dlogprob chart has the top-2 margin", len(margins) == 1 and
          len(margins[0].get("data-values").split()) == 12)
    rows = {tr.get("data-mode"): tr for tr in root.iter(XHTML + "tr") if tr.get("data-unique")}
    check("summary table matches", {m: int(tr.get("data-unique")) for m, tr in rows.items()} ==
          {m: modes[m]["unique"] for m in modes})

    p = run(verbatim, ["demo", "--runs", "2", "--max-tokens", "0"] + SMALL)
    check("demo --max-tokens 0 is a clean error", p.returncode == 1 and "max-tokens" in p.stderr, p.stderr)


def test_bench_in_process(verbatim):
    p = run(verbatim, ["bench", "-n", "8", "-c", "3", "--min-tokens", "4", "--max-tokens", "9", "--modes",
                       "fast,invariant", "--json"] + SMALL)
    check("bench in process exits 0", p.returncode == 0, p.stderr[-2000:])
    if p.returncode != 0:
        return
    j = json.loads(p.stdout)
    check("bench: both modes", [r["label"] for r in j["results"]] == ["fast", "invariant"])
    for r in j["results"]:
        check(f"bench {r['label']}: every request produced its drawn length",
              r["requests"] == 8 and r["failed"] == 0 and r["length_mismatches"] == 0 and
              4 * 8 <= r["output_tokens"] <= 9 * 8, r)
        check(f"bench {r['label']}: latencies", r["ttft"]["count"] == 8 and
              r["itl"]["count"] == r["output_tokens"] - 8 and r["ttft"]["p50_s"] <= r["ttft"]["p99_s"], r)
    check("bench: ratio reported", "invariant_over_fast_time" in j)


class Stub(http.server.BaseHTTPRequestHandler):
    """A tiny OpenAI-compatible server: /v1/models and streamed /v1/chat/completions."""
    protocol_version = "HTTP/1.1"
    received = []
    lock = threading.Lock()
    api_key = "secret"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": "stub-model", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": "not found"}})
        if self.headers.get("Authorization") != "Bearer " + Stub.api_key:
            return self.send_json(401, {"error": {"message": "bad key"}})
        with Stub.lock:
            Stub.received.append(body)
        n = body["max_tokens"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = []
        for i in range(n):
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": body["model"],
                     "choices": [{"index": 0, "delta": {"content": f"t{i} "}, "finish_reason": None}]}
            events.append("data: " + json.dumps(chunk) + "\n\n")
        events.append("data: " + json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}) +
                      "\n\n")
        events.append("data: " + json.dumps({"choices": [], "usage": {"completion_tokens": n}}) + "\n\n")
        events.append("data: [DONE]\n\n")
        stream = "".join(events).encode()
        # Write in pieces that split events (and lines) across reads.
        pos, step = 0, 37
        while pos < len(stream):
            piece = stream[pos:pos + step]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
            pos += step
            step = 37 if step != 37 else 101
        self.wfile.write(b"0\r\n\r\n")


def test_bench_url(verbatim):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        p = run(verbatim, ["bench", "--url", url, "--api-key", "secret", "-n", "12", "-c", "3", "--json",
                           "--no-progress"])
        check("bench --url exits 0", p.returncode == 0, p.stderr[-2000:] + p.stdout[-2000:])
        if p.returncode == 0:
            j = json.loads(p.stdout)
            r = j["results"][0]
            got = Stub.received
            check("stub received every request", len(got) == 12, len(got))
            check("requests stream with ignore_eos", all(b["stream"] is True and b["ignore_eos"] is True and
                                                          b["model"] == "stub-model" for b in got))
            check("requests carry the chat prompt", all(b["messages"] == [
                {"role": "user", "content": "Tell me about Richard Feynman"}] for b in got))
            lengths = [b["max_tokens"] for b in got]
            check("max_tokens drawn in [90, 110]", all(90 <= n <= 110 for n in lengths), lengths)
            check("bench --url counts every token", r["output_tokens"] == sum(lengths) and r["failed"] == 0 and
                  r["length_mismatches"] == 0, r)
            check("bench --url latencies", r["ttft"]["count"] == 12 and r["itl"]["count"] == sum(lengths) - 12, r)
            check("bench --url names the served model", j.get("served_model") == "stub-model", j)
        Stub.received = []
        p = run(verbatim, ["bench", "--url", url, "--api-key", "wrong", "-n", "3", "-c", "2", "--json",
                           "--no-progress"])
        ok = p.returncode == 1
        if ok:
            r = json.loads(p.stdout)["results"][0]
            ok = r["failed"] == 3 and "401" in r.get("first_error", "")
        check("bench --url with a wrong key fails cleanly", ok, p.stdout[-1000:] + p.stderr[-1000:])
        p = run(verbatim, ["bench", "--url", "ftp://x", "-n", "1", "--no-progress"])
        check("bench --url with a bad URL is a clean error", p.returncode == 1 and "--url" in p.stderr, p.stderr)
    finally:
        server.shutdown()
        server.server_close()


def drawn_lengths(n, lo, hi, seed):
    """bench_output_lengths (src/app/bench_stats.cpp): splitmix64, lo + z % (hi - lo + 1)."""
    out, state, mask = [], seed, (1 << 64) - 1
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        out.append(lo + z % (hi - lo + 1))
    return out


def test_bench_real_server(verbatim, tmp):
    model = os.path.join(tmp, "qwen3-tiny")
    p = run(verbatim, ["synth", "--arch", "qwen3-tiny", "--seed", "2", "--layers", "2", "--out", model])
    check("synth writes the server's model", p.returncode == 0, p.stderr)
    if p.returncode != 0:
        return
    log = open(os.path.join(tmp, "serve.log"), "wb")
    proc = subprocess.Popen([verbatim, "serve", "--model", model, "--port", "0", "--api-key", "k", "--threads", "1",
                             "--max-running", "8", "--keep-alive-timeout", "1"], stdout=subprocess.PIPE, stderr=log)
    try:
        line = proc.stdout.readline().decode()
        check("serve starts", "listening on" in line, line)
        if "listening on" not in line:
            return
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        url = line.strip().rsplit(" ", 1)[-1]
        p = run(verbatim, ["bench", "--url", url, "--api-key", "k", "-n", "6", "-c", "3", "--min-tokens", "5",
                           "--max-tokens", "12", "--seed", "3", "--json", "--no-progress"])
        check("bench against verbatim serve exits 0", p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:])
        if p.returncode == 0:
            r = json.loads(p.stdout)["results"][0]
            want = drawn_lengths(6, 5, 12, 3)
            check("verbatim serve: every request produced its drawn length", r["failed"] == 0 and
                  r["length_mismatches"] == 0 and r["output_tokens"] == sum(want), (r, want))
            check("verbatim serve: a first token per request", r["ttft"]["count"] == 6, r)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbatim", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        test_demo(a.verbatim, tmp)
    with tempfile.TemporaryDirectory() as tmp:
        test_demo_model_choice(a.verbatim, tmp)
    test_demo_sampled_probes(a.verbatim)
    with tempfile.TemporaryDirectory() as tmp:
        test_bench_real_server(a.verbatim, tmp)
    test_bench_in_process(a.verbatim)
    test_bench_url(a.verbatim)
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

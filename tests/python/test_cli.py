#!/usr/bin/env python3
"""End-to-end checks of the verbatim CLI (stdlib only):

- `generate` reproduces llama2.c's greedy text for stories260K from both file formats, and --json is consistent;
- bad model input (truncated, wrong magic, header past the end, offsets out of range, missing tensor, wrong shape,
  unsupported dtype/architecture, malformed config.json / tokenizer.json) gives a non-zero exit and ONE clear line
  on stderr naming the file, never a crash (signal), a hang, or a huge allocation (address space is capped).

Usage: test_cli.py --verbatim build/bin/verbatim. Exits 0 on success, 1 on failure.
"""
import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("VERBATIM_SHARED_DIR") or os.path.join(ROOT, "..", "shared")
STORIES = os.path.join(SHARED, "models", "stories260K")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "hf", "qwen3_untied")

failures = []
passed = 0
skipped = 0


def limit_memory():
    # 4 GiB of address space: a parser that sizes an allocation from an unchecked count fails instead of paging.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def run(verbatim, args, timeout=60):
    return subprocess.run([verbatim] + args, capture_output=True, timeout=timeout, preexec_fn=limit_memory)


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"[ OK ] {name}")
    else:
        failures.append(name)
        print(f"[FAIL] {name}: {detail}")


def expect_clean_error(verbatim, name, args, must_name, phrase=None):
    try:
        r = run(verbatim, args)
    except subprocess.TimeoutExpired:
        check(name, False, "hung (no answer in 60 s)")
        return
    err = r.stderr.decode("utf-8", "replace").strip()
    lines = [l for l in err.splitlines() if l.strip()]
    problems = []
    if r.returncode <= 0:
        problems.append(f"exit code {r.returncode} (want > 0; negative means a signal)")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines (want exactly 1): {err[:400]!r}")
    elif not lines[0].startswith("error: "):
        problems.append(f"stderr does not start with 'error: ': {lines[0]!r}")
    if must_name and must_name not in err:
        problems.append(f"message does not name {must_name!r}: {err[:300]!r}")
    if phrase and phrase.lower() not in err.lower():
        problems.append(f"message lacks {phrase!r}: {err[:300]!r}")
    check(name, not problems, "; ".join(problems))


def golden(verbatim):
    global skipped
    expected_path = os.path.join(STORIES, "expected-greedy-199.txt")
    if not os.path.exists(expected_path):
        print(f"[SKIP] golden generate: shared data absent at {STORIES}")
        skipped += 1
        return
    expected = open(expected_path, "rb").read()
    tok = os.path.join(STORIES, "tok512.bin")
    for model in ["stories260K.bin", "stories260K-f32.gguf"]:
        args = ["generate", "--model", os.path.join(STORIES, model), "--temperature", "0", "--max-tokens", "200"]
        if model.endswith(".bin"):
            args += ["--tokenizer", tok]
        r = run(verbatim, args)
        check(f"generate {model} == llama2.c greedy text (200 tokens)", r.returncode == 0 and r.stdout == expected + b"\n",
              f"exit {r.returncode}, stderr {r.stderr[:300]!r}, stdout {r.stdout[:120]!r}")
        rj = run(verbatim, args + ["--json"])
        ok = rj.returncode == 0
        if ok:
            out = json.loads(rj.stdout)
            ok = (out["text"].encode() == expected and len(out["tokens"]) == len(out["logprobs"]) and
                  all(lp <= 0 for lp in out["logprobs"]) and out["prompt_tokens"] == [1])
        check(f"generate --json {model} is consistent", ok, rj.stderr[:300])


def bad_inputs(verbatim, tmp):
    global skipped
    def gen(model, tok=None):
        a = ["generate", "--model", model, "--max-tokens", "1", "--temperature", "0"]
        return a + (["--tokenizer", tok] if tok else [])

    # --- llama2.c checkpoints
    if os.path.exists(os.path.join(STORIES, "stories260K.bin")):
        data = open(os.path.join(STORIES, "stories260K.bin"), "rb").read()
        tok = os.path.join(STORIES, "tok512.bin")
        p = os.path.join(tmp, "truncated.bin")
        for cut in [0, 3, 20, 28, 1000, len(data) // 2, len(data) - 4]:
            open(p, "wb").write(data[:cut])
            expect_clean_error(verbatim, f"llama2.c truncated at {cut}", gen(p, tok), "truncated.bin")
        hdr = list(struct.unpack("<7i", data[:28]))
        for field, value in [(0, -64), (3, 0), (4, 3), (0, 1 << 30), (5, 1 << 30)]:
            h = hdr.copy()
            h[field] = value
            p = os.path.join(tmp, f"bad_header_{field}_{value}.bin")
            open(p, "wb").write(struct.pack("<7i", *h) + data[28:])
            expect_clean_error(verbatim, f"llama2.c header field {field} = {value}", gen(p, tok), os.path.basename(p))
        tdata = open(tok, "rb").read()
        p = os.path.join(tmp, "tok_truncated.bin")
        open(p, "wb").write(tdata[: len(tdata) // 3])
        expect_clean_error(verbatim, "llama2.c tokenizer truncated", gen(os.path.join(STORIES, "stories260K.bin"), p),
                           "tok_truncated.bin")
        p = os.path.join(tmp, "tok_neglen.bin")
        open(p, "wb").write(tdata[:8] + struct.pack("<i", -5) + tdata[12:])
        expect_clean_error(verbatim, "llama2.c tokenizer negative length", gen(os.path.join(STORIES, "stories260K.bin"), p),
                           "tok_neglen.bin")
    else:
        skipped += 1
        print("[SKIP] llama2.c bad inputs: shared data absent")

    # --- GGUF
    gguf = os.path.join(STORIES, "stories260K-f32.gguf")
    if os.path.exists(gguf):
        data = open(gguf, "rb").read()
        p = os.path.join(tmp, "bad.gguf")
        for cut in [4, 8, 24, 100, 5000, len(data) // 2, len(data) - 1]:
            open(p, "wb").write(data[:cut])
            expect_clean_error(verbatim, f"gguf truncated at {cut}", gen(p), "bad.gguf")
        open(p, "wb").write(b"GGUX" + data[4:])
        expect_clean_error(verbatim, "gguf wrong magic", gen(p), "bad.gguf")
        open(p, "wb").write(data[:8] + struct.pack("<Q", 1 << 60) + data[16:])
        expect_clean_error(verbatim, "gguf tensor count 2^60", gen(p), "bad.gguf")
        open(p, "wb").write(data[:16] + struct.pack("<Q", 1 << 60) + data[24:])
        expect_clean_error(verbatim, "gguf kv count 2^60", gen(p), "bad.gguf")
        arch = data.find(b"general.architecture")
        if arch > 0:
            # the value string follows the key: u32 type, u64 length, bytes ("llama")
            v = arch + len(b"general.architecture") + 4 + 8
            mutated = data[:v] + b"gpt99" + data[v + 5:]
            open(p, "wb").write(mutated)
            expect_clean_error(verbatim, "gguf unsupported architecture", gen(p), "bad.gguf", "architecture")
        name = data.find(b"output_norm.weight")
        if name > 0:
            open(p, "wb").write(data[:name] + b"outpux_norm.weight" + data[name + 18:])
            expect_clean_error(verbatim, "gguf missing tensor", gen(p), "bad.gguf", "output_norm")
    else:
        skipped += 1
        print("[SKIP] gguf bad inputs: shared data absent")

    # --- HF directory (our own fixture)
    def hf_copy(name):
        d = os.path.join(tmp, name)
        shutil.copytree(FIXTURE, d)
        return d

    d = hf_copy("hf_badjson")
    open(os.path.join(d, "config.json"), "w").write('{"hidden_size": 64,')
    expect_clean_error(verbatim, "config.json malformed JSON", gen(d, "x"), "config.json")
    d = hf_copy("hf_badtype")
    cfg = json.load(open(os.path.join(FIXTURE, "config.json")))
    cfg["hidden_size"] = "big"
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_clean_error(verbatim, "config.json wrong type", gen(d, "x"), "hidden_size")
    d = hf_copy("hf_badarch")
    cfg = json.load(open(os.path.join(FIXTURE, "config.json")))
    cfg["architectures"] = ["MambaForCausalLM"]
    cfg["model_type"] = "mamba"
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_clean_error(verbatim, "config.json unsupported architecture", gen(d, "x"), "config.json", "architecture")
    d = hf_copy("hf_shape")
    cfg = json.load(open(os.path.join(FIXTURE, "config.json")))
    cfg["intermediate_size"] = 96
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    expect_clean_error(verbatim, "safetensors wrong shape", gen(d, "x"), "model.safetensors", "shape")

    st = open(os.path.join(FIXTURE, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", st[:8])[0]
    header = json.loads(st[8:8 + n])

    def write_st(d, hdr, tail=None):
        body = json.dumps(hdr).encode()
        open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(body)) + body +
                                                            (st[8 + n:] if tail is None else tail))

    d = hf_copy("hf_hdrlen")
    open(os.path.join(d, "model.safetensors"), "wb").write(struct.pack("<Q", len(st) * 4) + st[8:])
    expect_clean_error(verbatim, "safetensors header length past the end", gen(d, "x"), "model.safetensors")
    d = hf_copy("hf_missing")
    h = dict(header)
    h.pop("model.norm.weight")
    write_st(d, h)
    expect_clean_error(verbatim, "safetensors missing tensor", gen(d, "x"), "model.norm.weight")
    d = hf_copy("hf_offsets")
    h = json.loads(json.dumps(header))
    h["model.norm.weight"]["data_offsets"] = [len(st), len(st) + 256]
    write_st(d, h)
    expect_clean_error(verbatim, "safetensors offsets out of range", gen(d, "x"), "model.safetensors")
    d = hf_copy("hf_dtype")
    h = json.loads(json.dumps(header))
    h["model.norm.weight"]["dtype"] = "I32"
    write_st(d, h)
    expect_clean_error(verbatim, "safetensors unsupported dtype", gen(d, "x"), "model.norm.weight")
    d = hf_copy("hf_truncated")
    open(os.path.join(d, "model.safetensors"), "wb").write(st[: len(st) // 2])
    expect_clean_error(verbatim, "safetensors truncated", gen(d, "x"), "model.safetensors")

    # --- tokenizer.json
    qtok = os.path.join(SHARED, "tokenizers", "qwen3", "tokenizer.json")
    for label, text in [("invalid JSON", '{"model": {"type": "BPE", '), ("no model", '{"added_tokens": []}'),
                        ("bad merges", '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a zz"]}}')]:
        p = os.path.join(tmp, "tokenizer.json")
        open(p, "w").write(text)
        expect_clean_error(verbatim, f"tokenizer.json {label}", ["tokenize", "--tokenizer", p], "tokenizer.json")
    if os.path.exists(qtok):
        t = open(qtok, encoding="utf-8").read()
        p = os.path.join(tmp, "tokenizer.json")
        open(p, "w", encoding="utf-8").write(t[: len(t) // 2])
        expect_clean_error(verbatim, "tokenizer.json truncated (qwen3)", ["tokenize", "--tokenizer", p], "tokenizer.json")
    expect_clean_error(verbatim, "model path does not exist", gen(os.path.join(tmp, "nope.gguf")), "nope.gguf")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbatim", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        golden(args.verbatim)
        bad_inputs(args.verbatim, tmp)
    print(f"{passed} passed, {len(failures)} failed, {skipped} skipped")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

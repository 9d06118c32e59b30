#!/usr/bin/env python3
"""verbatim on the default model (SmolLM2-135M-Instruct Q4_1 GGUF) against Hugging Face transformers (stdlib only).

The fixture tests/fixtures/smollm2/reference.json holds transformers' fp32 greedy generations from the same GGUF file
(tools/make_smollm2_reference.py; transformers is not installed here, only its recorded output). Checked:
- the tokenizer gives HF's ids for the chat prompts (rendered by HF's apply_chat_template) and for edge cases;
- for every prompt, the 64 greedy tokens equal HF's (the prompts run together, as one batch, through the engine);
- every step's log-probability of the chosen token and of HF's top-5 agree within LOGPROB_TOL;
- `generate --chat` renders each prompt to HF's prompt tokens, and for the first prompt ("What is the capital of
  France?") answers with HF's greedy tokens up to end-of-sequence.

Tolerance: both sides run fp32 from bit-identical dequantized weights (the GGUF loader matches the gguf package's
dequantize() bit for bit, tests/unit/gguf_quant_test.cpp), so the only differences are summation orders (GEMM
blocking, attention, RMSNorm, softmax), i.e. rounding at ~1e-7 relative per op growing through 30 layers. Measured
on this model (6 prompts x 64 steps x top-5) the largest gap is 1.0e-4; LOGPROB_TOL = 2e-3 leaves a 20x margin
without hiding a real bug (a wrong scale, RoPE or norm shifts log-probabilities by 1e-1 or more). Greedy tokens must be identical: the fixture
records each step's logit margin, and the test names any step whose margin is within the tolerance (a near-tie).

Skips (exit 77) when the model file is absent: scripts/setup.sh (scripts/fetch_model.sh) downloads it.
Usage: test_smollm2_reference.py --verbatim build/bin/verbatim
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "smollm2", "reference.json")
LOGPROB_TOL = 2e-3

failures = []
passed = 0


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"[ OK ] {name}")
    else:
        failures.append(name)
        print(f"[FAIL] {name}: {detail}")


def find_model(name):
    for d in [os.environ.get("VERBATIM_MODELS_DIR"), os.path.join(ROOT, "models")]:
        if d and os.path.isfile(os.path.join(d, name)):
            return os.path.join(d, name)
    return None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbatim", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    ref = json.load(open(FIXTURE, encoding="utf-8"))
    model = find_model(ref["model_file"])
    if model is None:
        print(f"SKIP: {ref['model_file']} not found in $VERBATIM_MODELS_DIR or {ROOT}/models "
              "(scripts/setup.sh downloads it)")
        sys.exit(77)
    digest = sha256(model)
    if digest != ref["model_sha256"]:
        check("model file is the one the fixture was made from", False,
              f"{model} has sha256 {digest}, the fixture {ref['model_sha256']}")
        print(f"{passed} passed, {len(failures)} failed")
        sys.exit(1)

    # Tokenizer: edge cases and the rendered chat prompts give HF's ids.
    texts = [c["text"] for c in ref["tokenizer_cases"]] + [p["text"] for p in ref["prompts"]]
    want = [c["ids"] for c in ref["tokenizer_cases"]] + [p["prompt_tokens"] for p in ref["prompts"]]
    r = subprocess.run([args.verbatim, "tokenize", "--model", model, "--parse-special", "--jsonl"],
                       input="".join(json.dumps(t) + "\n" for t in texts).encode(), capture_output=True, timeout=120)
    got = [json.loads(l) for l in r.stdout.decode().splitlines()] if r.returncode == 0 else []
    check("tokenize ran", r.returncode == 0, r.stderr.decode()[:300])
    for i, t in enumerate(texts):
        g = got[i] if i < len(got) else None
        check(f"tokens of {t[:50]!r} equal HF's", g == want[i], f"\n  ours {g}\n  HF   {want[i]}")

    # Greedy generation: all prompts together through the engine, 64 tokens each (past end-of-sequence, as HF did).
    steps = ref["steps"]
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = os.path.join(tmp, "prompts.jsonl")
        with open(jsonl, "w") as f:
            for p in ref["prompts"]:
                f.write(json.dumps({"prompt_tokens": p["prompt_tokens"], "max_tokens": steps, "temperature": 0,
                                    "ignore_eos": True, "top_logprobs": ref["top_k"]}) + "\n")
        r = subprocess.run([args.verbatim, "generate", "--model", model, "--prompts-file", jsonl, "--threads",
                            str(args.threads)], capture_output=True, timeout=1200)
    check("generate --prompts-file ran", r.returncode == 0, r.stderr.decode()[:300])
    outs = [json.loads(l) for l in r.stdout.decode().splitlines()] if r.returncode == 0 else []
    worst = 0.0
    for i, p in enumerate(ref["prompts"]):
        name = f"prompt {i} ({p['user'][:40]!r})"
        if i >= len(outs):
            check(name, False, "no output")
            continue
        o = outs[i]
        hf_tokens = [s["token"] for s in p["steps"]]
        n_same = next((k for k, (a, b) in enumerate(zip(o["tokens"], hf_tokens)) if a != b), min(len(o["tokens"]),
                                                                                                  len(hf_tokens)))
        detail = ""
        if o["tokens"] != hf_tokens:
            detail = f"first difference at step {n_same} of {len(hf_tokens)}: ours {o['tokens'][n_same:n_same + 5]} " \
                     f"HF {hf_tokens[n_same:n_same + 5]}"
            if n_same < len(p["steps"]) and p["steps"][n_same]["margin"] < LOGPROB_TOL:
                detail += f" (HF's logit margin there is only {p['steps'][n_same]['margin']:.2e}: a near-tie)"
        check(f"{name}: {len(hf_tokens)} greedy tokens equal HF's", o["tokens"] == hf_tokens, detail)
        # Log-probabilities over the steps both took identically.
        bad = []
        for k in range(n_same):
            s = p["steps"][k]
            diffs = [abs(o["logprobs"][k] - s["logprob"])]
            ours_top = {t["token"]: t["logprob"] for t in o["top_logprobs"][k]}
            for tid, lp in s["top"]:
                if tid in ours_top:
                    diffs.append(abs(ours_top[tid] - lp))
                elif lp > s["top"][-1][1] + LOGPROB_TOL:  # only a near-tie at the cut-off may drop out of our top-k
                    diffs.append(float("inf"))
            d = max(diffs)
            worst = max(worst, d)
            if d > LOGPROB_TOL:
                bad.append(f"step {k}: max |dlogprob| {d:.3e}")
        check(f"{name}: log-probabilities within {LOGPROB_TOL:g}", not bad, "; ".join(bad[:5]))
    print(f"largest log-probability difference: {worst:.3e} (tolerance {LOGPROB_TOL:g})")

    # generate --chat: the model's chat template renders HF's prompt; the first prompt's answer is HF's.
    eos = set(ref["eos_ids"])
    for i, p in enumerate(ref["prompts"]):
        full = i == 0
        r = subprocess.run([args.verbatim, "generate", "--model", model, "--chat", "--prompt", p["user"], "--json",
                            "--temperature", "0", "--max-tokens", str(steps if full else 1), "--threads",
                            str(args.threads)], capture_output=True, timeout=600)
        if r.returncode != 0:
            check(f"generate --chat prompt {i}", False, r.stderr.decode()[:300])
            continue
        o = json.loads(r.stdout)
        check(f"generate --chat prompt {i}: prompt tokens equal HF's apply_chat_template", o["prompt_tokens"] ==
              p["prompt_tokens"], f"\n  ours {o['prompt_tokens']}\n  HF   {p['prompt_tokens']}")
        if full:
            hf = [s["token"] for s in p["steps"]]
            end = next((k + 1 for k, t in enumerate(hf) if t in eos), len(hf))
            check(f"generate --chat {p['user']!r} answers {o['text']!r} with HF's greedy tokens", o["tokens"] ==
                  hf[:end], f"ours {o['tokens']} HF {hf[:end]}")
    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/smollm2/reference.json: Hugging Face transformers' greedy generations from the default model
(models/SmolLM2-135M-Instruct.Q4_1.gguf, loaded with transformers' own gguf_file= loader, which dequantizes to fp32),
the independent reference that tests/python/test_smollm2_reference.py checks verbatim against.

For each chat prompt: the text rendered by HF's apply_chat_template from the GGUF's chat template, its token ids (HF's
tokenizer built from the GGUF; checked equal to `verbatim tokenize --parse-special`), then 64 greedy steps (argmax of
the raw fp32 logits, continuing past end-of-sequence so every prompt gives 64 tokens), recording each step's token,
its log-probability and the top-5 log-probabilities (log-softmax of the fp32 logits). Also HF's ids for a set of
tokenizer edge cases (digits, Unicode, whitespace, code, special tokens written literally).

transformers needs torch, which is far too big for the project's venv (and PyPI's default torch wheel pulls CUDA), so
this runs once, by hand, in a separate venv; only the small fixture is committed, and CI runs just the comparison:
    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch transformers gguf accelerate numpy
    scripts/fetch_model.sh && cmake --build build --target verbatim
    /tmp/refvenv/bin/python3 tools/make_smollm2_reference.py --verbatim build/bin/verbatim
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import pathlib
import subprocess
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STEPS = 64
TOP_K = 5

PROMPTS = [
    "What is the capital of France?",
    "Write a short story about a robot who learns to paint.",
    "Explain why the sky is blue in simple terms.",
    "Give me three tips for staying focused while studying.",
    "How do I make a cup of tea? Describe the steps.",
    "What are the main differences between a cat and a dog as pets?",
]

TOKENIZER_CASES = [
    "Hello world",
    "The year 2024 had 366 days; pi is 3.14159.",
    "  leading spaces, trailing   \n\n\ttabs and newlines\n",
    "def f(x):\n    return x**2  # square\n",
    "Café, naïve, Ünïcödé, 日本語のテキスト, emoji 🙂👍🏽, Ελληνικά",
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    "don't won't it's we'll they've I'm",
    "https://example.com/path?q=1&r=two#frag",
    "1234567890 00 007",
]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ours_tokenize(verbatim, model, texts):
    r = subprocess.run([verbatim, "tokenize", "--model", model, "--parse-special", "--jsonl"],
                       input="".join(json.dumps(t) + "\n" for t in texts), capture_output=True, text=True, check=True)
    return [json.loads(line) for line in r.stdout.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbatim", default=str(ROOT / "build/bin/verbatim"))
    ap.add_argument("--model", default=str(ROOT / "models" / MODEL_FILE))
    ap.add_argument("--out", default=str(ROOT / "tests/fixtures/smollm2/reference.json"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model_dir, model_name = os.path.split(os.path.abspath(args.model))

    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=model_name)
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=model_name, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    assert model.dtype == torch.float32

    cases = [{"text": t, "ids": tok(t, add_special_tokens=False).input_ids} for t in TOKENIZER_CASES]
    ours = ours_tokenize(args.verbatim, args.model, TOKENIZER_CASES)
    for c, o in zip(cases, ours):
        if c["ids"] != o:
            sys.exit(f"tokenizers differ on {c['text']!r}:\n  HF   {c['ids']}\n  ours {o}")

    prompts = []
    for p in PROMPTS:
        text = tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False).input_ids
        prompts.append({"user": p, "text": text, "prompt_tokens": ids})
    for p, o in zip(prompts, ours_tokenize(args.verbatim, args.model, [p["text"] for p in prompts])):
        if p["prompt_tokens"] != o:
            sys.exit(f"tokenizers differ on the rendered prompt {p['user']!r}:\n  HF   {p['prompt_tokens']}\n"
                     f"  ours {o}")

    eos = sorted({tok.eos_token_id} | ({model.generation_config.eos_token_id} if isinstance(
        model.generation_config.eos_token_id, int) else set(model.generation_config.eos_token_id or [])))
    for p in prompts:
        ids = torch.tensor([p["prompt_tokens"]])
        steps = []
        with torch.no_grad():
            out = model(ids, use_cache=True)
            for _ in range(STEPS):
                logits = out.logits[0, -1].to(torch.float32)
                logp = torch.log_softmax(logits, dim=-1)
                top = torch.topk(logits, TOP_K + 1)
                token = int(top.indices[0])
                steps.append({
                    "token": token,
                    "logprob": float(logp[token]),
                    "top": [[int(i), float(logp[i])] for i in top.indices[:TOP_K]],
                    "margin": float(top.values[0] - top.values[1]),  # logit gap to the runner-up
                })
                out = model(torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
        p["steps"] = steps
        p["text_out"] = tok.decode([s["token"] for s in steps])
        first_eos = next((i for i, s in enumerate(steps) if s["token"] in eos), None)
        p["first_eos_step"] = first_eos
        print(f"{p['user']!r}: eos at {first_eos}, min margin {min(s['margin'] for s in steps):.4f}\n  "
              f"{p['text_out'][:200]!r}")

    fixture = {
        "about": "Greedy generations of transformers (fp32, CPU) from the GGUF below, loaded with its gguf_file= loader. "
                 "Regenerate with tools/make_smollm2_reference.py (see its docstring); checked by "
                 "tests/python/test_smollm2_reference.py.",
        "model_file": MODEL_FILE,
        "model_sha256": sha256(args.model),
        "versions": {k: importlib.metadata.version(k) for k in ["transformers", "torch", "gguf"]},
        "steps": STEPS,
        "top_k": TOP_K,
        "eos_ids": eos,
        "tokenizer_cases": cases,
        "prompts": prompts,
    }
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(fixture, f, indent=None, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    print("wrote", args.out, os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()

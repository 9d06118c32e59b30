#!/usr/bin/env python3
"""`verbatim generate --chat`: the prompt tokens are the tokenization of the model's chat template rendering.

Usage: python3 tests/python/test_generate_chat.py --verbatim PATH_TO_verbatim

On synthetic models (`verbatim synth`, one layer): a Qwen3-shaped model whose tokenizer_config.json carries a chat
template; the same model with the template removed (Qwen3's built-in applies); a Llama-shaped model with a
template that writes bos_token (no second BOS is added); a Llama-shaped model without a template and no built-in
for its family (a clear error). The expected rendering comes from jinja2 set up as transformers does, and its
tokens from Hugging Face `tokenizers` (special tokens parsed, nothing added). Exit 77 (skip) when jinja2 or
tokenizers is not importable.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77
try:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from tokenizers import Tokenizer
except ImportError as e:
    print(f"skip: {e} (pip install -r tools/requirements-test.txt)")
    sys.exit(SKIP)


def render(source, messages, bos, eos):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    kw = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": True}
    if bos:
        kw["bos_token"] = bos
    if eos:
        kw["eos_token"] = eos
    return env.from_string(source).render(**kw)


def special(cfg, key):
    v = cfg.get(key)
    if isinstance(v, dict):
        v = v.get("content")
    return v or ""


failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"[{' OK ' if ok else 'FAIL'}] {name}" + ("" if ok else f": {detail}"))
    if not ok:
        failures += 1


def generate(verbatim, model, prompt, system=None):
    cmd = [verbatim, "generate", "--model", model, "--chat", "--prompt", prompt, "--max-tokens", "1",
           "--temperature", "0", "--json"]
    if system is not None:
        cmd += ["--system", system]
    return subprocess.run(cmd, capture_output=True, timeout=300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbatim", required=True)
    v = ap.parse_args().verbatim
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for arch in ("qwen3-tiny", "llama-tiny"):
            out = os.path.join(tmp, arch)
            r = subprocess.run([v, "synth", "--arch", arch, "--seed", "7", "--layers", "1", "--out", out],
                               capture_output=True, timeout=300)
            if r.returncode != 0:
                check(f"synth {arch}", False, r.stderr.decode())
                return 1
            models[arch] = out

        def variant(arch, name, edit):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            for f in os.listdir(models[arch]):
                src = os.path.join(models[arch], f)
                os.symlink(src, os.path.join(d, f)) if f != "tokenizer_config.json" else None
            with open(os.path.join(models[arch], "tokenizer_config.json"), encoding="utf-8") as f:
                cfg = json.load(f)
            edit(cfg)
            with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                json.dump(cfg, f)
            return d

        qwen_builtin = variant("qwen3-tiny", "qwen3-no-template", lambda c: c.pop("chat_template", None))
        llama_none = variant("llama-tiny", "llama-no-template", lambda c: c.pop("chat_template", None))
        builtin = json.loads(subprocess.run([v, "chat-template", "--builtin", "qwen3", "--print-source"],
                                            capture_output=True, check=True).stdout)

        cases = [("qwen3 (its template)", models["qwen3-tiny"], None),
                 ("qwen3 (built-in template)", qwen_builtin, builtin),
                 ("llama3 (template writes bos_token)", models["llama-tiny"], None)]
        for name, model, tmpl in cases:
            with open(os.path.join(model, "tokenizer_config.json"), encoding="utf-8") as f:
                cfg = json.load(f)
            source = tmpl["source"] if tmpl else cfg["chat_template"]
            bos = tmpl["bos"] if tmpl else special(cfg, "bos_token")
            eos = tmpl["eos"] if tmpl else special(cfg, "eos_token")
            tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
            for system in (None, "You are terse. <|im_end|> ünï"):
                prompt = "What is the capital of France? 😀"
                messages = ([{"role": "system", "content": system}] if system is not None else []) + \
                           [{"role": "user", "content": prompt}]
                text = render(source, messages, bos, eos)
                want = tok.encode(text, add_special_tokens=False).ids
                if cfg.get("add_bos_token") and bos and not text.startswith(bos):
                    want = [tok.token_to_id(bos)] + want
                r = generate(v, model, prompt, system)
                if r.returncode != 0:
                    check(f"{name}, system={system is not None}", False, r.stderr.decode())
                    continue
                got = json.loads(r.stdout)["prompt_tokens"]
                check(f"{name}, system={system is not None}: prompt tokens = tokens of the rendering", got == want,
                      f"\n  got  {got}\n  want {want}\n  text {text!r}")
                if bos and text.startswith(bos):
                    check(f"{name}: one BOS", got.count(tok.token_to_id(bos)) == text.count(bos), str(got[:4]))

        r = generate(v, llama_none, "hi")
        err = r.stderr.decode()
        check("no template and no built-in: clear error", r.returncode == 1 and "no chat template" in err and
              err.count("\n") == 1, f"rc={r.returncode} stderr={err!r}")
        r = subprocess.run([v, "generate", "--model", models["qwen3-tiny"], "--system", "x", "--prompt", "hi"],
                           capture_output=True, timeout=300)
        check("--system without --chat: clear error", r.returncode == 1 and "--chat" in r.stderr.decode(),
              r.stderr.decode())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

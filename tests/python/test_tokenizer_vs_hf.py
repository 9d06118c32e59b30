#!/usr/bin/env python3
"""Randomized comparison of verbatim's tokenizer with Hugging Face `tokenizers` on the Qwen3 tokenizer.json.

Usage: python3 tests/python/test_tokenizer_vs_hf.py --verbatim PATH_TO_verbatim [--count N] [--seed S]

Generates mixed-script random strings (fixed seed), tokenizes them with HF (add_special_tokens=False, both with and
without splitting special tokens) and with `verbatim tokenize --jsonl` (one process per mode), and compares the ids
exactly; it also compares decoding. Exits 0 when all match, 1 listing the first mismatches, and 77 (skip) when
`tokenizers` is not importable or the shared test data is absent.
"""
import argparse
import json
import os
import random
import subprocess
import sys

SKIP = 77

LATIN = ["hello", "World", "the", "quick", "brown", "fox", "JUMPS", "over", "lazy", "dog", "naïve", "café", "Straße",
         "œuvre", "İstanbul", "ſtraße", "ﬁnal", "Kelvin", "résumé", "piñata", "Ångström", "x", "I", "a"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "n't", "'ſ", "’s", "'"]
CYRILLIC = ["Привет", "мир", "Ёжик", "съешь", "ещё", "этих", "мягких"]
CJK = ["你好", "世界", "東京", "日本語", "한국어", "テスト", "ｶﾀｶﾅ", "漢字", "中文字符", "〇"]
ARABIC = ["مرحبا", "بالعالم", "السلام", "عليكم", "٣٤٥", "۱۲۳"]
DEVANAGARI = ["नमस्ते", "दुनिया", "हिन्दी", "१२३", "क्षत्रिय"]
OTHER = ["Γειά", "σου", "κόσμε", "שלום", "สวัสดี", "ሰላም", "Բարեւ", "ᏣᎳᎩ"]
EMOJI = ["😀", "👍", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🇫🇷", "🇯🇵", "1️⃣", "❤️", "🏳️‍🌈", "🦙", "✨", "🫠", "\U0001F3FB"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "A\u030A", "\u1100\u1161\u11A8", "o\u0302\u0301", "\u0301", "i\u0307",
             "\u0915\u093F", "Z\u0351\u036B\u0343\u036A\u0302\u036B\u033D\u034F\u0334\u0319\u0324\u031E\u0349\u035A"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n ", "\u00a0", "\u2003", "\u3000", "\u2028",
          "\u0085", "\x0b", "\x0c", "\u200b", "\t\t  \n"]
DIGITS = ["0", "7", "42", "123", "2024", "3.14159", "1,000,000", "1e-9", "０１２", "9" * 17, "½", "²", "Ⅻ"]
PUNCT = ["...", "!", "?!", ",", ".", ";", ":", "«", "»", "“", "”", "—", "--", "#", "$", "%", "&", "*", "(", ")", "[",
         "]", "{", "}", "<", ">", "`", "~", "\\", "/", "|", "@", "^", "_", "=", "+", "-", "'", '"', "…", "¿", "¡"]
CODE = ["def f(x):\n    return x**2\n", "if (a != b) { c += 1; }", "<div class=\"x\">y</div>", "SELECT * FROM t;",
        "for i in range(10):\n\tprint(i)", "x = [1, 2, 3]  # list", "#include <stdio.h>", "a->b && !c || d",
        "    indented\n        more", "fn main() -> Result<(), Box<dyn Error>> {}", "$ ls -la | grep '.py'"]
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
           "<|im_", "<|im_start|", "|>", "<|vision_start|>", "<|fim_prefix|>", "<tool_response>"]
ODD = ["\ufffd", "\ufffd\ufffd", "\x00", "\x01", "\x1b[31m", "\x7f", "\u200d", "\ufeff", "\u00ad", "\u202e",
       "\U000E0041", "\uf8ff", "\U0010FFFD", "\u0000x"]

POOLS = [(LATIN, 12), (CONTRACTIONS, 4), (CYRILLIC, 3), (CJK, 4), (ARABIC, 2), (DEVANAGARI, 2), (OTHER, 2),
         (EMOJI, 4), (COMBINING, 3), (SPACES, 8), (DIGITS, 4), (PUNCT, 6), (CODE, 2), (SPECIAL, 2), (ODD, 2)]


def random_text(rng):
    kind = rng.random()
    if kind < 0.05:  # long mixed text
        n = rng.randint(50, 200)
    elif kind < 0.1:  # a single piece
        n = 1
    else:
        n = rng.randint(2, 14)
    weights = [w for _, w in POOLS]
    parts = []
    for _ in range(n):
        pool = rng.choices([p for p, _ in POOLS], weights)[0]
        piece = rng.choice(pool)
        if rng.random() < 0.1:
            piece = piece.upper() if rng.random() < 0.5 else piece.capitalize()
        parts.append(piece)
        r = rng.random()
        if r < 0.55:
            parts.append(" ")
        elif r < 0.65:
            parts.append(rng.choice(SPACES))
    return "".join(parts)


def find_shared(repo):
    env = os.environ.get("VERBATIM_SHARED_DIR")
    return env if env else os.path.join(os.path.dirname(repo), "shared")


def run_cli(verbatim, tokenizer_path, lines, extra):
    cmd = [verbatim, "tokenize", "--tokenizer", tokenizer_path, "--jsonl"] + extra
    proc = subprocess.run(cmd, input="".join(lines).encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write("verbatim failed (%d): %s\n" % (proc.returncode, proc.stderr.decode("utf-8", "replace")))
        sys.exit(1)
    out = [json.loads(line) for line in proc.stdout.decode("utf-8").split("\n") if line]
    if len(out) != len(lines):
        sys.stderr.write("verbatim returned %d lines for %d inputs\n" % (len(out), len(lines)))
        sys.exit(1)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verbatim", required=True, help="path to the verbatim binary")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20240607)
    args = ap.parse_args()

    try:
        from tokenizers import Tokenizer
    except ImportError:
        print("SKIP: the Python package `tokenizers` is not importable (pip install tokenizers)")
        return SKIP
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tok_dir = os.path.join(find_shared(repo), "tokenizers", "qwen3")
    tok_json = os.path.join(tok_dir, "tokenizer.json")
    if not os.path.isfile(tok_json):
        print("SKIP: shared test data absent: %s (set VERBATIM_SHARED_DIR or place ../shared beside the repo)"
              % tok_json)
        return SKIP
    if not os.access(args.verbatim, os.X_OK):
        print("FAIL: verbatim binary not found or not executable: %s" % args.verbatim)
        return 1

    rng = random.Random(args.seed)
    texts = [random_text(rng) for _ in range(args.count)]
    # Fixed edge cases first.
    texts = ["", " ", "\n", "Hello world", "e\u0301", "'S'LL", "<|im_start|>user\nhi<|im_end|>", "\ufffd",
             " " * 300 + "x", "a" * 1000, "１２３４５"] + texts

    hf = Tokenizer.from_file(tok_json)
    lines = [json.dumps(t, ensure_ascii=True) + "\n" for t in texts]
    mismatches = []
    compared = 0
    for parse_special in (False, True):
        hf.encode_special_tokens = not parse_special
        expected = [hf.encode(t, add_special_tokens=False).ids for t in texts]
        got = run_cli(args.verbatim, tok_json, lines, ["--parse-special"] if parse_special else [])
        for t, e, g in zip(texts, expected, got):
            compared += 1
            if e != g:
                mismatches.append(("encode parse_special=%s" % parse_special, t, e, g))
        if parse_special:
            # Decoding the same ids: verbatim drops control tokens, as HF does with skip_special_tokens=True.
            decoded = run_cli(args.verbatim, tok_json, [json.dumps(ids) + "\n" for ids in expected], ["--decode"])
            for t, ids, d in zip(texts, expected, decoded):
                compared += 1
                want = hf.decode(ids, skip_special_tokens=True)
                if d != want:
                    mismatches.append(("decode", t, want, d))
    hf.encode_special_tokens = False

    print("compared %d encodings/decodings of %d texts: %d mismatches" % (compared, len(texts), len(mismatches)))
    for what, t, e, g in mismatches[:10]:
        print("MISMATCH (%s) for %r\n  hf:       %s\n  verbatim: %s" % (what, t, e, g))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Builds the HF parity fixtures in tests/fixtures/hf/: small random-initialised checkpoints saved with Hugging Face
`save_pretrained` (safetensors) and HF's own fp32 logits for a fixed token sequence, so that the C++ tests compare our
reference forward pass against transformers without needing PyTorch at test time.

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install -r tools/requirements-fixtures.txt
    /tmp/fx/bin/python3 tools/make_hf_fixtures.py

Each fixture directory holds config.json, model.safetensors (or shards + index), generation_config.json, and
expected.safetensors with `tokens` [T] (I32) and `logits` [T, vocab] (F32, HF eager attention, fp32 compute).
"""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import (LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

VOCAB = 1000
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              max_position_embeddings=256, rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2)

FIXTURES = {
    # Llama 3 style: GQA (8 query heads over 2 KV heads), Llama 3 RoPE scaling that bites at these sizes, untied.
    "llama3_gqa": (LlamaForCausalLM, LlamaConfig(
        **COMMON, num_attention_heads=8, num_key_value_heads=2, rope_theta=500000.0, tie_word_embeddings=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 64}), torch.float32, None),
    # Llama 2 style: multi-head attention, tied embeddings, bf16 weights, sharded safetensors.
    "llama_tied_bf16_sharded": (LlamaForCausalLM, LlamaConfig(
        **COMMON, num_attention_heads=4, num_key_value_heads=4, rope_theta=10000.0, tie_word_embeddings=True),
        torch.bfloat16, "100KB"),
    # Qwen2: q/k/v bias, GQA, tied embeddings (as Qwen2-0.5B), f16 weights.
    "qwen2_tied_f16": (Qwen2ForCausalLM, Qwen2Config(
        **COMMON, num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0, tie_word_embeddings=True),
        torch.float16, None),
    # Qwen3: q/k norm, explicit head_dim unequal to hidden/heads, GQA, untied.
    "qwen3_untied": (Qwen3ForCausalLM, Qwen3Config(
        **COMMON, num_attention_heads=4, num_key_value_heads=2, head_dim=32, rope_theta=1000000.0,
        tie_word_embeddings=False), torch.float32, None),
    # Qwen3 tied, bf16 (as Qwen3-0.6B).
    "qwen3_tied_bf16": (Qwen3ForCausalLM, Qwen3Config(
        **COMMON, num_attention_heads=4, num_key_value_heads=1, head_dim=16, rope_theta=1000000.0,
        tie_word_embeddings=True), torch.bfloat16, None),
}


def legacy_rope_keys(name):
    # Released checkpoints (Llama 3, Qwen2/3) write `rope_theta` and `rope_scaling` at the top level; transformers 5
    # writes `rope_parameters`. Cover both: the Llama and Qwen2 fixtures get the older keys.
    return name.startswith("llama") or name.startswith("qwen2")


def rewrite_rope_keys_legacy(path):
    with open(path) as f:
        cfg = json.load(f)
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope.pop("rope_theta")
    if rope.get("rope_type", "default") != "default":
        cfg["rope_scaling"] = rope
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def build(name, cls, config, dtype, shard, out_root, seq_len):
    torch.manual_seed(sum(map(ord, name)))
    config._attn_implementation = "eager"
    model = cls(config).eval()
    # Random init uses std 0.02; widen the norms' weights away from 1 so they are really exercised.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif "bias" in pname:
                p.copy_(0.1 * torch.randn_like(p))
    model = model.to(dtype)
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(out, safe_serialization=True, **kwargs)
    if legacy_rope_keys(name):
        rewrite_rope_keys_legacy(os.path.join(out, "config.json"))
    # Reference logits: the stored (possibly rounded) weights, computed in fp32 by a fresh fp32 model, so that
    # non-persistent buffers such as RoPE's inv_freq stay fp32 (model.to(bf16) would have rounded them).
    ref = cls(config).eval()
    ref.load_state_dict({k: v.to(torch.float32) for k, v in model.state_dict().items()})
    g = torch.Generator().manual_seed(1234)
    tokens = torch.randint(3, VOCAB, (seq_len,), generator=g)
    tokens[0] = 1  # BOS
    with torch.no_grad():
        logits = ref(tokens[None, :]).logits[0].to(torch.float32).contiguous()
    save_file({"tokens": tokens.to(torch.int32).contiguous(), "logits": logits},
              os.path.join(out, "expected.safetensors"))
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"{name}: {size / 1024:.0f} KiB, logits {tuple(logits.shape)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "hf"))
    ap.add_argument("--seq-len", type=int, default=40)
    args = ap.parse_args()
    for name, (cls, config, dtype, shard) in FIXTURES.items():
        build(name, cls, config, dtype, shard, args.out, args.seq_len)


if __name__ == "__main__":
    main()

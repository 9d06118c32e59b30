#!/usr/bin/env python3
"""Writes tests/fixtures/gguf_quant/gguf_py.json: random blocks of every ggml quantized type the engine reads, with
the floats the `gguf` Python package's dequantize() gives them (the code Hugging Face transformers' gguf_file= loader
runs). tests/unit/gguf_quant_test.cpp checks the C++ dequantizer against it bit for bit.

Needs numpy and gguf (not in the project's venv; run it from a separate one):
    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install numpy gguf
    /tmp/refvenv/bin/python3 tools/make_gguf_quant_fixture.py
"""
import importlib.metadata
import json
import pathlib

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T

# (type, offsets of the f16 fields inside a block): the f16 fields get random finite values so no NaN/inf appears.
TYPES = [
    (T.Q4_0, [0]),
    (T.Q4_1, [0, 2]),
    (T.Q5_0, [0]),
    (T.Q5_1, [0, 2]),
    (T.Q8_0, [0]),
    (T.Q2_K, [80, 82]),
    (T.Q3_K, [108]),
    (T.Q4_K, [0, 2]),
    (T.Q5_K, [0, 2]),
    (T.Q6_K, [208]),
]
BLOCKS = 3


def main():
    rng = np.random.default_rng(20261201)
    out = {"generator": "tools/make_gguf_quant_fixture.py", "gguf_version": importlib.metadata.version("gguf"),
           "types": []}
    for qtype, half_offsets in TYPES:
        block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(BLOCKS, block_bytes), dtype=np.uint8)
        for off in half_offsets:
            halves = rng.standard_normal(BLOCKS).astype(np.float32) * np.float32(0.05)
            halves[0] = -halves[0] if halves[0] > 0 else halves[0]  # a negative super-scale
            raw[:, off:off + 2] = halves.astype(np.float16).view(np.uint8).reshape(BLOCKS, 2)
        values = gguf.dequantize(raw.reshape(1, -1), qtype).reshape(-1).astype(np.float32)
        assert values.size == BLOCKS * block_elems and np.all(np.isfinite(values))
        out["types"].append({"name": qtype.name, "type": int(qtype), "blocks_hex": raw.tobytes().hex(),
                             "f32_hex": values.tobytes().hex()})
    path = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/gguf_quant/gguf_py.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()

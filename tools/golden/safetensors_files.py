"""Golden safetensors files written by the reference libraries, for tests/test_safetensors.cpp.

Writes into tests/golden/safetensors/:
  single.safetensors   every dtype, odd shapes, a 0-size and a scalar tensor, special float
                       values and metadata, written by safetensors.torch.save_file;
  sharded/             a tiny Qwen2 (bf16) saved by transformers' save_pretrained with a small
                       max_shard_size: two shards and model.safetensors.index.json;
  expected.json        per tensor: dtype, shape, the raw elements as integers ("bits": the bit
                       patterns for float dtypes, the values otherwise) and, for float dtypes,
                       the fp32 bit patterns torch's .float() gives ("float_bits").
Run from the repository root: python3 tools/golden/safetensors_files.py
"""
import json
import math
import os
import shutil
import sys


import torch
from safetensors.torch import save_file
from transformers import Qwen2Config, Qwen2ForCausalLM

OUT = "tests/golden/safetensors"

DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int8: "I8",
    torch.uint8: "U8", torch.int16: "I16", torch.int32: "I32", torch.int64: "I64", torch.bool: "BOOL",
}
BITS_VIEW = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}
MASK = {torch.float32: 0xFFFFFFFF, torch.float16: 0xFFFF, torch.bfloat16: 0xFFFF}


def describe(t):
    """dtype, shape and exact element values of a tensor, as JSON-friendly data."""
    flat = t.contiguous().reshape(-1)
    entry = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape)}
    if t.dtype in BITS_VIEW:
        entry["bits"] = [int(v) & MASK[t.dtype] for v in flat.view(BITS_VIEW[t.dtype]).tolist()]
        entry["float_bits"] = [int(v) & 0xFFFFFFFF for v in flat.float().view(torch.int32).tolist()]
    else:
        entry["bits"] = [int(v) for v in flat.tolist()]
    return entry


def single_file_tensors():
    specials = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1.0, -2.5]
    g = torch.Generator().manual_seed(1234)
    return {
        "f32": torch.tensor(specials + [1e-45, 3.4e38, 0.1], dtype=torch.float32).reshape(2, 5, 1),
        "f16": torch.tensor(specials + [65504.0, 2.0**-24, 0.1], dtype=torch.float32).to(torch.float16).reshape(5, 2),
        "bf16": torch.cat([torch.tensor(specials + [1e-40], dtype=torch.float32),
                           torch.randn(7, generator=g)]).to(torch.bfloat16).reshape(3, 1, 5),
        "i8": torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
        "u8": torch.tensor([[0, 1, 128], [200, 254, 255]], dtype=torch.uint8),
        "i16": torch.tensor([-32768, -2, 3, 32767], dtype=torch.int16).reshape(1, 4),
        "i32": torch.tensor([-2**31, -5, 6, 2**31 - 1], dtype=torch.int32).reshape(2, 1, 2),
        "i64": torch.tensor([-2**63, -7, 8, 2**63 - 1], dtype=torch.int64),
        "bool": torch.tensor([[True, False, True], [False, False, True]]),
        "scalar": torch.tensor(0.75, dtype=torch.float32),
        "empty": torch.zeros(0, dtype=torch.float32),
        "empty.bf16": torch.zeros(3, 0, dtype=torch.bfloat16),
        "layer.\u00fc.weight": torch.arange(6, dtype=torch.float16).reshape(3, 2),  # non-ASCII name
    }


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    tensors = single_file_tensors()
    metadata = {"format": "pt"}  # one key: the writer orders several keys at random
    save_file(tensors, f"{OUT}/single.safetensors", metadata=metadata)

    # A tiny untrained Qwen2 in bf16; 256-byte shards give two shards for its 392 bytes.
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=8, hidden_size=4, intermediate_size=8, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(f"{OUT}/sharded", max_shard_size=256)
    for extra in ("config.json", "generation_config.json"):  # not what this fixture is about
        os.remove(f"{OUT}/sharded/{extra}")
    with open(f"{OUT}/sharded/model.safetensors.index.json") as f:
        weight_map = json.load(f)["weight_map"]
    state = model.state_dict()

    expected = {
        "single": {"metadata": metadata, "tensors": {k: describe(v) for k, v in tensors.items()}},
        "sharded": {"weight_map": weight_map, "tensors": {k: describe(state[k]) for k in weight_map}},
    }
    with open(f"{OUT}/expected.json", "w") as f:
        json.dump(expected, f, sort_keys=True)
        f.write("\n")
    with open(f"{OUT}/README.txt", "w") as f:
        f.write("Made by: python3 tools/golden/safetensors_files.py (run from the repository root)\n"
                "with the packages pinned in tools/golden/requirements.txt. See that script for contents.\n")


if __name__ == "__main__":
    main()

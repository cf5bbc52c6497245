"""Deterministic synthetic weights, bit-exact twin of loader/synthetic.cpp.

Every element of a tensor is a pure function of (canonical tensor name, seed, flat index), so a
full-size model can be regenerated anywhere without shipping its weights:

    h    = fnv1a64(name bytes)                       # offset 0xcbf29ce484222325, prime 0x100000001b3
    r    = splitmix64(h + seed + i)                  # all arithmetic mod 2^64
    v    = float32(r >> 40) * float32(2^-23) - 1     # fp32, uniform in [-1, 1)

and the stored value depends on what the tensor is (first rule that matches wins; every
operation is one fp32 operation, rounded to nearest, no fused multiply-add):

    ends with "num_batches_tracked"               -> 0 (int64)
    ends with "running_var"                       -> 0.75 + 0.25 * v
    ends with "running_mean"                      -> 0.1 * v
    ends with "layernorm.weight", "norm.weight"
      or ".bn.weight"                             -> 1.0 + 0.1 * v
    contains "layer_scale"                        -> 0.5 + 0.5 * v
    ends with ".bias"                             -> 0.1 * v
    anything else                                 -> v * sqrt(3 / fan_in)
                                                     fan_in = numel / shape[0] (1 for 1-D),
                                                     scale = sqrtf(3.0f / (float)fan_in)

Synthetic pixel values (name "pixel_values", shape [1, 3, H, W]) use the same v: 0.5 + 0.5 * v,
a uniform-noise image in [0, 1).

Run as a script to write tests/golden/synthetic_weights/values.json (spot values for the C++ test):
    python3 tools/golden/synthetic_weights.py
"""
import json
import math
import os
import sys

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK64 = (1 << 64) - 1

F32 = np.float32
ONE_OVER_2_23 = F32(1.0 / 8388608.0)


def fnv1a64(name: str) -> int:
    h = FNV_OFFSET
    for byte in name.encode("utf-8"):
        h ^= byte
        h = (h * FNV_PRIME) & MASK64
    return h


def splitmix64(x: np.ndarray) -> np.ndarray:
    """x: uint64 array; returns uint64 array (numpy uint64 arithmetic wraps mod 2^64)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform_pm1(name: str, seed: int, indices: np.ndarray) -> np.ndarray:
    """v in [-1, 1) (fp32) for the given flat element indices (uint64 array)."""
    base = np.uint64((fnv1a64(name) + seed) & MASK64)
    with np.errstate(over="ignore"):
        r = splitmix64(base + indices.astype(np.uint64))
    top24 = (r >> np.uint64(40)).astype(F32)        # exact: 24-bit integers
    return top24 * ONE_OVER_2_23 - F32(1.0)          # two fp32 ops, both exact here


def fan_in_scale(shape) -> np.float32:
    numel = int(np.prod(shape)) if len(shape) else 1
    fan_in = 1 if len(shape) <= 1 else numel // shape[0]
    return np.sqrt(F32(3.0) / F32(fan_in))           # IEEE sqrt, correctly rounded like sqrtf


def values_from_uniform(name: str, shape, v: np.ndarray) -> np.ndarray:
    """Maps v (fp32) to the stored value for tensor `name`; see the module docstring."""
    if name.endswith("num_batches_tracked"):
        return np.zeros(v.shape, dtype=np.int64)
    if name.endswith("running_var"):
        return F32(0.75) + F32(0.25) * v
    if name.endswith("running_mean"):
        return F32(0.1) * v
    if name.endswith("layernorm.weight") or name.endswith("norm.weight") or name.endswith(".bn.weight"):
        return F32(1.0) + F32(0.1) * v
    if "layer_scale" in name:
        return F32(0.5) + F32(0.5) * v
    if name.endswith(".bias"):
        return F32(0.1) * v
    return v * fan_in_scale(shape)


def values_at(name: str, shape, seed: int, indices) -> np.ndarray:
    idx = np.asarray(indices, dtype=np.uint64)
    return values_from_uniform(name, shape, uniform_pm1(name, seed, idx))


def synthetic_tensor(name: str, shape, seed: int = 0, chunk: int = 1 << 22) -> np.ndarray:
    """The whole tensor, row-major, dtype float32 (int64 for num_batches_tracked)."""
    shape = tuple(int(d) for d in shape)
    numel = int(np.prod(shape)) if len(shape) else 1
    dtype = np.int64 if name.endswith("num_batches_tracked") else F32
    out = np.empty(numel, dtype=dtype)
    for start in range(0, numel, chunk):
        stop = min(numel, start + chunk)
        out[start:stop] = values_at(name, shape, seed, np.arange(start, stop, dtype=np.uint64))
    return out.reshape(shape)


def synthetic_pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    """[1, 3, height, width] fp32 in [0, 1): 0.5 + 0.5 * v of tensor name "pixel_values"."""
    numel = 3 * height * width
    v = uniform_pm1("pixel_values", seed, np.arange(numel, dtype=np.uint64))
    return (F32(0.5) + F32(0.5) * v).reshape(1, 3, height, width)


# --------------------------------------------------------------------------------------------------
# values.json: spot values for the C++ generator's test

V = "model.vision_tower.vision_tower.model."
SAMPLES = [  # (canonical name, shape, seed)
    (V + "patch_embed.0.reparam_conv.weight", [96, 3, 3, 3], 0),
    (V + "network.4.3.convffn.fc1.weight", [1536, 384, 1, 1], 0),
    (V + "network.4.3.convffn.fc1.bias", [1536], 0),
    (V + "network.0.1.convffn.conv.bn.weight", [96], 0),
    (V + "network.0.1.convffn.conv.bn.running_mean", [96], 0),
    (V + "network.0.1.convffn.conv.bn.running_var", [96], 0),
    (V + "network.0.1.convffn.conv.bn.num_batches_tracked", [], 0),
    (V + "network.2.5.layer_scale", [192, 1, 1], 0),
    (V + "network.7.1.layer_scale_2", [768, 1, 1], 7),
    (V + "network.10.0.norm.weight", [1536], 0),
    (V + "network.10.0.token_mixer.qkv.weight", [4608, 1536], 0),
    (V + "conv_exp.reparam_conv.weight", [3072, 1, 3, 3], 0),
    ("model.mm_projector.0.weight", [896, 3072], 0),
    ("model.layers.0.mlp.up_proj.weight", [4864, 896], 0),
    ("model.layers.3.input_layernorm.weight", [896], 1),
    ("model.norm.weight", [896], 0),
    ("model.embed_tokens.weight", [151936, 896], 0),
    ("lm_head.weight", [151936, 896], 123456789),
]


def f32_hex(x: np.float32) -> str:
    return "0x%08x" % int(np.asarray(x, dtype=F32).view(np.uint32))


def sample_entry(name, shape, seed, kind="tensor"):
    numel = int(np.prod(shape)) if len(shape) else 1
    indices = sorted(set(i for i in [0, 1, 2, 3, 1000, numel - 1] if 0 <= i < numel))
    if kind == "pixels":
        v = uniform_pm1(name, seed, np.asarray(indices, dtype=np.uint64))
        vals = F32(0.5) + F32(0.5) * v
    else:
        vals = values_at(name, shape, seed, indices)
    entry = {"name": name, "shape": shape, "seed": seed, "numel": numel, "kind": kind,
             "fnv1a64": "0x%016x" % fnv1a64(name), "indices": indices}
    if vals.dtype == np.int64:
        entry["dtype"] = "I64"
        entry["values"] = [int(x) for x in vals]
    else:
        entry["dtype"] = "F32"
        entry["values_hex"] = [f32_hex(x) for x in vals]
        entry["values"] = [float(x) for x in vals]   # repr of the fp32 value as a double: exact
    return entry


def scalar_value(name, shape, seed, i):
    """Independent scalar implementation (Python ints; each fp32 op done in double and rounded
    to fp32, which equals the correctly rounded fp32 op) used to cross-check the vector code."""
    def f32(x):
        return float(np.float32(x))
    z = (fnv1a64(name) + seed + i + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    r = z ^ (z >> 31)
    v = f32(f32((r >> 40) * f32(1.0 / 8388608.0)) - 1.0)
    if name.endswith("num_batches_tracked"):
        return 0
    if name.endswith("running_var"):
        return f32(0.75 + f32(f32(0.25) * v))
    if name.endswith("running_mean"):
        return f32(f32(0.1) * v)
    if name.endswith(("layernorm.weight", "norm.weight", ".bn.weight")):
        return f32(1.0 + f32(f32(0.1) * v))
    if "layer_scale" in name:
        return f32(0.5 + f32(0.5 * v))
    if name.endswith(".bias"):
        return f32(f32(0.1) * v)
    numel = 1
    for d in shape:
        numel *= d
    fan_in = 1 if len(shape) <= 1 else numel // shape[0]
    return f32(v * f32(math.sqrt(f32(3.0 / fan_in))))


def self_check():
    # splitmix64 reference value (Vigna's splitmix64.c, state 0: first output).
    assert int(splitmix64(np.asarray([0], dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF
    assert fnv1a64("") == FNV_OFFSET
    assert fnv1a64("a") == 0xAF63DC4C8601EC8C
    for name, shape, seed in SAMPLES:
        numel = int(np.prod(shape)) if len(shape) else 1
        idx = [i for i in [0, 1, 2, 3, 1000, 77777, numel - 1] if i < numel]
        vec = values_at(name, shape, seed, idx)
        for i, x in zip(idx, vec):
            assert float(x) == scalar_value(name, shape, seed, i), (name, i)
    # the full-tensor path and the spot path agree
    name, shape = SAMPLES[1][0], SAMPLES[1][1]
    full = synthetic_tensor(name, shape, 0).reshape(-1)
    assert np.array_equal(full[[0, 1, 1000, full.size - 1]], values_at(name, shape, 0, [0, 1, 1000, full.size - 1]))


def main():
    self_check()
    out_dir = os.path.join("tests", "golden", "synthetic_weights")
    os.makedirs(out_dir, exist_ok=True)
    entries = [sample_entry(n, s, seed) for n, s, seed in SAMPLES]
    entries.append(sample_entry("pixel_values", [1, 3, 256, 256], 0, kind="pixels"))
    doc = {
        "generator": "r = splitmix64(fnv1a64(name) + seed + i); v = f32(r >> 40) * 2^-23 - 1; value by name rule "
                     "(see tools/golden/synthetic_weights.py); kind 'pixels': 0.5 + 0.5 * v",
        "entries": entries,
    }
    with open(os.path.join(out_dir, "values.json"), "w") as f:
        # one entry per line keeps the file diff-friendly and readable
        f.write('{\n "generator": %s,\n "entries": [\n' % json.dumps(doc["generator"]))
        f.write(",\n".join("  " + json.dumps(e) for e in entries))
        f.write("\n ]\n}\n")
    json.load(open(os.path.join(out_dir, "values.json")))
    with open(os.path.join(out_dir, "README.txt"), "w") as f:
        f.write(
            "values.json: spot values of the synthetic weight generator (loader/synthetic.cpp twin).\n"
            "Made by: python3 tools/golden/synthetic_weights.py   (from the repo root)\n"
            f"numpy {np.__version__}, python {sys.version.split()[0]}\n"
            "Each entry: canonical tensor name, shape, seed, flat indices [0,1,2,3,1000,numel-1] (those < numel),\n"
            "values as exact fp32 bit patterns (values_hex) and as decimals (values; the double nearest the\n"
            "fp32 value, which is the fp32 value itself). num_batches_tracked entries are int64 (dtype I64).\n"
            "The entry with kind \"pixels\" is the synthetic image of tests/golden/fastvithd_full: 0.5 + 0.5 * v.\n"
        )
    print("wrote", os.path.join(out_dir, "values.json"))


if __name__ == "__main__":
    main()

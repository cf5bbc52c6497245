"""Golden fixtures for the quantized weight modes, made with bitsandbytes on the CPU.

Weights (small deterministic tensors with awkward shapes) and what bitsandbytes makes of them:
  NF4      bnb.functional.quantize_4bit(W, blocksize=64, quant_type="nf4", compress_statistics=True/False):
           packed codes, first-level absmax, mean offset, nested absmax, the dynamic map (state2.code),
           bitsandbytes' CPU absmax codes, and dequantize_4bit.
  LLM.int8 bnb.functional.int8_vectorwise_quant(W.half()): CB, SCB; the same on activations (threshold 6).
Reference outputs of one linear layer y = W x + bias for T = 1 and T = 5 tokens, per CPU twin:
  int8      LLM.int8 in exact arithmetic with bitsandbytes' CUDA dequant constant (spec quant.md 4.2, 4.3, 8),
            plus bitsandbytes' own CPU Linear8bitLt output (other constant: a loose check only)
  nf4_f32   dequantize_4bit (fp32) times x in float64, then fp32
  nf4_f16   bitsandbytes' fused fp16 kernel: half(level) * half(scale) in half, x in half, fp64 sums
  w4a4      cuda/quant_int4.cuh's formulas (int4 groups of 64 along K, fp16 weight scales)

Double-quant codes: bitsandbytes' CPU quantize_blockwise uses a 65536-bin lookup table and is not
exact (spec quant.md 6), so the codes the runtime must reproduce ("absmax_codes") are computed here
with the torch "default" op's rule, as CUDA does: x * (1 / nested_absmax), then bucketize on the
midpoints of the dynamic map (ties to the lower index).

Writes tests/golden/quant/reference.safetensors. Run from the repository root:
    /work/pyenv/bin/python tools/golden/quant.py
"""
import os
import sys
from fractions import Fraction

# tools/golden/ holds scripts named like packages (e.g. safetensors.py): search it after site-packages
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE] + [HERE]

import bitsandbytes as bnb
import bitsandbytes.functional as bnbf
import numpy as np
import torch
from safetensors.torch import save_file

OUT_DIR = os.path.join("tests", "golden", "quant")
SEED = 20240611
THRESHOLD = 6.0                       # llm_int8_threshold
INT8_DEQUANT_SCALE = np.float32(6.200012e-05)      # bitsandbytes' CUDA MM_DEQUANT_CONST
INT8_INVERSE_LEVELS = np.float32(7.874015718698502e-3)
DEQUANT_ROWS = 6                      # rows of the big case whose dequantized weights are stored
F32 = np.float32


# ------------------------------------------------------------------ exact float helpers
def round_f32(q: Fraction) -> np.float32:
    """Nearest fp32 to an exact rational (ties to even)."""
    c = F32(float(q))
    best = c
    for cand in (np.nextafter(c, F32(-np.inf)), np.nextafter(c, F32(np.inf))):
        d_new, d_best = abs(Fraction(float(cand)) - q), abs(Fraction(float(best)) - q)
        if d_new < d_best or (d_new == d_best and (int(cand.view(np.uint32)) & 1) == 0):
            best = cand
    return best


def fma_f32(a, b, c) -> np.float32:
    return round_f32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def to_f16(x: np.ndarray) -> np.ndarray:
    """fp32 -> nearest fp16 (ties to even) -> fp32."""
    return torch.from_numpy(np.ascontiguousarray(x, dtype=F32)).half().float().numpy()


# NF4 decision thresholds. CUDA's dQuantizeNF4 compares x with float literals (decimal -> fp32);
# bitsandbytes' CPU op bucketizes on fp32 midpoints of the table. Some of them differ by one ulp.
NF4_LEVELS = bnbf.get_4bit_type("nf4", device="cpu")
NF4_MIDPOINTS = (NF4_LEVELS[:-1] + NF4_LEVELS[1:]) / 2
NF4_CUDA_THRESHOLDS = torch.tensor([float(round_f32(Fraction(d))) for d in (
    "-0.8480964004993439", "-0.6106329262256622", "-0.4599952697753906", "-0.33967943489551544",
    "-0.23460740596055984", "-0.13791173323988914", "-0.045525018125772476", "0.03979014977812767",
    "0.1202552504837513", "0.2035212516784668", "0.2920137718319893", "0.3893125355243683",
    "0.5016634166240692", "0.6427869200706482", "0.8614784181118011")], dtype=torch.float32)


# ------------------------------------------------------------------ weights
def make_small(gen):
    """[7, 45]: 315 values (odd: a pad nibble), 5 blocks of 64 straddling rows, the last one 59 long.
    block 0: normal; block 1: all zero; block 2: absmax 1.0 and CUDA's 15 thresholds exactly;
    block 3: absmax 0.5 and the CPU op's fp32 midpoints times 0.5 (x * (1/0.5) is exact), so values
    exactly on a threshold of each rule; block 4: a 3.7 outlier."""
    flat = torch.randn(315, generator=gen) * 0.05
    flat[64:128] = 0.0
    flat[128] = 1.0
    flat[129:144] = NF4_CUDA_THRESHOLDS
    flat[144:159] = -NF4_MIDPOINTS * 0.9   # other values inside [-1, 1]
    flat[192] = -0.5
    flat[193:208] = NF4_MIDPOINTS * 0.5
    flat[270] = 3.7
    flat[300] = -2.25
    return flat.reshape(7, 45).float()


def make_large(gen):
    """[24, 712] fp16-valued: 267 blocks (two nested groups: 256 + 11), K % 64 = 8, a few large weights."""
    w = torch.randn(24, 712, generator=gen) * 0.02
    picks = torch.randint(0, 24 * 712, (12,), generator=gen)
    w.view(-1)[picks] = torch.linspace(-0.9, 0.9, 12)
    return w.half().float()


def make_flat():
    """[4, 64]: every block's absmax is 0.5, so absmax - offset is 0 everywhere (a zero nested group)."""
    w = torch.linspace(-0.25, 0.25, 256).reshape(4, 64)
    w[:, 7] = 0.5
    w[1, 9] = -0.5
    return w.float()


def make_activations(gen, k, tokens, outliers):
    """x [tokens, k] fp32 (not fp16-representable). outliers: (token, column, value) triples."""
    x = torch.randn(tokens, k, generator=gen) * 1.5
    for t, c, v in outliers:
        x[t, c] = v
    return x.float()


# ------------------------------------------------------------------ NF4
def nested_codes_default_rule(centred: torch.Tensor, dynamic_map: torch.Tensor):
    """Codes of absmax - offset per 256-group: x * (1 / group absmax), nearest map entry, ties lower."""
    bounds = (dynamic_map[:-1] + dynamic_map[1:]) / 2
    codes, nested = [], []
    for g in range(0, centred.numel(), 256):
        x = centred[g:g + 256]
        am = x.abs().max()
        nested.append(am)
        if am == 0:
            codes.append(torch.full((x.numel(),), 127, dtype=torch.uint8))   # the 0.0 entry
            continue
        scaled = torch.clamp(x * (1.0 / am), -1, 1)
        codes.append(torch.bucketize(scaled, bounds, right=False).to(torch.uint8))
    return torch.cat(codes), torch.stack(nested).float()


def nf4_block_scales(codes, nested_absmax, offset, dynamic_map):
    """fp32 scale of every block, two roundings (dequantize_blockwise, then + offset)."""
    per_block = nested_absmax.repeat_interleave(256)[:codes.numel()]
    return (dynamic_map[codes.long()] * per_block) + offset


def unpack_nf4(packed, n):
    p = packed.view(-1)
    return torch.stack([p >> 4, p & 15], dim=1).reshape(-1)[:n].long()


def nf4_fixture(name, w, out):
    n = w.numel()
    blocks = (n + 63) // 64
    packed, state = bnbf.quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
    packed_plain, state_plain = bnbf.quantize_4bit(w, blocksize=64, compress_statistics=False, quant_type="nf4")
    assert torch.equal(packed, packed_plain)
    absmax = state_plain.absmax.float()
    offset = state.offset.float().reshape(1)
    dynamic_map = state.state2.code.float()
    bnb_cpu_codes = state.absmax.clone()        # bitsandbytes' CPU lookup-table codes (inexact)
    codes, nested = nested_codes_default_rule(absmax - offset, dynamic_map)
    assert torch.equal(nested, state.state2.absmax.float()), "nested absmax differs from bitsandbytes'"

    # The 4-bit codes by the CUDA kernel's rule: x = w * (1 / absmax) (NaN in an all-zero block,
    # which fails every test: code 0), code = number of CUDA thresholds strictly below x; a short
    # last block is padded with 0. The CPU op, reproduced here to explain every difference, divides
    # in a short last block, bucketizes on its fp32 midpoints, and clamps absmax to 1e-38.
    flat = torch.cat([w.reshape(-1), torch.zeros(blocks * 64 - n)]).reshape(blocks, 64)
    inverse = 1.0 / absmax                                                    # fp32; inf for a zero block
    x_cuda = (flat * inverse[:, None]).reshape(-1)
    cuda = (x_cuda[:, None] > NF4_CUDA_THRESHOLDS[None, :]).sum(dim=1)         # NaN -> 0
    x_cpu = (flat * (1.0 / absmax.clamp(min=1e-38))[:, None])
    if n % 64:
        x_cpu[-1] = torch.cat([flat[-1, :n % 64] / absmax[-1].clamp(min=1e-38), torch.zeros(64 - n % 64)])
    cpu = torch.bucketize(torch.clamp(x_cpu.reshape(-1), -1, 1), NF4_MIDPOINTS)
    theirs = unpack_nf4(packed, blocks * 64)[:(n + 1) // 2 * 2]
    assert torch.equal(cpu[:theirs.numel()], theirs), "the CPU op is not reproduced"
    cuda = cuda[:(n + 1) // 2 * 2]
    packed_cuda = ((cuda[0::2] << 4) | cuda[1::2]).to(torch.uint8)
    zero = (absmax == 0).repeat_interleave(64)[:cuda.numel()]
    differ = int((cuda != theirs).sum()) - int(zero.sum())
    codes4 = cuda[:n]

    # Dequantized weights with the exact double-quant codes: bitsandbytes' own dequantize_4bit.
    state.absmax = codes.clone()
    dequant = bnbf.dequantize_4bit(packed_cuda.reshape(-1, 1), state).float().reshape(-1)
    scales = nf4_block_scales(codes, nested, offset, dynamic_map)
    check = NF4_LEVELS[codes4] * scales.repeat_interleave(64)[:n]
    assert torch.equal(dequant, check), "dequantize_4bit is not level * scale in fp32"
    dequant_f16 = (NF4_LEVELS[codes4].half() * scales.half().repeat_interleave(64)[:n]).float()

    out[f"nf4.{name}.weight"] = w.contiguous()
    out[f"nf4.{name}.codes"] = packed_cuda.contiguous()
    out[f"nf4.{name}.codes_bnb_cpu"] = packed.reshape(-1).contiguous()
    out[f"nf4.{name}.absmax"] = absmax.contiguous()
    out[f"nf4.{name}.offset"] = offset.contiguous()
    out[f"nf4.{name}.nested_absmax"] = nested.contiguous()
    out[f"nf4.{name}.absmax_codes"] = codes.contiguous()
    out[f"nf4.{name}.absmax_codes_bnb_cpu"] = bnb_cpu_codes.contiguous()
    rows = min(w.shape[0], DEQUANT_ROWS)
    out[f"nf4.{name}.dequant_f32"] = dequant[:rows * w.shape[1]].reshape(rows, w.shape[1]).contiguous()
    out[f"nf4.{name}.dequant_f16"] = dequant_f16[:rows * w.shape[1]].reshape(rows, w.shape[1]).half().contiguous()
    differ_nested = int((codes != bnb_cpu_codes).sum())
    print(f"  nf4.{name}: {blocks} blocks, {int((absmax == 0).sum())} all zero, offset {offset.item():.9g}; "
          f"4-bit codes of the CPU op differ from CUDA's rule at {differ} values outside zero blocks; "
          f"its absmax codes differ from the exact rule at {differ_nested} of {blocks}")
    return dict(levels=NF4_LEVELS[codes4], scales=scales, dequant=dequant, dynamic_map=dynamic_map)


# ------------------------------------------------------------------ references of a linear layer
def int8_reference(xh, cb, scb, bias, ca, sca, cols):
    """LLM.int8 with bitsandbytes' CUDA arithmetic. xh [T, K] fp16 values (fp32), cb [N, K] int8."""
    acc = ca.long() @ cb.long().t()                                   # exact int32 sums
    scaled = (acc.float() * sca[:, None]) * scb[None, :]              # fp32, left to right
    t_count, n_count = scaled.shape
    y = np.empty((t_count, n_count), dtype=F32)
    for t in range(t_count):
        for n in range(n_count):
            y[t, n] = fma_f32(scaled[t, n].item(), INT8_DEQUANT_SCALE, bias[n].item())
    y = to_f16(y)
    if cols.numel():
        w_out = to_f16((cb[:, cols].float().numpy() * scb.numpy()[:, None]) * INT8_INVERSE_LEVELS)  # [N, C]
        xo = xh[:, cols].numpy()
        for t in range(t_count):
            for n in range(n_count):
                s = F32(0)
                for c in range(cols.numel()):
                    s = F32(s + F32(xo[t, c] * w_out[n, c]))
                y[t, n] = F32(y[t, n] + s)
        y = to_f16(y)
    return torch.from_numpy(y)


def int4_quantize(v, scale):
    if scale == 0:
        return np.zeros(v.shape, dtype=np.int8)
    return np.clip(np.rint(v / F32(scale)), -7, 7).astype(np.int8)   # np.rint: ties to even


def int4_weights(w):
    """codes [N, K] int8 in [-7, 7], scales [N, G] fp16 (as fp32 values)."""
    w = w.numpy().astype(F32)
    n_rows, k = w.shape
    groups = (k + 63) // 64
    codes = np.zeros((n_rows, k), dtype=np.int8)
    scales = np.zeros((n_rows, groups), dtype=F32)
    for n in range(n_rows):
        for g in range(groups):
            v = w[n, g * 64:(g + 1) * 64]
            scales[n, g] = to_f16(np.array([np.abs(v).max() / F32(7)], dtype=F32))[0]
            codes[n, g * 64:(g + 1) * 64] = int4_quantize(v, scales[n, g])
    return codes, scales


def int4_activations(x):
    xh = to_f16(x.numpy())
    t_count, k = xh.shape
    groups = (k + 63) // 64
    codes = np.zeros((t_count, k), dtype=np.int8)
    scales = np.zeros((t_count, groups), dtype=F32)
    for t in range(t_count):
        for g in range(groups):
            v = xh[t, g * 64:(g + 1) * 64]
            scales[t, g] = F32(np.abs(v).max() / F32(7))
            codes[t, g * 64:(g + 1) * 64] = int4_quantize(v, scales[t, g])
    return codes, scales


def pack_int4(codes):
    nib = (codes.reshape(-1).astype(np.int64) & 15).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    return (nib[0::2] << 4) | nib[1::2]


def w4a4_reference(w_codes, w_scales, a_codes, a_scales, bias):
    t_count, k = a_codes.shape
    n_count, groups = w_scales.shape
    y = np.empty((t_count, n_count), dtype=F32)
    for t in range(t_count):
        for n in range(n_count):
            acc = F32(0)
            for g in range(groups):
                isum = int(np.dot(a_codes[t, g * 64:(g + 1) * 64].astype(np.int64),
                                  w_codes[n, g * 64:(g + 1) * 64].astype(np.int64)))
                acc = F32(acc + F32(F32(F32(isum) * a_scales[t, g]) * w_scales[n, g]))
            y[t, n] = F32(acc + F32(bias[n]))
    return torch.from_numpy(to_f16(y))


def bnb_linear8bit_cpu(w, bias, x):
    """bitsandbytes' own Linear8bitLt in eval mode on the CPU (its dequant constant differs slightly)."""
    n, k = w.shape
    layer = bnb.nn.Linear8bitLt(k, n, bias=True, has_fp16_weights=False, threshold=THRESHOLD)
    layer.weight = bnb.nn.Int8Params(w.half(), requires_grad=False, has_fp16_weights=False)
    layer.bias = torch.nn.Parameter(bias.half(), requires_grad=False)
    layer = layer.to("cpu").eval()
    with torch.no_grad():
        return layer(x.half()).float()


def linear_fixtures(name, w, nf4, gen, activations, out):
    n, k = w.shape
    bias = (torch.randn(n, generator=gen) * 0.1).half().float()
    out[f"linear.{name}.bias"] = bias

    cb, scb, _ = bnbf.int8_vectorwise_quant(w.half())
    out[f"int8.{name}.codes"] = cb.contiguous()
    out[f"int8.{name}.row_scale"] = scb.float().contiguous()

    w_codes, w_scales = int4_weights(w)
    out[f"w4a4.{name}.codes"] = torch.from_numpy(pack_int4(w_codes))
    out[f"w4a4.{name}.scales"] = torch.from_numpy(w_scales).half()

    w_f16 = (nf4["levels"].half() * nf4["scales"].half().repeat_interleave(64)[:w.numel()]).float().reshape(n, k)
    w_f32 = nf4["dequant"].reshape(n, k)
    for tag, x in activations:
        key = f"{name}.{tag}"
        out[f"x.{key}"] = x
        xh = x.half().float()
        ca, sca, cols = bnbf.int8_vectorwise_quant(x.half(), threshold=THRESHOLD)
        cols = cols if cols is not None else torch.empty(0, dtype=torch.int64)
        out[f"act_int8.{key}.codes"] = ca.contiguous()
        out[f"act_int8.{key}.scales"] = sca.float().contiguous()
        out[f"act_int8.{key}.outlier_columns"] = cols.long().contiguous()
        out[f"y_int8.{key}"] = int8_reference(xh, cb, scb.float(), bias, ca, sca.float(), cols.long())
        out[f"y_int8_bnb_cpu.{key}"] = bnb_linear8bit_cpu(w, bias, x)

        y32 = (x.double() @ w_f32.double().t()).float() + bias
        out[f"y_nf4_f32.{key}"] = y32.contiguous()
        y16 = ((xh.double() @ w_f16.double().t()).float() + bias).half().float()
        out[f"y_nf4_f16.{key}"] = y16.contiguous()

        a_codes, a_scales = int4_activations(x)
        out[f"act_int4.{key}.codes"] = torch.from_numpy(a_codes)
        out[f"act_int4.{key}.scales"] = torch.from_numpy(a_scales)
        out[f"y_w4a4.{key}"] = w4a4_reference(w_codes, w_scales, a_codes, a_scales, bias.numpy())
        print(f"  linear.{key}: outlier columns {cols.tolist()}")


def main():
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    out = {}
    weights = {"small": make_small(gen), "large": make_large(gen), "flat": make_flat()}
    nf4 = {}
    for name, w in weights.items():
        nf4[name] = nf4_fixture(name, w, out)
    out["nf4.dynamic_map"] = nf4["small"]["dynamic_map"].contiguous()
    assert torch.equal(out["nf4.dynamic_map"], bnbf.create_dynamic_map(signed=True))

    small_x = [("t1", make_activations(gen, 45, 1, [])),
               ("t5", make_activations(gen, 45, 5, [(0, 3, 7.25), (2, 3, -1.0), (1, 17, -6.0), (3, 40, 5.999),
                                                    (4, 44, 6.5)]))]
    large_x = [("t1", make_activations(gen, 712, 1, [(0, 100, 9.0), (0, 701, -6.25)])),
               ("t5", make_activations(gen, 712, 5, [(0, 5, 6.0), (2, 300, -12.0), (4, 711, 8.0),
                                                     (3, 64, 5.9990)]))]
    linear_fixtures("small", weights["small"], nf4["small"], gen, small_x, out)
    linear_fixtures("large", weights["large"], nf4["large"], gen, large_x, out)

    # Big weights are stored as fp16 (their values are fp16-representable).
    out["nf4.large.weight"] = out["nf4.large.weight"].half()
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, "reference.safetensors")
    save_file({k: v.contiguous() for k, v in sorted(out.items())}, path)
    print(f"wrote {path}: {len(out)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()

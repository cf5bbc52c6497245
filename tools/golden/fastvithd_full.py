"""Golden output of the full-size FastViTHD vision tower on synthetic weights.

The tower is timm's fastvit_mci3 in inference (folded) form with the real sizes (depths 2,12,24,4,2,
widths 96..1536, conv_exp 3072 with SE 192). Every weight comes from the synthetic generator of
tools/golden/synthetic_weights.py (seed 0), addressed by its canonical llava_qwen2 name
("model.vision_tower.vision_tower.model.network.4.3.convffn.fc1.weight", ...), so the C++ side
regenerates the same weights with loader/synthetic.cpp instead of reading a checkpoint.
Input: synthetic_pixels(256, 256, seed 0) = 0.5 + 0.5 * v of tensor name "pixel_values".

Writes tests/golden/fastvithd_full/{reference.safetensors, README.txt}; the weights are not stored.
Run from the repository root:  python3 tools/golden/fastvithd_full.py
"""
import os
import sys

# tools/golden/ holds scripts named like packages (e.g. safetensors.py): search it after site-packages
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE] + [HERE]
os.environ["TIMM_FUSED_ATTN"] = "0"   # explicit attention, as in the original implementation

import numpy as np
import safetensors
import timm
import torch
from safetensors.torch import save_file

from fastvlm_tiny import V, timm_to_mci                       # noqa: E402  (timm name -> llava name)
from synthetic_weights import synthetic_pixels, synthetic_tensor  # noqa: E402

OUT_DIR = os.path.join("tests", "golden", "fastvithd_full")
WEIGHT_SEED = 0
PIXEL_SEED = 0
IMAGE_SIZE = 256
SAMPLE_CHANNELS, SAMPLE_WIDTH = 4, 8   # per activation: x[0, :4, 0, :8] (row 0: its values touch the zero padding)


def build_tower() -> torch.nn.Module:
    tower = timm.create_model("fastvit_mci3", pretrained=False, num_classes=0, inference_mode=True)
    state = {}
    for key, value in tower.state_dict().items():
        canonical = V + timm_to_mci(key)
        data = synthetic_tensor(canonical, tuple(value.shape), WEIGHT_SEED)
        state[key] = torch.from_numpy(data)
    tower.load_state_dict(state, strict=True)
    return tower.eval()


def activations(tower, pixel_values):
    """{name: activation} after the stem, each stage's downsample / pos_emb / blocks, final_conv."""
    acts, hooks = {}, []

    def keep(name):
        def hook(_m, _i, out):
            acts[name] = out.detach().clone()
        return hook
    hooks.append(tower.stem.register_forward_hook(keep("vision.stem")))
    for s, stage in enumerate(tower.stages):
        if not isinstance(stage.downsample, torch.nn.Identity):
            hooks.append(stage.downsample.register_forward_hook(keep(f"vision.stage{s}.downsample")))
        if not isinstance(stage.pos_emb, torch.nn.Identity):
            hooks.append(stage.pos_emb.register_forward_hook(keep(f"vision.stage{s}.pos_emb")))
        hooks.append(stage.register_forward_hook(keep(f"vision.stage{s}")))
    hooks.append(tower.final_conv.register_forward_hook(keep("vision.final_conv")))
    with torch.no_grad():
        out = tower.forward_features(pixel_values)
    for h in hooks:
        h.remove()
    assert torch.equal(out, acts["vision.final_conv"])
    return acts


def run_once():
    torch.manual_seed(0)
    tower = build_tower()
    pixel_values = torch.from_numpy(synthetic_pixels(IMAGE_SIZE, IMAGE_SIZE, PIXEL_SEED))
    return tower, pixel_values, activations(tower, pixel_values)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT_DIR, exist_ok=True)
    tower, pixel_values, acts = run_once()
    n_params = sum(p.numel() for p in tower.parameters())
    n_running = sum(v.numel() for k, v in tower.state_dict().items() if k.endswith(("running_mean", "running_var")))

    # reproducibility: regenerate the weights and run again; must be bit-identical
    _, pixel_values2, acts2 = run_once()
    assert torch.equal(pixel_values, pixel_values2)
    for k in acts:
        assert torch.equal(acts[k], acts2[k]), k

    ref = {"pixel_values_sample": pixel_values[0, :, 0, :SAMPLE_WIDTH].contiguous(),   # [3, 8] row 0 of each channel
           "vision.final_conv": acts["vision.final_conv"]}   # [1, 3072, 4, 4]; image features = flatten(2).transpose(1, 2)
    for name, x in acts.items():
        x64 = x.double()
        ref[name + ".stats"] = torch.tensor([x64.mean(), x64.pow(2).mean().sqrt(), x64.abs().max()], dtype=torch.float32)
        ref[name + ".sample"] = x[0, :SAMPLE_CHANNELS, 0, :SAMPLE_WIDTH].contiguous()
    for v in ref.values():
        assert torch.isfinite(v).all()
    save_file(ref, os.path.join(OUT_DIR, "reference.safetensors"), metadata={"format": "pt"})

    lines = [
        "Full-size FastViTHD (timm fastvit_mci3, inference form) on synthetic weights; see docs/golden-fixtures.md.",
        "Made by:  python3 tools/golden/fastvithd_full.py   (from the repo root; TIMM_FUSED_ATTN=0 is set inside)",
        f"Versions: torch {torch.__version__}, timm {timm.__version__}, safetensors {safetensors.__version__}, "
        f"numpy {np.__version__}, python {sys.version.split()[0]}",
        f"Weights: synthetic_weights.py generator, seed {WEIGHT_SEED}, canonical llava names "
        f"({V}...): {n_params} parameters, {n_running} BatchNorm running statistics, num_batches_tracked = 0; "
        "not stored (loader/synthetic.cpp regenerates them).",
        f"Input: synthetic_pixels({IMAGE_SIZE}, {IMAGE_SIZE}, seed {PIXEL_SEED}): p[i] = 0.5 + 0.5 * v(\"pixel_values\", i), "
        "i = flat index into [1, 3, 256, 256].",
        "Re-running the generator and the forward pass reproduced every activation bit for bit.",
        "",
        "reference.safetensors tensors (all float32):",
    ]
    for k, v in ref.items():
        extra = ""
        if k.endswith(".stats"):
            extra = "  mean %.6g  rms %.6g  absmax %.6g" % tuple(v.tolist())
        lines.append(f"  {k:34s} {list(v.shape)}{extra}")
    with open(os.path.join(OUT_DIR, "README.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

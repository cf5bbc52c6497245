"""Tensor names and shapes of a real transformers FastVlmForConditionalGeneration, in both layouts.

Builds a tiny random FastVlmForConditionalGeneration (transformers 5.24; vision tower = timm
fastvit_mci3 in inference (reparameterized) form via vision_config.model_args, as transformers'
converter builds it) from the tiny config of configs.py and writes to tests/golden/fastvlm_names/:

  config.json      the config the model was built from (config.to_json_string(), as save_pretrained writes it)
  native_tiny.txt  its state_dict: "name [d0, d1, ...]" per line, in state_dict order (fast_vlm layout)
  llava_tiny.txt   the same tensors under their original apple/ml-fastvlm (llava_qwen2) names: the inverse
                   of the key mapping in convert_fastvlm_weights_to_hf.py, checked by mapping every name
                   forward again with that converter's rules (head.proj is absent: the converter drops it)

Run from the repository root:  python3 tools/golden/fastvlm_names.py
"""
import os
import re
import sys

import timm
import torch
import transformers
from transformers import FastVlmForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from configs import tiny_config  # noqa: E402

OUT = os.path.join("tests", "golden", "fastvlm_names")
NATIVE_VISION = "model.vision_tower.timm_model."
LLAVA_VISION = "model.vision_tower.vision_tower.model."


# ---------------------------------------------------------------- converter rules (forward)
# The renames convert_fastvlm_weights_to_hf.py applies to original names, in its order.
FORWARD_RENAMES = [
    ("model.vision_tower.vision_tower.model", "model.vision_tower.timm_model"),
    ("patch_embed", "stem"),
    ("layers", "language_model.layers"),
    ("embed_tokens", "language_model.embed_tokens"),
    ("layer_scale_1", "layer_scale_1.gamma"),
    ("layer_scale_2", "layer_scale_2.gamma"),
    ("mm_projector.0", "multi_modal_projector.linear_1"),
    ("mm_projector.2", "multi_modal_projector.linear_2"),
    ("conv_exp", "final_conv"),
    ("se.reduce", "se.fc1"),
    ("se.expand", "se.fc2"),
    ("convffn", "mlp"),
    ("lkb_reparam", "reparam_conv"),
]


def converter_stage(network_index):
    # FastViTHD network list: 0 | 1 2 | 3 4 | 5 6 7 | 8 9 10 -> stages 0..4
    return {0: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 10: 4}[network_index]


def forward_name(key):
    """Original (llava_qwen2) name -> transformers-native name, following the converter."""
    if key.endswith("layer_scale"):
        key = key[: -len("layer_scale")] + "layer_scale.gamma"
    if key.startswith("model.norm"):
        key = "model.language_model.norm" + key[len("model.norm"):]
    if "token_mixer" not in key:
        key = key.replace(".proj.", ".downsample.proj.")
    blocks = re.findall(r"network\.(\d{1,2})\.(\d{1,2})", key)
    if len(blocks) == 1:
        n, b = blocks[0]
        key = key.replace(f"network.{n}.{b}", f"stages.{converter_stage(int(n))}.blocks.{b}")
    single = re.findall(r"network\.(\d{1,2})", key)
    if len(single) == 1:
        n = single[0]
        key = key.replace(f"network.{n}", f"stages.{converter_stage(int(n))}")
    pos = re.findall(r"stages\.(\d{1,2})\.reparam_conv", key)
    if len(pos) == 1:
        key = key.replace(f"stages.{pos[0]}", f"stages.{pos[0]}.pos_emb")
    for old, new in FORWARD_RENAMES:
        if old in key:
            key = key.replace(old, new)
    return key


# ---------------------------------------------------------------- inverse (native -> original)
def network_indices(timm_model):
    """stage -> (downsample index or None, pos_emb index or None, blocks index) in mci.py's list."""
    out, k = [], 0
    for i, stage in enumerate(timm_model.stages):
        down = pos = None
        if not isinstance(stage.downsample, torch.nn.Identity):
            down, k = k, k + 1
        if not isinstance(stage.pos_emb, torch.nn.Identity):
            pos, k = k, k + 1
        out.append((down, pos, k))
        k += 1
    return out


def original_name(native, stages):
    if native.startswith("model.language_model."):
        return "model." + native[len("model.language_model."):]
    if native.startswith("model.multi_modal_projector.linear_1."):
        return "model.mm_projector.0." + native[len("model.multi_modal_projector.linear_1."):]
    if native.startswith("model.multi_modal_projector.linear_2."):
        return "model.mm_projector.2." + native[len("model.multi_modal_projector.linear_2."):]
    if not native.startswith(NATIVE_VISION):
        return native  # lm_head.weight
    rest = native[len(NATIVE_VISION):]
    if rest.startswith("stem."):
        return LLAVA_VISION + "patch_embed." + rest[len("stem."):]
    if rest.startswith("final_conv."):
        rest = rest[len("final_conv."):].replace("se.fc1.", "se.reduce.").replace("se.fc2.", "se.expand.")
        return LLAVA_VISION + "conv_exp." + rest
    m = re.match(r"stages\.(\d+)\.(downsample|pos_emb|blocks)\.(.*)$", rest)
    assert m, native
    down, pos, blocks = stages[int(m.group(1))]
    part, tail = m.group(2), m.group(3)
    if part == "downsample":
        return LLAVA_VISION + f"network.{down}." + tail.replace("proj.0.reparam_conv.", "proj.0.lkb_reparam.")
    if part == "pos_emb":
        return LLAVA_VISION + f"network.{pos}." + tail
    b, inner = tail.split(".", 1)
    if inner.startswith("mlp."):
        inner = "convffn." + inner[len("mlp."):]
    inner = re.sub(r"^(layer_scale(_[12])?)\.gamma$", r"\1", inner)
    return LLAVA_VISION + f"network.{blocks}.{b}." + inner


def shape_text(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    config = tiny_config()
    model = FastVlmForConditionalGeneration(config).eval()
    state = model.state_dict()

    stages = network_indices(model.model.vision_tower.timm_model)
    native_lines, llava_lines = [], []
    for name, tensor in state.items():
        original = original_name(name, stages)
        assert forward_name(original) == name, (name, original, forward_name(original))
        native_lines.append(f"{name} {shape_text(tensor)}\n")
        llava_lines.append(f"{original} {shape_text(tensor)}\n")
    assert len(set(llava_lines)) == len(llava_lines)

    with open(os.path.join(OUT, "native_tiny.txt"), "w") as f:
        f.writelines(native_lines)
    with open(os.path.join(OUT, "llava_tiny.txt"), "w") as f:
        f.writelines(llava_lines)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        f.write(config.to_json_string())
    with open(os.path.join(OUT, "README.txt"), "w") as f:
        f.write("State-dict names and shapes of a tiny transformers FastVlmForConditionalGeneration.\n"
                "Made by: python3 tools/golden/fastvlm_names.py   (from the repo root)\n"
                f"transformers {transformers.__version__}, timm {timm.__version__}, torch {torch.__version__}\n"
                "config.json      the config it was built from (tiny config of tools/golden/configs.py)\n"
                f"native_tiny.txt  {len(native_lines)} tensors, fast_vlm layout, state_dict order\n"
                "llava_tiny.txt   the same tensors under their llava_qwen2 (apple/ml-fastvlm) names, by the\n"
                "                 inverse of convert_fastvlm_weights_to_hf.py's key mapping (head.proj absent)\n")


if __name__ == "__main__":
    main()

"""Golden fixtures for a tiny random FastVLM, in both checkpoint layouts.

Builds a tiny FastVlmForConditionalGeneration (transformers; vision tower = timm fastvit_mci3)
that keeps every structural feature of FastVLM-0.5B (5 vision stages: RepMixer x3, attention x2,
RepCPE before stages 3-4, conv_exp with squeeze-excite, exact GELU; mlp2x_gelu projector; Qwen2 with
GQA, q/k/v biases, untied lm_head) at tiny widths, with every parameter and buffer random.

The vision tower is first built in train-time (multi-branch) form, randomised, then folded with
timm's reparameterize(): that folded tower is the one inside the model (the released checkpoint
stores the folded form; only the ConvFFN BatchNorms stay unfolded), and the train-time tower is
saved too so that branch folding can be tested.

Writes tests/golden/fastvlm_tiny/:
  native/{model.safetensors, config.json}  transformers save_pretrained output (FastVlm layout)
  llava/{model.safetensors, config.json}   same weights, original llava_qwen2 names and config
  vision_train_time.safetensors            train-time vision tower, original mci.py names
  reference.safetensors                    inputs, per-stage activations, logits, greedy tokens
  README.txt
Run from the repository root:  python3 tools/golden/fastvlm_tiny.py
"""
import json
import os
import re
import shutil
import sys

# tools/golden/ holds scripts named like packages (e.g. safetensors.py): search it after site-packages
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE] + [HERE]

# The original implementation computes attention explicitly ((q * scale) @ k^T, softmax, @ v);
# make timm do the same instead of calling the fused kernel.
os.environ["TIMM_FUSED_ATTN"] = "0"

import numpy as np
import safetensors
import timm
import tokenizers
import torch
import transformers
from safetensors.torch import load_file, save_file
from timm.models.fastvit import checkpoint_filter_fn
from transformers import FastVlmConfig, FastVlmForConditionalGeneration, GenerationConfig

OUT_DIR = os.path.join("tests", "golden", "fastvlm_tiny")
SEED = 20250601

# ---- tiny sizes -----------------------------------------------------------------------------------
VISION_DEPTHS = [1, 1, 2, 1, 1]
VISION_WIDTHS = [4, 8, 16, 32, 64]      # attention stages: 32/32 = 1 head, 64/32 = 2 heads (timm head_dim is 32)
MM_HIDDEN = 2 * VISION_WIDTHS[-1]        # conv_exp output width = 128, SE bottleneck 128/16 = 8
HEAD_PROJ_DIM = 32                       # GlobalPool2D head.proj [mm_hidden, 32] (768 in the real model; unused)
IMAGE_SIZE = 256                         # -> 4 x 4 = 16 image tokens
N_IMAGE_TOKENS = (IMAGE_SIZE // 64) ** 2

HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE = 64, 2, 4, 2, 128
VOCAB = 1280
# ids of the tiny tokenizer (tools/golden/tokenizer.py): 1256 ordinary ids, then the Qwen2 specials;
# the image token comes right after them, as 151646 does for the real tokenizer
ENDOFTEXT_ID, IM_START_ID, IM_END_ID, IMAGE_TOKEN_ID = 1256, 1257, 1258, 1259
TOKENIZER_PATH = os.path.join("tests", "golden", "tokenizer", "tiny_tokenizer.json")
# the qwen_2 conversation prompt of predict.py, split at "<image>" and tokenized chunk by chunk
PROMPT_BEFORE_IMAGE = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
PROMPT_AFTER_IMAGE = "\nDescribe the image.<|im_end|>\n<|im_start|>assistant\n"
LLAVA_IMAGE_SENTINEL = -200              # IMAGE_TOKEN_INDEX of the original code
N_GENERATE = 32

V = "model.vision_tower.vision_tower.model."   # llava prefix of the vision tower


# ---- random values ----------------------------------------------------------------------------------

def randomise_(module: torch.nn.Module, gen: torch.Generator, lm_head_gain: float = 1.0):
    """Fills every parameter and buffer with non-trivial values, by module type."""
    def randn(t):
        return torch.randn(t.shape, generator=gen, dtype=torch.float32)

    def unif(t, lo, hi):
        return lo + (hi - lo) * torch.rand(t.shape, generator=gen, dtype=torch.float32)

    with torch.no_grad():
        for name, m in module.named_modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(1.0 + 0.25 * randn(m.weight))
                m.bias.copy_(0.2 * randn(m.bias))
                m.running_mean.copy_(0.2 * randn(m.running_mean))
                m.running_var.copy_(unif(m.running_var, 0.5, 1.5))
                m.num_batches_tracked.fill_(1000 + int(torch.randint(0, 1000, (1,), generator=gen)))
            elif isinstance(m, torch.nn.LayerNorm):
                m.weight.copy_(1.0 + 0.2 * randn(m.weight))
                m.bias.copy_(0.1 * randn(m.bias))
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                gain = lm_head_gain if name.endswith("lm_head") else 1.0
                m.weight.copy_(gain * randn(m.weight) / fan_in ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * randn(m.bias))
            elif isinstance(m, torch.nn.Embedding):
                m.weight.copy_(randn(m.weight))
            elif type(m).__name__ == "LayerScale2d":
                m.gamma.copy_(unif(m.gamma, 0.2, 1.0))
            elif type(m).__name__.endswith("RMSNorm"):
                m.weight.copy_(1.0 + 0.2 * randn(m.weight))
        for name, p in module.named_parameters():
            assert p.abs().max() > 0, name


def smooth_noisy_image(gen: torch.Generator) -> torch.Tensor:
    """[1, 3, 256, 256] in [0, 1], values k/255 like a decoded 8-bit image after rescale."""
    y = torch.arange(IMAGE_SIZE, dtype=torch.float64).view(1, -1, 1)
    x = torch.arange(IMAGE_SIZE, dtype=torch.float64).view(1, 1, -1)
    c = torch.arange(3, dtype=torch.float64).view(-1, 1, 1)
    smooth = 0.5 + 0.3 * torch.sin(2 * torch.pi * (x / 61.0 + c / 3.0)) * torch.cos(2 * torch.pi * y / 97.0) \
        + 0.1 * torch.cos(2 * torch.pi * (x + y) / 45.0)
    noise = 0.15 * (2 * torch.rand((3, IMAGE_SIZE, IMAGE_SIZE), generator=gen, dtype=torch.float64) - 1)
    levels = torch.clamp(torch.round((smooth + noise) * 255), 0, 255)
    return (levels.to(torch.float32) / 255.0).unsqueeze(0)


# ---- name mappings -------------------------------------------------------------------------------

def stage_network_indices(n_stages=5, downsample=(False, True, True, True, True), pos_emb=(False, False, False, True, True)):
    """mci.py flattens the stages into `network`: [blocks0, down1, blocks1, down2, ..., down3, pe3, blocks3, ...].
    Returns {stage: {"downsample": i, "pos_emb": i, "blocks": i}}."""
    out, i = {}, 0
    for s in range(n_stages):
        d = {}
        if downsample[s]:
            d["downsample"], i = i, i + 1
        if pos_emb[s]:
            d["pos_emb"], i = i, i + 1
        d["blocks"], i = i, i + 1
        out[s] = d
    return out


NETWORK = stage_network_indices()


def timm_to_mci(key: str) -> str:
    """timm FastVit (either form) state-dict key -> original mci.py FastViT key."""
    m = re.match(r"^stages\.(\d+)\.(downsample\.proj|pos_emb|blocks)\.(.*)$", key)
    if m:
        s, part, rest = int(m.group(1)), m.group(2), m.group(3)
        if part == "downsample.proj":
            key = f"network.{NETWORK[s]['downsample']}.proj.{rest}"
        elif part == "pos_emb":
            key = f"network.{NETWORK[s]['pos_emb']}.{rest}"
        else:
            key = f"network.{NETWORK[s]['blocks']}.{rest}"
    key = re.sub(r"^stem\.", "patch_embed.", key)
    key = re.sub(r"^final_conv\.", "conv_exp.", key)
    key = key.replace(".se.fc1.", ".se.reduce.").replace(".se.fc2.", ".se.expand.")
    key = key.replace(".mlp.", ".convffn.")
    key = re.sub(r"layer_scale(_[12])?\.gamma$", r"layer_scale\1", key)
    # train-time branch names
    key = key.replace(".conv_kxk.", ".rbr_conv.").replace(".conv_scale.", ".rbr_scale.")
    key = key.replace(".identity.", ".rbr_skip.").replace(".large_conv.", ".lkb_origin.")
    key = key.replace(".pos_enc.", ".pe.")
    # inference-time ReparamLargeKernelConv is `lkb_reparam` in mci.py (timm calls every folded conv reparam_conv)
    key = re.sub(r"^(network\.\d+\.proj\.0)\.reparam_conv\.", r"\1.lkb_reparam.", key)
    return key


def native_to_llava(key: str) -> str:
    """transformers FastVlm key -> original llava_qwen2 key (inverse of convert_fastvlm_weights_to_hf.py)."""
    if key.startswith("model.vision_tower.timm_model."):
        return V + timm_to_mci(key[len("model.vision_tower.timm_model."):])
    key = key.replace("model.multi_modal_projector.linear_1.", "model.mm_projector.0.")
    key = key.replace("model.multi_modal_projector.linear_2.", "model.mm_projector.2.")
    key = key.replace("model.language_model.", "model.")
    return key


def converter_llava_to_native(key: str) -> str:
    """The forward mapping of transformers' convert_fastvlm_weights_to_hf.py (convert_state_dict_to_hf),
    restated here to check that native_to_llava() is its inverse."""
    def map_to_stage(n):
        n = int(n)
        return 0 if n == 0 else 1 if n in (1, 2) else 2 if n in (3, 4) else 3 if n in (5, 6, 7) else 4
    if key.endswith("layer_scale"):
        key = key.replace("layer_scale", "layer_scale.gamma")
    if key.startswith("model.norm"):
        key = key.replace("model.norm", "model.language_model.norm")
    if "token_mixer" not in key:
        key = key.replace(".proj.", ".downsample.proj.")
    m = re.findall(r"network\.(\d{1,2})\.(\d{1,2})", key)
    if len(m) == 1:
        key = key.replace(f"network.{m[0][0]}.{m[0][1]}", f"stages.{map_to_stage(m[0][0])}.blocks.{m[0][1]}")
    m = re.findall(r"network\.(\d{1,2})", key)
    if len(m) == 1:
        key = key.replace(f"network.{m[0]}", f"stages.{map_to_stage(m[0])}")
    m = re.findall(r"stages\.(\d{1,2})\.reparam_conv", key)
    if len(m) == 1:
        key = key.replace(f"stages.{m[0]}", f"stages.{m[0]}.pos_emb")
    for old, new in [("model.vision_tower.vision_tower.model", "model.vision_tower.timm_model"),
                     ("patch_embed", "stem"), ("layers", "language_model.layers"),
                     ("embed_tokens", "language_model.embed_tokens"), ("layer_scale_1", "layer_scale_1.gamma"),
                     ("layer_scale_2", "layer_scale_2.gamma"), ("mm_projector.0", "multi_modal_projector.linear_1"),
                     ("mm_projector.2", "multi_modal_projector.linear_2"), ("conv_exp", "final_conv"),
                     ("se.reduce", "se.fc1"), ("se.expand", "se.fc2"), ("convffn", "mlp"),
                     ("lkb_reparam", "reparam_conv")]:
        if old in key:
            key = key.replace(old, new)
    return key


# ---- model construction ------------------------------------------------------------------------------

def build_config() -> FastVlmConfig:
    vision = {
        "model_type": "timm_wrapper",
        "architecture": "fastvit_mci3",
        "do_pooling": True,
        "global_pool": "avg",
        "hidden_size": MM_HIDDEN,
        "initializer_range": 0.02,
        "model_args": {"inference_mode": True, "layers": VISION_DEPTHS, "embed_dims": VISION_WIDTHS},
    }
    text = {
        "model_type": "qwen2",
        "vocab_size": VOCAB,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "hidden_act": "silu",
        "max_position_embeddings": 512,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "bos_token_id": ENDOFTEXT_ID,
        "eos_token_id": IM_END_ID,
    }
    config = FastVlmConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN_ID,
                           image_seq_length=N_IMAGE_TOKENS, tie_word_embeddings=False)
    return config


def build_train_time_tower(gen, calibration_images) -> torch.nn.Module:
    """Random train-time tower whose BatchNorm statistics are those of its own activations on the
    calibration images (then perturbed), so every layer sees roughly normalised inputs like a
    trained network would; with arbitrary statistics the first layers saturate into GELU's flat tail."""
    tower = timm.create_model("fastvit_mci3", pretrained=False, num_classes=0, inference_mode=False,
                              layers=VISION_DEPTHS, embed_dims=VISION_WIDTHS)
    randomise_(tower, gen)
    bns = [m for m in tower.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None                       # cumulative average over the calibration passes
    tower.train()
    with torch.no_grad():
        tower.forward_features(calibration_images)
        for bn in bns:
            std = bn.running_var.sqrt()
            bn.running_mean.add_(0.1 * std * torch.randn(bn.running_mean.shape, generator=gen))
            bn.running_var.mul_(0.8 + 0.45 * torch.rand(bn.running_var.shape, generator=gen))
            bn.num_batches_tracked.fill_(1000 + int(torch.randint(0, 1000, (1,), generator=gen)))
            bn.momentum = 0.1
    return tower.eval()


def llava_config() -> dict:
    """config.json of the original llava_qwen2 layout (fields as in FastVLM-0.5B, tiny sizes)."""
    return {
        "architectures": ["LlavaQwen2ForCausalLM"],
        "model_type": "llava_qwen2",
        "attention_dropout": 0.0,
        "bos_token_id": ENDOFTEXT_ID,
        "eos_token_id": IM_END_ID,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "image_aspect_ratio": "pad",
        "image_grid_pinpoints": None,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": 512,
        "max_window_layers": LAYERS,
        "mm_hidden_size": MM_HIDDEN,
        "mm_patch_merge_type": "flat",
        "mm_projector_lr": None,
        "mm_projector_type": "mlp2x_gelu",
        "mm_use_im_patch_token": False,
        "mm_use_im_start_end": False,
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2,
        "mm_vision_tower": f"mobileclip_l_{IMAGE_SIZE}",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": 512,
        "tie_word_embeddings": False,
        "tokenizer_model_max_length": 512,
        "tokenizer_padding_side": "right",
        "torch_dtype": "float32",
        "transformers_version": "4.39.3",
        "tune_mm_mlp_adapter": False,
        "unfreeze_mm_vision_tower": True,
        "use_cache": True,
        "use_mm_proj": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB,
    }


# ---- reference computation -----------------------------------------------------------------------

def vision_activations(timm_model, pixel_values):
    """Runs the timm tower and returns {name: activation} for stem, each stage (and its downsample /
    pos_emb where present) and final_conv."""
    acts, hooks = {}, []

    def keep(name):
        def hook(_m, _inp, out):
            acts[name] = out.detach().clone()
        return hook
    hooks.append(timm_model.stem.register_forward_hook(keep("vision.stem")))
    for s, stage in enumerate(timm_model.stages):
        if not isinstance(stage.downsample, torch.nn.Identity):
            hooks.append(stage.downsample.register_forward_hook(keep(f"vision.stage{s}.downsample")))
        if not isinstance(stage.pos_emb, torch.nn.Identity):
            hooks.append(stage.pos_emb.register_forward_hook(keep(f"vision.stage{s}.pos_emb")))
        hooks.append(stage.register_forward_hook(keep(f"vision.stage{s}")))
    hooks.append(timm_model.final_conv.register_forward_hook(keep("vision.final_conv")))
    with torch.no_grad():
        out = timm_model.forward_features(pixel_values)
    for h in hooks:
        h.remove()
    assert torch.equal(out, acts["vision.final_conv"])
    return acts


def llava_splice(model, ids_before, ids_after, image_embeds):
    """The original llava path: embed the text chunks and insert the projected image tokens where
    the single -200 placeholder was."""
    embed = model.model.language_model.embed_tokens
    with torch.no_grad():
        return torch.cat([embed(ids_before), image_embeds[0], embed(ids_after)], dim=0).unsqueeze(0)


def greedy_without_cache(model, inputs_embeds, n_new):
    """Plain greedy decoding by full recomputation (no KV cache), from spliced embeddings."""
    embed = model.model.language_model.embed_tokens
    tokens, margins = [], []
    x = inputs_embeds
    with torch.no_grad():
        for _ in range(n_new):
            logits = model(inputs_embeds=x).logits[0, -1]
            top2 = torch.topk(logits, 2)
            tokens.append(int(top2.indices[0]))
            margins.append(float(top2.values[0] - top2.values[1]))
            x = torch.cat([x, embed(top2.indices[:1]).unsqueeze(0)], dim=1)
    return tokens, margins


# ---- independent restatement of the math (spec/fastvlm.md), used as a cross-check -------------------

def spec_vision_forward(w: dict, x: torch.Tensor) -> torch.Tensor:
    """FastViTHD inference forward written from the llava names and the formulas of the spec
    (mci.py semantics: LayerNormChannel with biased variance, explicit attention)."""
    F = torch.nn.functional

    def conv(x, prefix, stride=1, groups=1):
        wt = w[prefix + ".weight"]
        return F.conv2d(x, wt, w.get(prefix + ".bias"), stride=stride, padding=wt.shape[-1] // 2, groups=groups)

    def convffn(x, p):
        c = x.shape[1]
        h = F.conv2d(x, w[p + "conv.conv.weight"], None, padding=3, groups=c)
        s = w[p + "conv.bn.weight"] / torch.sqrt(w[p + "conv.bn.running_var"] + 1e-5)
        h = (h - w[p + "conv.bn.running_mean"].view(1, -1, 1, 1)) * s.view(1, -1, 1, 1) + w[p + "conv.bn.bias"].view(1, -1, 1, 1)
        h = F.gelu(conv(h, p + "fc1"))
        return conv(h, p + "fc2")

    def layer_norm_channel(x, p):
        u = x.mean(1, keepdim=True)
        var = (x - u).pow(2).mean(1, keepdim=True)
        return w[p + "weight"].view(1, -1, 1, 1) * (x - u) / torch.sqrt(var + 1e-5) + w[p + "bias"].view(1, -1, 1, 1)

    def attention(x, p):
        b, c, hh, ww = x.shape
        heads, hd = c // 32, 32
        t = x.flatten(2).transpose(1, 2)                                       # [B, N, C]
        qkv = (t @ w[p + "qkv.weight"].T).reshape(b, -1, 3, heads, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * hd ** -0.5, qkv[1], qkv[2]
        o = ((q @ k.transpose(-2, -1)).softmax(-1) @ v).transpose(1, 2).reshape(b, -1, c)
        o = o @ w[p + "proj.weight"].T + w[p + "proj.bias"]
        return o.transpose(1, 2).reshape(b, c, hh, ww)

    x = F.gelu(conv(x, V + "patch_embed.0.reparam_conv", stride=2))
    x = F.gelu(conv(x, V + "patch_embed.1.reparam_conv", stride=2, groups=x.shape[1]))
    x = F.gelu(conv(x, V + "patch_embed.2.reparam_conv"))
    for s in range(5):
        idx = NETWORK[s]
        if "downsample" in idx:
            p = V + f"network.{idx['downsample']}.proj."
            x = F.gelu(conv(x, p + "0.lkb_reparam", stride=2, groups=x.shape[1]))
            x = F.gelu(conv(x, p + "1.reparam_conv"))
        if "pos_emb" in idx:
            x = conv(x, V + f"network.{idx['pos_emb']}.reparam_conv", groups=x.shape[1])
        b = 0
        while V + f"network.{idx['blocks']}.{b}.convffn.fc1.weight" in w:
            p = V + f"network.{idx['blocks']}.{b}."
            if s < 3:
                x = conv(x, p + "token_mixer.reparam_conv", groups=x.shape[1])
                x = x + w[p + "layer_scale"] * convffn(x, p + "convffn.")
            else:
                x = x + w[p + "layer_scale_1"] * attention(layer_norm_channel(x, p + "norm."), p + "token_mixer.")
                x = x + w[p + "layer_scale_2"] * convffn(x, p + "convffn.")
            b += 1
    x = conv(x, V + "conv_exp.reparam_conv", groups=x.shape[1])
    se = x.mean((2, 3), keepdim=True)
    se = torch.sigmoid(conv(torch.relu(conv(se, V + "conv_exp.se.reduce")), V + "conv_exp.se.expand"))
    return F.gelu(x * se)


def spec_llm_forward(w: dict, embeds: torch.Tensor) -> tuple:
    """Qwen2 prefill from spliced embeddings [L, hidden] -> (final-norm hidden [L, hidden], logits [L, vocab])."""
    def rms(x, wt):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * wt
    hd = HIDDEN // HEADS
    n = embeds.shape[0]
    pos = torch.arange(n, dtype=torch.float32)
    inv_freq = 1.0 / (1e6 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    ang = torch.cat([pos[:, None] * inv_freq[None], pos[:, None] * inv_freq[None]], -1)    # [L, hd]
    cos, sin = ang.cos(), ang.sin()

    def rope(t):                                                            # [heads, L, hd], rotate_half pairs (i, i + hd/2)
        return t * cos + torch.cat([-t[..., hd // 2:], t[..., :hd // 2]], -1) * sin
    mask = torch.full((n, n), float("-inf")).triu(1)
    x = embeds
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = (h @ w[p + "self_attn.q_proj.weight"].T + w[p + "self_attn.q_proj.bias"]).view(n, HEADS, hd).transpose(0, 1)
        k = (h @ w[p + "self_attn.k_proj.weight"].T + w[p + "self_attn.k_proj.bias"]).view(n, KV_HEADS, hd).transpose(0, 1)
        v = (h @ w[p + "self_attn.v_proj.weight"].T + w[p + "self_attn.v_proj.bias"]).view(n, KV_HEADS, hd).transpose(0, 1)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(HEADS // KV_HEADS, 0)                      # q head j uses kv head j // (HEADS / KV_HEADS)
        v = v.repeat_interleave(HEADS // KV_HEADS, 0)
        a = ((q @ k.transpose(-2, -1)) / hd ** 0.5 + mask).softmax(-1) @ v
        x = x + a.transpose(0, 1).reshape(n, HIDDEN) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        g = torch.nn.functional.silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
        x = x + g @ w[p + "mlp.down_proj.weight"].T
    hidden = rms(x, w["model.norm.weight"])
    return hidden, hidden @ w["lm_head.weight"].T


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)

    # 1. train-time tower, randomised; its folded copy is the model's vision tower
    pixel_values = smooth_noisy_image(gen)
    calibration = torch.cat([pixel_values, torch.rand((3, 3, IMAGE_SIZE, IMAGE_SIZE), generator=gen)])
    train_tower = build_train_time_tower(gen, calibration)
    folded = timm.utils.reparameterize_model(train_tower, inplace=False).eval()

    config = build_config()
    model = FastVlmForConditionalGeneration(config).eval()
    randomise_(model.model.multi_modal_projector, gen)
    randomise_(model.model.language_model, gen)
    randomise_(model.lm_head, gen, lm_head_gain=2.0)
    with torch.no_grad():   # special and padding rows score low, as in a trained model: greedy never emits them
        model.lm_head.weight[ENDOFTEXT_ID:] *= 0.25
    missing, unexpected = model.model.vision_tower.timm_model.load_state_dict(folded.state_dict(), strict=True)
    assert not missing and not unexpected

    # 2. native layout, exactly as save_pretrained writes it; everything below uses the reloaded model
    native_dir = os.path.join(OUT_DIR, "native")
    shutil.rmtree(native_dir, ignore_errors=True)
    model.save_pretrained(native_dir)
    model = FastVlmForConditionalGeneration.from_pretrained(native_dir).eval()
    native_sd = load_file(os.path.join(native_dir, "model.safetensors"))

    # 3. llava layout: rename, add GlobalPool2D head.proj (present in the original checkpoint, unused)
    llava_sd = {native_to_llava(k): v.contiguous() for k, v in native_sd.items()}
    assert len(llava_sd) == len(native_sd)
    llava_sd[V + "head.proj"] = torch.randn((MM_HIDDEN, HEAD_PROJ_DIM), generator=gen) / MM_HIDDEN ** 0.5
    # the converter's mapping takes every llava name back to the native one
    assert {converter_llava_to_native(k) for k in llava_sd if k != V + "head.proj"} == set(native_sd)
    llava_dir = os.path.join(OUT_DIR, "llava")
    shutil.rmtree(llava_dir, ignore_errors=True)
    os.makedirs(llava_dir)
    save_file(dict(sorted(llava_sd.items())), os.path.join(llava_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(llava_dir, "config.json"), "w") as f:
        json.dump(llava_config(), f, indent=2)
        f.write("\n")
    # reload the llava file through the converter mapping: must be bit-identical to the native weights
    reloaded = {converter_llava_to_native(k): v for k, v in load_file(os.path.join(llava_dir, "model.safetensors")).items()
                if k != V + "head.proj"}
    for k, v in native_sd.items():
        assert torch.equal(reloaded[k], v), k

    # 4. train-time tower in mci.py names (+ head.proj); check the names against timm's own remapping
    train_sd = {timm_to_mci(k): v.contiguous() for k, v in train_tower.state_dict().items()}
    back = checkpoint_filter_fn(dict(train_sd), train_tower)
    assert set(back) == set(train_tower.state_dict()), set(back) ^ set(train_tower.state_dict())
    for k, v in train_tower.state_dict().items():
        assert torch.equal(back[k], v), k
    train_llava = {V + k: v for k, v in train_sd.items()}
    train_llava[V + "head.proj"] = llava_sd[V + "head.proj"]
    save_file(dict(sorted(train_llava.items())), os.path.join(OUT_DIR, "vision_train_time.safetensors"),
              metadata={"format": "pt"})

    # 5. reference activations
    ref = {"pixel_values": pixel_values}
    acts = vision_activations(model.model.vision_tower.timm_model, pixel_values)
    ref.update(acts)
    with torch.no_grad():
        train_out = train_tower.forward_features(pixel_values)
    ref["train_time.final_conv"] = train_out
    fold_err = float((train_out - acts["vision.final_conv"]).abs().max())

    with torch.no_grad():
        image_out = model.model.get_image_features(pixel_values=pixel_values)
        image_features = acts["vision.final_conv"].flatten(2).transpose(1, 2)     # [1, 16, mm_hidden]
        image_embeds = image_out.pooler_output                                      # [1, 16, hidden]
        assert torch.equal(image_out.last_hidden_state, acts["vision.final_conv"])
        assert torch.allclose(model.model.multi_modal_projector(image_features), image_embeds, rtol=0, atol=0)
    ref["image_features"] = image_features
    ref["image_embeds"] = image_embeds

    # prompt: the two text chunks around <image>, tokenized by the tiny tokenizer
    tokenizer = tokenizers.Tokenizer.from_file(TOKENIZER_PATH)
    assert tokenizer.get_vocab_size() == IMAGE_TOKEN_ID
    assert [tokenizer.token_to_id(t) for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>")] == [ENDOFTEXT_ID, IM_START_ID, IM_END_ID]
    ids_before = torch.tensor(tokenizer.encode(PROMPT_BEFORE_IMAGE).ids, dtype=torch.int64)
    ids_after = torch.tensor(tokenizer.encode(PROMPT_AFTER_IMAGE).ids, dtype=torch.int64)
    input_ids_native = torch.cat([ids_before, torch.full((N_IMAGE_TOKENS,), IMAGE_TOKEN_ID), ids_after]).unsqueeze(0)
    input_ids_llava = torch.cat([ids_before, torch.tensor([LLAVA_IMAGE_SENTINEL]), ids_after]).unsqueeze(0)
    seq_len = input_ids_native.shape[1]
    ref.update({"text_ids_before": ids_before, "text_ids_after": ids_after,
                "input_ids_native": input_ids_native, "input_ids_llava": input_ids_llava})

    # native forward: the model scatters the 16 image embeddings over the 16 repeated image tokens
    layer_outs, hooks = {}, []
    for i, layer in enumerate(model.model.language_model.layers):
        hooks.append(layer.register_forward_hook(
            lambda _m, _i, out, i=i: layer_outs.__setitem__(i, (out[0] if isinstance(out, tuple) else out).detach().clone())))
    final_norm = {}
    hooks.append(model.model.language_model.norm.register_forward_hook(
        lambda _m, _i, out: final_norm.__setitem__("h", out.detach().clone())))
    with torch.no_grad():
        native_out = model(input_ids=input_ids_native, pixel_values=pixel_values)
    for h in hooks:
        h.remove()
    logits = native_out.logits[0]                                                    # [seq, vocab]
    with torch.no_grad():
        hidden_out = model.model(input_ids=input_ids_native, pixel_values=pixel_values).last_hidden_state
    assert torch.equal(hidden_out, final_norm["h"])

    # llava path: splice by hand, compare
    spliced = llava_splice(model, ids_before, ids_after, image_embeds)
    with torch.no_grad():
        llava_logits = model(inputs_embeds=spliced).logits[0]
        native_embeds = model.model.language_model.embed_tokens(input_ids_native)
        mask = (input_ids_native == IMAGE_TOKEN_ID).unsqueeze(-1)
        native_spliced = native_embeds.masked_scatter(mask, image_embeds)
    assert torch.equal(native_spliced, spliced), "native and llava splicing disagree"
    splice_logit_diff = float((llava_logits - logits).abs().max())
    assert splice_logit_diff == 0.0, splice_logit_diff

    ref["inputs_embeds"] = spliced
    for i in sorted(layer_outs):
        ref[f"llm.layer{i}.output"] = layer_outs[i]
    ref["llm.final_norm"] = final_norm["h"]
    logit_positions = [0, len(ids_before), len(ids_before) + N_IMAGE_TOKENS - 1, len(ids_before) + N_IMAGE_TOKENS, seq_len - 1]
    ref["logits_positions"] = torch.tensor(logit_positions, dtype=torch.int64)
    ref["logits_at_positions"] = logits[logit_positions]
    ref["logits_last"] = logits[-1]

    # greedy generation with transformers (KV cache), no eos stopping
    gen_config = GenerationConfig(do_sample=False, max_new_tokens=N_GENERATE, min_new_tokens=0, eos_token_id=None,
                                  pad_token_id=ENDOFTEXT_ID, bos_token_id=None, num_beams=1, use_cache=True,
                                  output_logits=True, return_dict_in_generate=True)
    model.generation_config.eos_token_id = None   # else generate() merges in eos from generation_config.json
    with torch.no_grad():
        out = model.generate(input_ids=input_ids_native, pixel_values=pixel_values, generation_config=gen_config)
    generated = out.sequences[0, seq_len:]
    step_logits = torch.stack([l[0] for l in out.logits])                           # [32, vocab]
    assert generated.shape[0] == N_GENERATE
    assert torch.equal(generated, step_logits.argmax(-1))
    # same tokens from the llava-spliced embeddings by plain full recomputation
    tokens, margins = greedy_without_cache(model, spliced, N_GENERATE)
    assert tokens == generated.tolist(), (tokens, generated.tolist())
    assert all(t < IMAGE_TOKEN_ID and t != IM_END_ID for t in tokens), "generated a special id; change SEED"
    ref["generated_ids"] = generated.to(torch.int64)
    ref["generated_logits"] = step_logits
    ref["generated_top1_margin"] = torch.tensor(margins, dtype=torch.float32)

    # the spec's formulas, run on the llava-named weights, reproduce the reference
    with torch.no_grad():
        spec_vision = spec_vision_forward(llava_sd, pixel_values)
        spec_embeds = torch.nn.functional.linear(
            torch.nn.functional.gelu(torch.nn.functional.linear(
                spec_vision.flatten(2).transpose(1, 2)[0], llava_sd["model.mm_projector.0.weight"], llava_sd["model.mm_projector.0.bias"])),
            llava_sd["model.mm_projector.2.weight"], llava_sd["model.mm_projector.2.bias"])
        spec_seq = torch.cat([llava_sd["model.embed_tokens.weight"][ids_before], spec_embeds,
                              llava_sd["model.embed_tokens.weight"][ids_after]])
        spec_hidden, spec_logits = spec_llm_forward(llava_sd, spec_seq)
    spec_errs = {
        "vision.final_conv": rel_err(spec_vision, acts["vision.final_conv"]),
        "image_embeds": rel_err(spec_embeds, image_embeds[0]),
        "llm.final_norm": rel_err(spec_hidden, final_norm["h"][0]),
        "logits": rel_err(spec_logits, logits),
    }
    print("spec restatement max relative error:", spec_errs)
    assert all(e < 1e-4 for e in spec_errs.values()), spec_errs

    ref = {k: v.contiguous() for k, v in ref.items()}
    for k, v in ref.items():
        assert v.dtype in (torch.float32, torch.int64), k
    save_file(ref, os.path.join(OUT_DIR, "reference.safetensors"), metadata={"format": "pt"})

    write_readme(ref, native_sd, llava_sd, train_llava, fold_err, min(margins))
    print("fold max |train - folded| =", fold_err, " min greedy margin =", min(margins))
    print("generated:", generated.tolist())


def write_readme(ref, native_sd, llava_sd, train_llava, fold_err, min_margin):
    def sizes(d):
        return sum(v.numel() * v.element_size() for v in d.values())
    lines = [
        "Tiny random FastVLM golden fixtures (see docs/golden-fixtures.md for every tensor).",
        "Made by:  python3 tools/golden/fastvlm_tiny.py   (from the repo root; TIMM_FUSED_ATTN=0 is set inside)",
        f"Versions: torch {torch.__version__}, transformers {transformers.__version__}, timm {timm.__version__}, "
        f"safetensors {safetensors.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}",
        f"Seed {SEED}. Vision depths {VISION_DEPTHS}, widths {VISION_WIDTHS}, mm_hidden {MM_HIDDEN}, image {IMAGE_SIZE}x{IMAGE_SIZE} "
        f"-> {N_IMAGE_TOKENS} tokens. Qwen2 hidden {HIDDEN}, layers {LAYERS}, heads {HEADS}, kv heads {KV_HEADS}, "
        f"intermediate {INTERMEDIATE}, vocab {VOCAB}, rope_theta 1e6, rms eps 1e-6, untied lm_head.",
        f"Token ids: ordinary < {ENDOFTEXT_ID}; endoftext {ENDOFTEXT_ID}, im_start {IM_START_ID}, im_end {IM_END_ID} (eos), "
        f"image token {IMAGE_TOKEN_ID} (native), -200 placeholder (llava).",
        f"Prompt: {PROMPT_BEFORE_IMAGE!r} <image> {PROMPT_AFTER_IMAGE!r}, each chunk tokenized by {TOKENIZER_PATH} "
        f"(tokenizers {tokenizers.__version__}).",
        "",
        f"native/   save_pretrained of FastVlmForConditionalGeneration: {len(native_sd)} tensors",
        f"llava/    same weights, llava_qwen2 names + {V}head.proj [{MM_HIDDEN},{HEAD_PROJ_DIM}] (unused): {len(llava_sd)} tensors",
        f"vision_train_time.safetensors  un-folded tower, mci.py names: {len(train_llava)} tensors; "
        f"folding it reproduces llava/ vision weights; max |train-time - folded| output diff {fold_err:.3g}",
        f"reference.safetensors  fp32 / int64; smallest top-1 logit margin during greedy decoding: {min_margin:.4f}",
        "",
        "reference.safetensors tensors:",
    ]
    for k, v in ref.items():
        lines.append(f"  {k:34s} {str(v.dtype).replace('torch.', ''):8s} {list(v.shape)}")
    with open(os.path.join(OUT_DIR, "README.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

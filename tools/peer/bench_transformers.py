"""Peer numbers for ./bench: transformers (+ bitsandbytes) on this CPU, same weights, image, prompt and method.

Runs FastVlmForConditionalGeneration on the checkpoint ./bench reads, with the built-in 1024x1024 test
image (the integer formula of the bench, so both see identical pixels) or --image FILE, the FastVLM chat
template around --prompt, and greedy decoding of exactly --max-new-tokens tokens (end-of-text ignored).
Each weight mode is loaded in its own fresh subprocess, so the memory of one mode never counts for the
next; inside it: load (+ quantize), --warmup untimed generations, --iters timed ones, then one
teacher-forced pass on fp16's greedy tokens for the quality columns. Writes the JSON of
benchmarks/bench_report.h (schema "fastvlm-bench/1") for `./bench --compare FILE`.

Modes, as a transformers user gets them (the lm_head stays fp16, as transformers skips it):
  fp16      dtype=float16
  int8      BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=6.0)   (LLM.int8, model.eval())
  nf4-fp32  BitsAndBytesConfig(load_in_4bit=True, nf4, double quant, compute dtype float32)
  nf4-fp16  the same with compute dtype float16
  w4a4      not measured: transformers/bitsandbytes have no W4A4 path
Where transformers refuses bitsandbytes (it needs accelerate), the Qwen2 linears are swapped for
bnb.nn.Linear8bitLt / Linear4bit by hand and quantized by bitsandbytes itself; the notes say which.

The vision tower runs in fp32 in every mode unless --vision-dtype fp16: torch's CPU fp16 convolutions are
about 30x slower than fp32 ones, which would make one image take many minutes.

Usage, from the repository root (interpreter and versions: tools/peer/README.md):
    python3 tools/peer/bench_transformers.py --json build/peer/transformers.json
    python3 tools/peer/bench_transformers.py --modes fp16,int8 --iters 1 --max-new-tokens 4
"""
import argparse
import collections
import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

DEFAULT_MODEL = "build/synthetic-fastvlm-0.5b"
CHECKPOINT_TOOL = "build/tools/make_synthetic_checkpoint"
DEFAULT_PROMPT = "Describe the image."
ALL_MODES = ["fp16", "int8", "nf4-fp32", "nf4-fp16", "w4a4"]
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
IMAGE_SIDE = 1024
PEAK_NOTE = ("peak_bytes: growth of the process's peak resident set (getrusage ru_maxrss) from just before "
             "loading to the end of the timed runs, one fresh process per mode; torch keeps no CPU allocator "
             "statistics, so this counts everything the process touched, file-mapped checkpoint pages included")


# ----------------------------------------------------------------------------------------------------
# inputs shared with ./bench

def builtin_image():
    """The bench's procedural test image: [1024, 1024, 3] uint8 from integer arithmetic only."""
    y, x = np.mgrid[0:IMAGE_SIDE, 0:IMAGE_SIDE].astype(np.int64)
    r = (x * 255) // 1023
    g = (y * 255) // 1023
    d2 = (x - 512) ** 2 + (y - 512) ** 2
    b = np.where(d2 < 300 * 300, 255 - (d2 * 255) // (300 * 300), ((x // 64 + y // 64) % 2) * 160 + 40)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def file_image(path):
    """FastVLM preprocessing of a file: pad to a square with black, bicubic resize to 1024x1024."""
    from PIL import Image
    img = Image.open(path).convert("RGB")
    side = max(img.size)
    if img.size[0] != img.size[1]:
        square = Image.new("RGB", (side, side), (0, 0, 0))
        square.paste(img, ((side - img.size[0]) // 2, (side - img.size[1]) // 2))
        img = square
    if side != IMAGE_SIDE:
        img = img.resize((IMAGE_SIDE, IMAGE_SIDE), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


def prompt_ids(tokenizer, question, image_token_id, image_tokens):
    """The FastVLM chat template with the image placeholder expanded to image_tokens positions."""
    before = tokenizer.encode(SYSTEM, add_special_tokens=False).ids
    after = tokenizer.encode("\n" + question + "<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False).ids
    return before + [image_token_id] * image_tokens + after


def model_type(directory):
    with open(os.path.join(directory, "config.json")) as f:
        return json.load(f).get("model_type", "")


def ensure_synthetic(directory, layout):
    if os.path.exists(os.path.join(directory, "config.json")):
        return
    if not os.path.exists(CHECKPOINT_TOOL):
        sys.exit(f"{directory} is missing and so is {CHECKPOINT_TOOL}: run `make` first")
    print(f"writing the synthetic checkpoint {directory} ({layout}) ...", file=sys.stderr, flush=True)
    subprocess.run([CHECKPOINT_TOOL, "--out", directory, "--size", "full", "--layout", layout, "--dtype", "f16"],
                   check=True)


def resolve_checkpoints(args):
    """(checkpoint ./bench reads, fast_vlm-layout directory transformers loads)."""
    if args.model == DEFAULT_MODEL:
        ensure_synthetic(DEFAULT_MODEL, "llava_qwen2")
        ensure_synthetic(DEFAULT_MODEL + "-native", "fast_vlm")
    hf_dir = args.hf_model
    if not hf_dir:
        hf_dir = args.model if model_type(args.model) == "fast_vlm" else args.model.rstrip("/") + "-native"
    if not os.path.exists(os.path.join(hf_dir, "config.json")) or model_type(hf_dir) != "fast_vlm":
        sys.exit(f"{hf_dir}: no fast_vlm-layout checkpoint for transformers to load; pass one with --hf-model")
    return args.model, hf_dir


# ----------------------------------------------------------------------------------------------------
# one mode, inside its own process

def stat(values):
    if not values:
        return {"median": 0.0, "min": 0.0, "max": 0.0, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def skipped(mode, label, reason):
    """A ModeResult with every field present, marked as not measured."""
    zero = {"median": 0.0, "min": 0.0, "max": 0.0, "n": 0}
    return {"mode": mode, "label": label, "measured": False, "skipped_reason": reason,
            "vision_weight_bytes": 0, "llm_weight_bytes": 0, "peak_bytes": 0, "driver_peak_bytes": -1,
            "load_seconds": 0, "vision_ms": zero, "prefill_tokens_per_s": zero, "ttft_ms": zero,
            "decode_ms_per_token": zero, "decode_tokens_per_s": zero, "e2e_ms": zero, "prompt_tokens": 0,
            "new_tokens": 0, "decode_bytes_per_token": 0, "achieved_gbps": 0, "roofline_fraction": 0,
            "has_quality": False, "top1_agreement": 0, "kl_divergence": 0, "max_logit_error": 0,
            "same_text": False, "text": ""}


def held_bytes(modules):
    """Bytes of every tensor the modules hold (bitsandbytes quantization state included), each counted once."""
    import torch
    seen = set()
    total = 0

    def add(t):
        nonlocal total
        if torch.is_tensor(t) and t.data_ptr() not in seen and t.numel() > 0:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()

    for module in modules:
        for p in module.parameters():
            add(p.data)
        for b in module.buffers():
            add(b)
        for m in module.modules():
            weight = getattr(m, "weight", None)
            qs = getattr(weight, "quant_state", None)
            if qs is not None:
                for t in (qs.absmax, qs.code, qs.offset):
                    add(t)
                if qs.state2 is not None:
                    add(qs.state2.absmax)
                    add(qs.state2.code)
            add(getattr(weight, "SCB", None))
            state = getattr(m, "state", None)
            add(getattr(state, "SCB", None))
    return total


def bnb_config(mode, skip):
    import torch
    from transformers import BitsAndBytesConfig
    if mode == "int8":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_threshold=6.0, llm_int8_skip_modules=skip)
    compute = torch.float32 if mode == "nf4-fp32" else torch.float16
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute, llm_int8_skip_modules=skip)


def swap_in_bnb_linears(model, mode, parents):
    """Replace every nn.Linear under `parents` by its bitsandbytes module; .to('cpu') quantizes it."""
    import bitsandbytes as bnb
    import torch
    for parent in parents:
        for owner in list(parent.modules()):
            for name, child in list(owner.named_children()):
                if type(child) is not torch.nn.Linear:
                    continue
                has_bias = child.bias is not None
                if mode == "int8":
                    q = bnb.nn.Linear8bitLt(child.in_features, child.out_features, bias=has_bias,
                                            has_fp16_weights=False, threshold=6.0)
                    q.weight = bnb.nn.Int8Params(child.weight.data.to(torch.float16), requires_grad=False,
                                                 has_fp16_weights=False)
                else:
                    compute = torch.float32 if mode == "nf4-fp32" else torch.float16
                    q = bnb.nn.Linear4bit(child.in_features, child.out_features, bias=has_bias,
                                          compute_dtype=compute, compress_statistics=True, quant_type="nf4")
                    q.weight = bnb.nn.Params4bit(child.weight.data.to(torch.float16), requires_grad=False,
                                                 compress_statistics=True, quant_type="nf4", module=q)
                if has_bias:
                    q.bias = torch.nn.Parameter(child.bias.data, requires_grad=False)
                setattr(owner, name, q.to("cpu"))


def load_model(args, hf_dir, mode):
    """The model of `mode` and a line saying how it was made."""
    import torch
    from transformers import FastVlmForConditionalGeneration
    common = dict(dtype=torch.float16, attn_implementation="eager")
    quantize_projector = args.vision_mode == "same"
    how = "fp16 weights via from_pretrained(dtype=float16)"
    if mode != "fp16":
        # transformers matches these against full module names, from the start or as a suffix.
        skip = ["lm_head", "model.vision_tower"] + ([] if quantize_projector else ["model.multi_modal_projector"])
        why_by_hand = "--direct-bnb"
        if not args.direct_bnb:
            try:
                model = FastVlmForConditionalGeneration.from_pretrained(
                    hf_dir, quantization_config=bnb_config(mode, skip), device_map="cpu", **common)
                how = f"transformers BitsAndBytesConfig, llm_int8_skip_modules={skip}"
                why_by_hand = ""
            except Exception as refused:  # transformers' own words go into the report
                why_by_hand = f"transformers refused: {type(refused).__name__}: {refused}"
        if why_by_hand:
            model = FastVlmForConditionalGeneration.from_pretrained(hf_dir, **common)
            parents = [model.model.language_model] + ([model.model.multi_modal_projector] if quantize_projector else [])
            swap_in_bnb_linears(model, mode, parents)
            how = (f"bitsandbytes modules swapped in by hand for the nn.Linear layers of "
                   f"{'the language model and projector' if quantize_projector else 'the language model'} "
                   f"({why_by_hand})")
    else:
        model = FastVlmForConditionalGeneration.from_pretrained(hf_dir, **common)
    if args.vision_dtype == "fp32":
        model.model.vision_tower.float()
        if not quantize_projector or mode == "fp16":
            model.model.multi_modal_projector.float()
    if mode != "fp16":
        import bitsandbytes as bnb
        quantized = [name for name, m in model.named_modules()
                     if isinstance(m, (bnb.nn.Linear8bitLt, bnb.nn.Linear4bit))]
        outside = [name for name in quantized
                   if not (name.startswith("model.language_model.")
                           or (quantize_projector and name.startswith("model.multi_modal_projector.")))]
        if outside or not quantized:
            raise RuntimeError(f"unexpected bitsandbytes layers: {len(quantized)} in all, outside the wanted "
                               f"modules: {outside[:4]}")
        how += f"; {len(quantized)} bitsandbytes linear layers"
    model.eval()  # bitsandbytes' CPU int8 matmul takes the LLM.int8 path only outside training mode
    model.generation_config.eos_token_id = None
    return model, how


def mode_label(mode, args):
    vision = f"vision tower {args.vision_dtype}"
    projector = ("projector in the mode" if args.vision_mode == "same" and mode != "fp16"
                 else f"projector {args.vision_dtype}")
    rest = f"lm_head/embeddings fp16, {vision}, {projector}"
    return {
        "fp16": f"transformers fp16 weights x fp16 activations; {rest}",
        "int8": f"bitsandbytes LLM.int8: int8 weights x int8 activations + fp16 outlier columns (threshold 6.0); {rest}",
        "nf4-fp32": f"bitsandbytes NF4 double-quant (block 64) dequantized to fp32, fp32 matmul; {rest}",
        "nf4-fp16": f"bitsandbytes NF4 double-quant (block 64) dequantized to fp16, fp16 matmul; {rest}",
    }[mode]


def run_mode(args, hf_dir, mode, workdir):
    import resource

    import torch
    import transformers
    from tokenizers import Tokenizer
    from transformers import LogitsProcessor, LogitsProcessorList
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    pixels = file_image(args.image) if args.image else builtin_image()
    vision_dtype = torch.float32 if args.vision_dtype == "fp32" else torch.float16
    tokenizer = Tokenizer.from_file(os.path.join(hf_dir, "tokenizer.json"))

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    model, how = load_model(args, hf_dir, mode)
    load_seconds = time.perf_counter() - start

    ids = prompt_ids(tokenizer, args.prompt, model.config.image_token_id, model.config.image_seq_length)
    input_ids = torch.tensor([ids])
    n_new = args.max_new_tokens

    marks = {}
    model.model.vision_tower.register_forward_pre_hook(lambda *_: marks.__setitem__("vision_start", time.perf_counter()))
    image_features = {}

    def vision_done(module, inputs, output):
        marks["vision_end"] = time.perf_counter()
        image_features["last"] = output  # [1, 256, hidden]: reused by the quality pass below

    model.model.multi_modal_projector.register_forward_hook(vision_done)

    class StepClock(LogitsProcessor):
        """Called once per new token, right after the forward pass that produced its logits."""
        def __init__(self):
            self.times = []

        def __call__(self, input_ids, scores):
            self.times.append(time.perf_counter())
            return scores

    clock = StepClock()

    def generate_once():
        clock.times.clear()
        marks.clear()
        begin = time.perf_counter()
        pixel_values = (torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).float() / 255.0).to(vision_dtype)
        with torch.inference_mode():
            out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                 pixel_values=pixel_values, max_new_tokens=n_new, min_new_tokens=n_new,
                                 do_sample=False, num_beams=1, eos_token_id=None, pad_token_id=0,
                                 logits_processor=LogitsProcessorList([clock]))
        end = time.perf_counter()
        new_ids = out[0, input_ids.shape[1]:].tolist()
        if len(new_ids) != n_new or len(clock.times) != n_new:
            raise RuntimeError(f"generate() made {len(new_ids)} tokens in {len(clock.times)} steps, not {n_new}")
        vision_s = marks["vision_end"] - marks["vision_start"]
        prefill_s = clock.times[0] - marks["vision_end"]
        timing = {"vision_ms": vision_s * 1e3, "prefill_tokens_per_s": input_ids.shape[1] / prefill_s,
                  "ttft_ms": (clock.times[0] - begin) * 1e3, "e2e_ms": (end - begin) * 1e3}
        if n_new > 1:
            step_s = (clock.times[-1] - clock.times[0]) / (n_new - 1)
            timing["decode_ms_per_token"] = step_s * 1e3
            timing["decode_tokens_per_s"] = 1.0 / step_s
        return new_ids, timing

    for i in range(args.warmup):
        print(f"  [{mode}] warm-up {i + 1}/{args.warmup}", file=sys.stderr, flush=True)
        generate_once()
    runs = collections.defaultdict(list)
    new_ids = []
    for i in range(args.iters):
        new_ids, timing = generate_once()
        for key, value in timing.items():
            runs[key].append(value)
        print(f"  [{mode}] run {i + 1}/{args.iters}: e2e {timing['e2e_ms']:.0f} ms", file=sys.stderr, flush=True)
    peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before

    vision_bytes = held_bytes([model.model.vision_tower, model.model.multi_modal_projector])
    llm_bytes = held_bytes([model.model.language_model, model.lm_head])
    text = tokenizer.decode(new_ids, skip_special_tokens=False)
    result = {
        "mode": mode, "label": mode_label(mode, args), "measured": True, "skipped_reason": "",
        "vision_weight_bytes": vision_bytes, "llm_weight_bytes": llm_bytes,
        "peak_bytes": peak_bytes, "driver_peak_bytes": -1, "load_seconds": load_seconds,
        "vision_ms": stat(runs["vision_ms"]), "prefill_tokens_per_s": stat(runs["prefill_tokens_per_s"]),
        "ttft_ms": stat(runs["ttft_ms"]), "decode_ms_per_token": stat(runs["decode_ms_per_token"]),
        "decode_tokens_per_s": stat(runs["decode_tokens_per_s"]), "e2e_ms": stat(runs["e2e_ms"]),
        "prompt_tokens": int(input_ids.shape[1]), "new_tokens": n_new,
        "decode_bytes_per_token": 0, "achieved_gbps": 0, "roofline_fraction": 0,
        "has_quality": False, "top1_agreement": 0, "kl_divergence": 0, "max_logit_error": 0,
        "same_text": False, "text": text,
    }
    # Decode reads every language-model weight but the embedding table (one row of it), plus the KV cache
    # (fp16) at the mean context of the generation.
    embed = model.model.language_model.embed_tokens.weight
    config = model.config.text_config
    head_dim = config.hidden_size // config.num_attention_heads
    kv_per_token = 2 * config.num_key_value_heads * head_dim * config.num_hidden_layers * 2
    mean_context = input_ids.shape[1] + n_new / 2.0
    decode_bytes = (llm_bytes - embed.numel() * embed.element_size() + embed.shape[1] * embed.element_size()
                    + kv_per_token * mean_context)
    result["decode_bytes_per_token"] = decode_bytes
    if runs["decode_ms_per_token"]:
        result["achieved_gbps"] = decode_bytes / (statistics.median(runs["decode_ms_per_token"]) * 1e-3) / 1e9

    # Quality: logits of one teacher-forced pass over the prompt + fp16's greedy tokens, the positions that
    # predict those tokens; fp16 writes them, every other mode compares against them.
    reference_ids_path = os.path.join(workdir, "fp16_ids.json")
    reference_logits_path = os.path.join(workdir, "fp16_logits.npy")
    forced = new_ids if mode == "fp16" else (json.load(open(reference_ids_path)) if os.path.exists(reference_ids_path) else None)
    extra = {"how": how, "threads": torch.get_num_threads()}
    if forced is not None and len(forced) == n_new:
        # The image features of the last timed run (deterministic) stand in for a fresh vision pass.
        encoded = {"image": BaseModelOutputWithPooling(pooler_output=image_features["last"])}
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids + forced[:-1]]), mm_encoder_outputs=encoded,
                        logits_to_keep=n_new, use_cache=False)
        logits = out.logits[0].float()  # [n_new, vocab]
        if mode == "fp16":
            np.save(reference_logits_path, logits.numpy())
            with open(reference_ids_path, "w") as f:
                json.dump(new_ids, f)
            extra["forced_argmax_matches_generate"] = float((logits.argmax(-1) == torch.tensor(new_ids)).float().mean())
            result["same_text"] = True
        else:
            reference = torch.from_numpy(np.load(reference_logits_path))
            log_p_ref = torch.log_softmax(reference.double(), -1)
            log_p = torch.log_softmax(logits.double(), -1)
            result["has_quality"] = True
            result["top1_agreement"] = float((logits.argmax(-1) == reference.argmax(-1)).double().mean())
            result["kl_divergence"] = float((log_p_ref.exp() * (log_p_ref - log_p)).sum(-1).mean())
            result["max_logit_error"] = float((logits - reference).abs().max())
            # Compared as token ids: equal ids mean equal text, and the synthetic checkpoint's small tokenizer
            # decodes most ids to nothing, which would make different answers look the same.
            result["same_text"] = new_ids == forced
    return result, extra


def worker_main(args):
    """Entry point of the per-mode subprocess: writes {"result": ModeResult, "extra": {...}} to --worker-out."""
    _, hf_dir = resolve_checkpoints(args)
    try:
        result, extra = run_mode(args, hf_dir, args.worker, os.path.dirname(args.worker_out))
    except Exception as error:
        result = skipped(args.worker, mode_label(args.worker, args), f"{type(error).__name__}: {error}".replace("\n", " "))
        extra = {}
    with open(args.worker_out, "w") as f:
        json.dump({"result": result, "extra": extra}, f)


# ----------------------------------------------------------------------------------------------------
# the driver: one subprocess per mode, then the report

def run_worker(args, mode, workdir):
    out_path = os.path.join(workdir, f"{mode}.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--worker-out", out_path]
    for flag in ("model", "hf_model", "image", "prompt", "iters", "warmup", "max_new_tokens", "threads",
                 "vision_mode", "vision_dtype"):
        value = getattr(args, flag)
        if value is not None and value != "":
            cmd += ["--" + flag.replace("_", "-"), str(value)]
    if args.direct_bnb:
        cmd.append("--direct-bnb")
    tail = collections.deque(maxlen=5)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        sys.stderr.write(line)
        if line.strip():
            tail.append(line.strip())
    proc.wait()
    if os.path.exists(out_path):
        with open(out_path) as f:
            done = json.load(f)
        return done["result"], done["extra"]
    return skipped(mode, mode_label(mode, args), f"the process of this mode ended with status {proc.returncode} "
                             f"and no result: {' | '.join(tail)}"), {}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def versions():
    import importlib.metadata
    parts = []
    for name in ("torch", "transformers", "bitsandbytes", "accelerate", "tokenizers", "numpy"):
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} not installed")
    return ", ".join(parts)


def bnb_cpu_paths():
    """Which bitsandbytes CPU kernels this machine gets (bitsandbytes/backends/cpu/ops.py decides the same way)."""
    import torch
    from bitsandbytes.functional import has_avx512bf16
    avx512 = torch.backends.cpu.get_cpu_capability() == "AVX512"
    int8 = ("int8 codes multiplied by torch._int_mm" if avx512 else
            "int8 codes multiplied as fp32 (no AVX-512, so no torch._int_mm; exact while sums stay below 2^24)")
    nf4 = ("batch-1 NF4 through bitsandbytes' AVX512-BF16 gemv" if has_avx512bf16() else
           "NF4 dequantized to the compute dtype on every call, then torch's F.linear (no AVX512-BF16 gemv)")
    return f"bitsandbytes CPU paths here: {int8}; {nf4}"


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(report):
    head = (f"{'mode':9s}{'weights MB':>14s}{'peak MB':>9s}{'load s':>8s}{'vision ms':>11s}{'prefill t/s':>12s}"
            f"{'TTFT ms':>10s}{'ms/token':>10s}{'tok/s':>8s}{'e2e ms':>10s}{'top1':>7s}{'KL':>9s}{'same':>6s}")
    print(head)
    for m in report["modes"]:
        if not m["measured"]:
            print(f"{m['mode']:9s}  not measured: {m['skipped_reason'][:150]}")
            continue
        weights = f"{m['vision_weight_bytes'] / 1e6:.0f}+{m['llm_weight_bytes'] / 1e6:.0f}"
        has_decode = m["decode_ms_per_token"]["n"] > 0
        quality = m["has_quality"]
        print(f"{m['mode']:9s}{weights:>14s}{m['peak_bytes'] / 1e6:>9.0f}{m['load_seconds']:>8.1f}"
              f"{m['vision_ms']['median']:>11.0f}{m['prefill_tokens_per_s']['median']:>12.1f}"
              f"{m['ttft_ms']['median']:>10.0f}"
              f"{fmt(m['decode_ms_per_token']['median'] if has_decode else None, '.1f'):>10s}"
              f"{fmt(m['decode_tokens_per_s']['median'] if has_decode else None, '.2f'):>8s}"
              f"{m['e2e_ms']['median']:>10.0f}{fmt(m['top1_agreement'] if quality else None, '.3f'):>7s}"
              f"{fmt(m['kl_divergence'] if quality else None, '.2e'):>9s}{'yes' if m['same_text'] else 'no':>6s}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"the checkpoint ./bench reads (default: the synthetic {DEFAULT_MODEL})")
    parser.add_argument("--hf-model", default="",
                        help="its fast_vlm-layout copy for transformers (default: --model itself if it is one, "
                             "else --model with '-native' appended)")
    parser.add_argument("--synthetic", action="store_true",
                        help="mark --model as synthetic weights (implied for the default checkpoint)")
    parser.add_argument("--image", default="", help="image file (default: the built-in 1024x1024 test image)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--modes", default=",".join(ALL_MODES), help=f"comma-separated subset of {','.join(ALL_MODES)}")
    parser.add_argument("--iters", type=int, default=5, help="timed generations per mode (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed generations first (default 1)")
    parser.add_argument("--max-new-tokens", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    parser.add_argument("--vision-mode", choices=["fp16", "same"], default="fp16",
                        help="fp16: projector unquantized (as ./bench's default); same: projector in the mode")
    parser.add_argument("--vision-dtype", choices=["fp32", "fp16"], default="fp32",
                        help="dtype of the vision tower and unquantized projector (default fp32, see above)")
    parser.add_argument("--direct-bnb", action="store_true",
                        help="skip transformers' BitsAndBytesConfig and swap in bitsandbytes modules by hand")
    parser.add_argument("--json", default="", help="write the report here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        worker_main(args)
        return
    modes = list(dict.fromkeys(m for m in args.modes.split(",") if m))
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown or not modes:
        sys.exit(f"--modes: unknown mode(s) {','.join(unknown) or '(none given)'}; choose from {','.join(ALL_MODES)}")
    if args.iters < 1 or args.warmup < 0 or args.max_new_tokens < 1:
        sys.exit("--iters must be >= 1, --warmup >= 0, --max-new-tokens >= 1")
    if args.image and not os.path.exists(args.image):
        sys.exit(f"--image: {args.image} does not exist")
    checkpoint, hf_dir = resolve_checkpoints(args)
    pixels = file_image(args.image) if args.image else builtin_image()

    # fp16 first: the other modes' quality is measured against its tokens and logits.
    order = sorted(modes, key=lambda m: m != "fp16")
    results = {}
    extras = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_transformers_") as workdir:
        for mode in order:
            if mode == "w4a4":
                results[mode] = skipped(mode, "int4 weights x int4 activations",
                                        "no W4A4 path in transformers/bitsandbytes")
                continue
            print(f"{mode}: loading in a fresh process ...", file=sys.stderr, flush=True)
            results[mode], extras[mode] = run_worker(args, mode, workdir)
    wall = time.perf_counter() - started

    notes = [
        f"transformers FastVlmForConditionalGeneration (attn_implementation=eager) on {hf_dir}; {versions()}; "
        f"Python {platform.python_version()}; torch CPU capability "
        f"{__import__('torch').backends.cpu.get_cpu_capability()}",
        "each mode in a fresh subprocess: load (+ quantize), warm-up, timed generate() calls with greedy decoding of "
        "exactly max_new_tokens (eos ignored); vision_ms from hooks on the vision tower (start) and projector (end); "
        "ttft_ms from the start (pixels -> tensor) to the logits of the first token; prefill = ttft minus vision; "
        "decode_ms_per_token = mean step between the first and the last token's logits",
        PEAK_NOTE,
        f"vision tower {args.vision_dtype} in every mode (torch's CPU fp16 convolutions are about 30x slower than fp32)"
        if args.vision_dtype == "fp32" else "vision tower fp16",
        "decode_bytes_per_token: language-model weights as held (one embedding row) + fp16 KV cache at the mean "
        "context; bandwidth not measured, so roofline_fraction is 0",
        "quality: one teacher-forced pass over prompt + fp16's greedy tokens; KL(p_fp16 || p_mode) in nats, mean over "
        "positions; same_text: the mode's own greedy token ids equal fp16's (equal ids, equal text)",
        f"image: {'built-in' if not args.image else args.image}, RGB sha256 {hashlib.sha256(pixels.tobytes()).hexdigest()}",
        f"whole run {wall:.0f} s",
    ]
    for mode in order:
        if extras.get(mode, {}).get("how"):
            notes.append(f"{mode}: {extras[mode]['how']}")
    if "forced_argmax_matches_generate" in extras.get("fp16", {}):
        notes.append(f"fp16: teacher-forced argmax equals its generate() tokens at "
                     f"{extras['fp16']['forced_argmax_matches_generate']:.3f} of positions")
    if any(m in modes for m in ("int8", "nf4-fp32", "nf4-fp16")):
        notes.append(bnb_cpu_paths())
    if "fp16" not in modes:
        notes.append("fp16 not run: no quality columns")
    threads = next((e["threads"] for e in extras.values() if "threads" in e), args.threads)
    report = {
        "schema": "fastvlm-bench/1", "source": "transformers", "checkpoint": checkpoint,
        "synthetic": bool(args.synthetic or checkpoint == DEFAULT_MODEL), "backend": "cpu", "device": cpu_model(),
        "threads": threads, "bandwidth_gbps": 0, "iters": args.iters, "warmup": args.warmup,
        "max_new_tokens": args.max_new_tokens, "image": args.image or "built-in", "prompt": args.prompt,
        "lm_head": "fp16", "vision_mode": args.vision_mode, "gemm": "torch+bitsandbytes",
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "notes": notes, "modes": [results[m] for m in ALL_MODES if m in results],
    }
    print_table(report)
    print(f"({len(modes)} modes in {wall:.0f} s; {threads} torch threads; {args.iters} timed runs after "
          f"{args.warmup} warm-up, {args.max_new_tokens} new tokens)")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()

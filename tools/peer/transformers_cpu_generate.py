"""Side by side on this CPU: transformers' eager generate() and ./fastvlm, same weights, same prompt.

Both read the same synthetic FastVLM-0.5B (full shapes, fp16 values from the deterministic generator of
loader/synthetic.h; the two layouts hold identical values because every value is a function of the
tensor's canonical name): transformers loads the fast_vlm (native) layout, ./fastvlm the llava_qwen2
layout. The prompt is the FastVLM chat template with one 1024x1024 image and "Describe the image.";
both decode greedily for exactly --new-tokens tokens (end-of-text ignored). ./fastvlm uses --threads threads;
transformers is run with each thread count of --transformers-threads and its fastest decode is the one compared.

transformers runs as a CPU user would run it: FastVlmForConditionalGeneration.from_pretrained(dtype=float32,
attn_implementation="eager") and generate(do_sample=False). Its decode time per token is measured inside
generate() by a logits processor that timestamps every step (step 0 comes right after the prefill).

Usage, from the repository root after `make` (builds ./fastvlm and build/tools/make_synthetic_checkpoint):
    python3 tools/peer/transformers_cpu_generate.py [--new-tokens 32] [--threads 2] [--no-image]
The checkpoints are written on first use to build/synthetic-fastvlm-0.5b (llava_qwen2) and
build/synthetic-fastvlm-0.5b-native (fast_vlm), about 1.5 GB each. Needs torch, transformers, tokenizers,
numpy and pillow (tools/golden/requirements.txt).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer
from transformers import FastVlmForConditionalGeneration, LogitsProcessor, LogitsProcessorList

LLAVA_DIR = "build/synthetic-fastvlm-0.5b"
NATIVE_DIR = "build/synthetic-fastvlm-0.5b-native"
TOOL = "build/tools/make_synthetic_checkpoint"
QUESTION = "Describe the image."
SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"


def ensure_checkpoint(tool, directory, layout):
    if os.path.exists(os.path.join(directory, "config.json")):
        return
    if not os.path.exists(tool):
        sys.exit(f"{tool} is missing: run `make` first")
    print(f"writing the synthetic checkpoint {directory} ({layout}) ...", flush=True)
    subprocess.run([tool, "--out", directory, "--size", "full", "--layout", layout, "--dtype", "f16"], check=True)


def test_image(path, side=1024):
    """A deterministic 8-bit RGB picture (smooth gradients + texture), saved as PNG; returns pixel_values."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float64)
    rgb = np.stack([0.5 + 0.4 * np.sin(x / 37.0) * np.cos(y / 53.0),
                    0.5 + 0.4 * np.cos((x + y) / 71.0),
                    (x * 7 + y * 13) % 256 / 255.0], axis=-1)
    pixels = np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, "RGB").save(path)
    # The image is already square and 1024x1024: the processor's pad and resize are identities,
    # so the pixel values are the bytes / 255 (mean 0, std 1).
    return torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).contiguous()


class StepClock(LogitsProcessor):
    """Records the time of every generation step (called once per new token)."""

    def __init__(self):
        self.times = []

    def __call__(self, input_ids, scores):
        self.times.append(time.perf_counter())
        return scores


def run_transformers(args, pixel_values, threads):
    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = FastVlmForConditionalGeneration.from_pretrained(NATIVE_DIR, dtype=torch.float32,
                                                            attn_implementation="eager").eval()
    load_s = time.perf_counter() - start
    tokenizer = Tokenizer.from_file(os.path.join(NATIVE_DIR, "tokenizer.json"))
    before = tokenizer.encode(SYSTEM, add_special_tokens=False).ids
    if args.no_image:
        text = SYSTEM + QUESTION + "<|im_end|>\n<|im_start|>assistant\n"
        input_ids = tokenizer.encode(text, add_special_tokens=False).ids
    else:
        after = tokenizer.encode("\n" + QUESTION + "<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False).ids
        n_image = model.config.image_seq_length
        input_ids = before + [model.config.image_token_index] * n_image + after
    input_ids = torch.tensor([input_ids])
    clock = StepClock()
    kwargs = dict(input_ids=input_ids, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                  do_sample=False, num_beams=1, eos_token_id=None, pad_token_id=0,
                  logits_processor=LogitsProcessorList([clock]))
    if not args.no_image:
        kwargs["pixel_values"] = pixel_values
    model.generation_config.eos_token_id = None
    with torch.inference_mode():
        start = time.perf_counter()
        out = model.generate(**kwargs)
    first_token_s = clock.times[0] - start
    decode_ms = (clock.times[-1] - clock.times[0]) / (len(clock.times) - 1) * 1e3
    assert out.shape[1] - input_ids.shape[1] == args.new_tokens
    return {"load_s": load_s, "prompt_tokens": int(input_ids.shape[1]), "time_to_first_token_s": first_token_s,
            "decode_ms_per_token": decode_ms, "new_tokens": args.new_tokens, "threads": threads}


def run_fastvlm(args, image_path):
    cmd = [args.fastvlm, "--model", LLAVA_DIR, "--prompt", QUESTION, "--max-new-tokens", str(args.new_tokens),
           "--no-stop", "--threads", str(args.threads)]
    if not args.no_image:
        cmd += ["--image", image_path]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{args.fastvlm} failed ({done.returncode}): {done.stderr}")
    err = done.stderr

    def number(pattern):
        m = re.search(pattern, err)
        if not m:
            sys.exit(f"cannot find /{pattern}/ in ./fastvlm's report:\n{err}")
        return float(m.group(1))
    return {"load_s": number(r"load: ([\d.]+) ms") / 1e3,
            "time_to_first_token_s": number(r"time to first token: ([\d.]+) ms") / 1e3,
            "prompt_tokens": int(number(r"prefill of (\d+) tokens")),
            "decode_ms_per_token": number(r"decode: \d+ steps, ([\d.]+) ms/token"),
            "new_tokens": args.new_tokens, "report": err}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads of ./fastvlm (default: all cores)")
    parser.add_argument("--transformers-threads", default=None,
                        help="comma-separated torch thread counts to try; the fastest decode is compared "
                             "(default: 1 and --threads, since torch's OpenMP loses badly on a busy machine)")
    parser.add_argument("--no-image", action="store_true", help="text-only prompt")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--fastvlm", default="./fastvlm", help="the runtime binary (default ./fastvlm)")
    parser.add_argument("--tool", default=TOOL, help=f"the checkpoint writer (default {TOOL})")
    args = parser.parse_args()
    if args.new_tokens < 2:
        sys.exit("--new-tokens must be at least 2")

    ensure_checkpoint(args.tool, LLAVA_DIR, "llava_qwen2")
    ensure_checkpoint(args.tool, NATIVE_DIR, "fast_vlm")
    os.makedirs("build/peer", exist_ok=True)
    image_path = "build/peer/image_1024.png"
    pixel_values = test_image(image_path)

    ours = run_fastvlm(args, image_path)
    counts = args.transformers_threads or ",".join(sorted({"1", str(args.threads)}))
    tried = [run_transformers(args, pixel_values, int(n)) for n in counts.split(",")]
    for t in tried:
        print(f"transformers with {t['threads']} thread(s): {t['decode_ms_per_token']:.1f} ms/token")
    theirs = min(tried, key=lambda t: t["decode_ms_per_token"])
    speedup = theirs["decode_ms_per_token"] / ours["decode_ms_per_token"]
    print(f"synthetic FastVLM-0.5B (fp16 weights), ./fastvlm {args.threads} threads, transformers "
          f"{theirs['threads']} (its fastest), {'text only' if args.no_image else '1024x1024 image'}, "
          f"{args.new_tokens} greedy tokens")
    print(f"{'':28s}{'transformers eager':>20s}{'./fastvlm cpu':>16s}")
    print(f"{'prompt tokens':28s}{theirs['prompt_tokens']:>20d}{ours['prompt_tokens']:>16d}")
    print(f"{'time to first token (s)':28s}{theirs['time_to_first_token_s']:>20.2f}{ours['time_to_first_token_s']:>16.2f}")
    print(f"{'decode (ms/token)':28s}{theirs['decode_ms_per_token']:>20.1f}{ours['decode_ms_per_token']:>16.1f}")
    print(f"decode speedup of ./fastvlm: {speedup:.2f}x (target >= 3x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"transformers": theirs, "transformers_tried": tried,
                       "fastvlm": {k: v for k, v in ours.items() if k != "report"},
                       "decode_speedup": speedup, "threads": args.threads, "new_tokens": args.new_tokens,
                       "image": not args.no_image}, f, indent=2)


if __name__ == "__main__":
    main()

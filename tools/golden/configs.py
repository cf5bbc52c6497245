"""config.json examples of both FastVLM layouts, for the config reader's tests.

fast_vlm_*.json come from transformers' FastVlmConfig.to_json_string() (the diff form save_pretrained writes):
  fast_vlm_default.json   FastVlmConfig() as is (the 7B-style defaults)
  fast_vlm_0.5b.json      a FastVLM-0.5B config built the way convert_fastvlm_weights_to_hf.py builds it
                          (Qwen2-0.5B text config, vocab padded to 152000 for the added <image> token 151646,
                          256 image tokens, fastvit_mci3 in inference mode, hidden_size 3072)
  fast_vlm_tiny.json      a tiny config: 5 stages with model_args layers / embed_dims, GQA text model
llava_qwen2_0.5b.json is written by hand from the apple/FastVLM-0.5B config fields (docs: spec section 5);
transformers has no class for that layout.

Run from the repository root:  python3 tools/golden/configs.py
"""
import json
import os

import transformers
from transformers import FastVlmConfig

OUT = os.path.join("tests", "golden", "configs")


def write_json_text(name, text):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")


def qwen2_0_5b_text_config(vocab_size):
    return {
        "model_type": "qwen2",
        "hidden_size": 896,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "intermediate_size": 4864,
        "vocab_size": vocab_size,
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "max_window_layers": 24,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "tie_word_embeddings": False,
    }


def fastvit_vision_config(hidden_size, model_args):
    return {
        "model_type": "timm_wrapper",
        "architecture": "fastvit_mci3",
        "do_pooling": True,
        "global_pool": "avg",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "model_args": model_args,
    }


def tiny_config():
    """Also used by fastvlm_names.py: keeps every structural feature at a tiny size."""
    text = {
        "model_type": "qwen2",
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "intermediate_size": 96,
        "vocab_size": 300,
        "max_position_embeddings": 1024,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "bos_token_id": 256,
        "eos_token_id": [258, 256],
        "tie_word_embeddings": False,
    }
    # fastvit_mci3 overrides: widths must double (grouped downsample) and attention widths are
    # multiples of 32 (head_dim); final_conv gives 2 * 128 = 256 channels = hidden_size.
    vision = fastvit_vision_config(256, {"inference_mode": True, "layers": [1, 2, 1, 2, 1],
                                         "embed_dims": [8, 16, 32, 64, 128]})
    return FastVlmConfig(text_config=text, vision_config=vision, image_token_index=259, image_seq_length=16)


def main():
    os.makedirs(OUT, exist_ok=True)

    write_json_text("fast_vlm_default.json", FastVlmConfig().to_json_string())

    config = FastVlmConfig(
        text_config=qwen2_0_5b_text_config(152000),
        vision_config=fastvit_vision_config(3072, {"inference_mode": True}),
        image_token_index=151646,
        image_seq_length=256,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    write_json_text("fast_vlm_0.5b.json", config.to_json_string())

    write_json_text("fast_vlm_tiny.json", tiny_config().to_json_string())

    llava = {
        "architectures": ["LlavaQwen2ForCausalLM"],
        "model_type": "llava_qwen2",
        "hidden_size": 896,
        "num_hidden_layers": 24,
        "num_attention_heads": 14,
        "num_key_value_heads": 2,
        "intermediate_size": 4864,
        "hidden_act": "silu",
        "vocab_size": 151936,
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0,
        "sliding_window": 32768,
        "use_sliding_window": False,
        "max_window_layers": 24,
        "attention_dropout": 0.0,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.39.3",
        "tie_word_embeddings": False,
        "mm_vision_tower": "mobileclip_l_1024",
        "mm_hidden_size": 3072,
        "mm_projector_type": "mlp2x_gelu",
        "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch",
        "mm_patch_merge_type": "flat",
        "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False,
        "image_aspect_ratio": "pad",
        "image_grid_pinpoints": None,
        "tokenizer_model_max_length": 8192,
        "tokenizer_padding_side": "right",
        "unfreeze_mm_vision_tower": True,
        "use_mm_proj": True,
        "tune_mm_mlp_adapter": False,
        "freeze_mm_mlp_adapter": False,
        "use_cache": True,
        "image_token_index": 151646,
    }
    write_json_text("llava_qwen2_0.5b.json", json.dumps(llava, indent=2))

    with open(os.path.join(OUT, "README.txt"), "w", encoding="utf-8") as f:
        f.write("config.json examples of both layouts (fast_vlm_*.json from transformers' FastVlmConfig;\n"
                "llava_qwen2_0.5b.json written by hand from the apple/FastVLM-0.5B fields).\n"
                "Made by: python3 tools/golden/configs.py   (from the repo root)\n"
                f"transformers {transformers.__version__}\n"
                "fast_vlm_default.json  FastVlmConfig() defaults (7B-style text model, 576 image tokens)\n"
                "fast_vlm_0.5b.json     0.5B as convert_fastvlm_weights_to_hf.py builds it (vocab 152000, <image> 151646)\n"
                "fast_vlm_tiny.json     tiny: vision layers [1,2,1,2,1], embed_dims [8,16,32,64,128], hidden 256;\n"
                "                       Qwen2 hidden 64, 2 layers, 4 heads, 2 kv heads, vocab 300, eos [258, 256]\n"
                "llava_qwen2_0.5b.json  FastVLM-0.5B original layout (flat Qwen2 + mm_* fields)\n")


if __name__ == "__main__":
    main()

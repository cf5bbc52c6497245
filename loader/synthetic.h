// Deterministic synthetic FastVLM checkpoints: the real tensor set (or a tiny one with every
// structural feature), filled with values from a counter-based generator that a Python script
// (tools/golden/synthetic_weights.py) reproduces bit for bit.
//
// Generator, for element i (flat row-major index) of the tensor with canonical name `name`:
//   r = splitmix64(fnv1a64(name) + seed + i)                       (all mod 2^64)
//   v = float(r >> 40) * (1.0f / 8388608.0f) - 1.0f                (fp32, exact, in [-1, 1))
// then by name, first rule that applies (all fp32, products rounded before any addition):
//   ...num_batches_tracked          0 (stored as I64)
//   ...running_var                  0.75f + 0.25f * v
//   ...running_mean                 0.1f * v
//   ...layernorm.weight / norm.weight / .bn.weight   1.0f + 0.1f * v
//   contains layer_scale            0.5f + 0.5f * v
//   ...bias                         0.1f * v
//   anything else                   v * sqrtf(3.0f / float(fan_in)), fan_in = numel / shape[0] (1-D: 1)
// and finally rounded to the stored dtype (round to nearest even).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "loader/config.h"
#include "runtime/dtype.h"

namespace fastvlm {

uint64_t fnv1a64(const std::string& bytes);
uint64_t splitmix64(uint64_t x);

// The value of element i of the synthetic tensor `canonical_name` with `shape`.
float synthetic_value(const std::string& canonical_name, const std::vector<int64_t>& shape, uint64_t seed,
                      uint64_t i);

// Elements [first, first + count) of the same tensor into out[0..count).
void synthetic_values(const std::string& canonical_name, const std::vector<int64_t>& shape, uint64_t seed,
                      uint64_t first, size_t count, float* out);

enum class SyntheticSize {
    Full,  // FastVLM-0.5B: FastViTHD + mlp2x_gelu + Qwen2-0.5B, the real names and shapes
    Tiny,  // 5 stages (repmixer x3, attention x2), RepCPE, conv_exp+SE, GQA; a few MB
};

struct SyntheticOptions {
    SyntheticSize size = SyntheticSize::Tiny;
    CheckpointLayout layout = CheckpointLayout::LlavaQwen2;
    DType dtype = DType::F16;   // F32, F16 or BF16
    uint64_t seed = 0;
    int shards = 1;             // > 1: model-0000k-of-0000n.safetensors + model.safetensors.index.json
    bool tied = false;          // true: no lm_head.weight, tie_word_embeddings true
};

// The model description a synthetic checkpoint follows (vision shape included).
ModelConfig synthetic_model_config(SyntheticSize size, CheckpointLayout layout);

// Writes config.json, tokenizer.json and the weights into `dir` (created if needed).
// Tensors are generated and written one at a time, so memory stays small at any size.
void write_synthetic_checkpoint(const std::string& dir, const SyntheticOptions& options);

// The tokenizer.json text: a byte-level BPE in Qwen2's format with merges learned from a
// fixed English text, then <|endoftext|>, <|im_start|>, <|im_end|> (and <image> for the
// fast_vlm layout) as added special tokens with the ids right after the regular vocabulary.
// `max_vocab` bounds the total number of ids.
std::string synthetic_tokenizer_json(int max_vocab, bool with_image_token);

}  // namespace fastvlm

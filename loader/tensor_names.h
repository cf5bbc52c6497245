// Tensor names of the two FastVLM checkpoint layouts and the tensor list a model description
// implies.
//
// Canonical names are the original llava_qwen2 names (apple/ml-fastvlm mci.py + llava_qwen.py):
//   model.vision_tower.vision_tower.model.network.7.0.token_mixer.qkv.weight
// The transformers-native fast_vlm layout renames them the way its converter does
// (convert_fastvlm_weights_to_hf.py) onto timm's fastvit_mci3 module tree:
//   model.vision_tower.timm_model.stages.3.blocks.0.token_mixer.qkv.weight
//
// The vision tower is a flat `network` list in the canonical names. For stage i it holds,
// in this order: a PatchEmbed downsample (every stage but the first), a RepCPE (stages with
// pos_emb), then the stage's blocks as one entry. FastViTHD: 0 s0, 1 PE, 2 s1, 3 PE, 4 s2,
// 5 PE, 6 CPE, 7 s3, 8 PE, 9 CPE, 10 s4.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "loader/config.h"

namespace fastvlm {

// Canonical prefix of every vision tower tensor.
extern const char* const kVisionPrefix;        // "model.vision_tower.vision_tower.model."
extern const char* const kNativeVisionPrefix;  // "model.vision_tower.timm_model."

// Where stage i lives in the canonical `network` list (-1: the stage has none).
struct VisionStageIndices {
    int downsample = -1;  // network.{downsample}.proj.{0,1}
    int pos_emb = -1;     // network.{pos_emb}.reparam_conv
    int blocks = 0;       // network.{blocks}.{b}.*
};
std::vector<VisionStageIndices> vision_network_indices(const VisionConfig& vision);

// The fast_vlm (transformers-native) name of a canonical tensor name; "" for head.proj,
// which the native layout does not have.
std::string native_name(const std::string& canonical, const VisionConfig& vision);

// The name a tensor has in `layout`.
std::string stored_name(const std::string& canonical, CheckpointLayout layout, const VisionConfig& vision);

// One tensor that the model description expects.
struct ExpectedTensor {
    std::string canonical;        // llava_qwen2 name
    std::string stored;           // name in the config's layout
    std::vector<int64_t> shape;   // row-major, outermost first
    bool optional = false;        // may be absent: lm_head (tied), BN counters, head.proj
    bool checked = true;          // false: allowed but ignored (no shape / dtype check)
    bool is_float = true;         // false: BatchNorm num_batches_tracked (int64 scalar)
};

// Every tensor a checkpoint in config.layout holds, in checkpoint order: vision tower,
// projector, language model. Includes the optional ones (lm_head.weight, every
// num_batches_tracked, and head.proj [out_channels, out_channels / 4] in the llava_qwen2 layout).
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// Names and shapes as stored in a checkpoint.
using StoredShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// Infers the vision tower's stage count, depths, widths, token mixers, RepCPE placement,
// mlp ratio, conv_exp output width and SE width from the vision tensors present, and writes
// them into `vision` (fields that cannot be seen keep their value). Throws fastvlm::Error
// (opened by `where`) when the tower is absent, uses the other layout's names, is in
// train-time (multi-branch) form, or its structure cannot be read.
void infer_vision_shape(const StoredShapes& tensors, CheckpointLayout layout, VisionConfig* vision,
                        const std::string& where);

// "" when the vision description is buildable (list lengths agree, each width a multiple of
// the previous one, attention widths a multiple of head_dim, ...), else what is wrong.
std::string vision_shape_problem(const VisionConfig& vision);

}  // namespace fastvlm

// The model description: config.json (either FastVLM layout) plus what only the checkpoint
// tells (the vision tower's stage depths and widths), merged into one struct the model code reads.
#pragma once
#include <string>
#include <vector>

namespace fastvlm {

// Which naming the files on disk use.
enum class CheckpointLayout {
    LlavaQwen2,   // apple/FastVLM-0.5B: model.vision_tower.vision_tower.model.*, model.mm_projector.*, model.layers.*
    FastVlm,      // transformers-native: model.vision_tower.timm_model.*, model.multi_modal_projector.*, model.language_model.*
};

struct VisionConfig {                              // FastViTHD (mci.py fastvithd())
    int image_size = 1024;                         // input side; output grid = image_size / 64
    std::vector<int> depths = {2, 12, 24, 4, 2};   // blocks per stage
    std::vector<int> widths = {96, 192, 384, 768, 1536};
    std::vector<bool> attention = {false, false, false, true, true};  // token mixer: RepMixer or attention
    std::vector<bool> pos_emb = {false, false, false, true, true};    // RepCPE 7x7 before the stage
    int mlp_ratio = 4;
    int head_dim = 32;                             // attention stages: heads = width / head_dim
    int out_channels = 3072;                       // conv_exp output = mm_hidden_size
    int se_channels = 192;                         // conv_exp squeeze-excite bottleneck
    float norm_eps = 1e-5f;                        // LayerNormChannel and BatchNorm
};

struct TextConfig {                                // Qwen2
    int hidden = 896;
    int layers = 24;
    int heads = 14;
    int kv_heads = 2;
    int head_dim = 64;                             // hidden / heads
    int intermediate = 4864;
    int vocab = 151936;
    int max_positions = 32768;
    float rms_eps = 1e-6f;
    float rope_theta = 1000000.0f;
    bool tie_word_embeddings = false;              // informational: lm_head.weight is used when present
    std::vector<int> eos_token_ids = {151645};     // load_config: empty when config.json names none
};

struct ModelConfig {
    CheckpointLayout layout = CheckpointLayout::LlavaQwen2;
    VisionConfig vision;
    TextConfig text;
    int mm_hidden = 3072;                          // projector input width
    std::string projector_type = "mlp2x_gelu";
    int image_token_index = -200;                  // placeholder id in spliced prompts
};

// Reads config.json (either layout). Throws fastvlm::Error naming the file and the field
// for malformed JSON, missing or ill-typed fields and values out of range.
ModelConfig load_config(const std::string& config_json_path);

// The same from JSON text already in memory; `where` names the source in error messages.
ModelConfig parse_config(const std::string& json_text, const std::string& where);

// "llava_qwen2" or "fast_vlm" (the model_type that selects the layout).
const char* layout_name(CheckpointLayout layout);

// Vision tower output: stride 4 (stem) * 2 per later stage; image_size / stride per side.
int vision_stride(const VisionConfig& vision);
int vision_tokens(const VisionConfig& vision);   // (image_size / stride)^2, 256 for FastViTHD at 1024

}  // namespace fastvlm

// FastVLM-0.5B assembled: FastViTHD -> mlp2x_gelu projector -> Qwen2, and the image splice that
// puts the projected image tokens where the prompt's placeholder was.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "loader/model_files.h"
#include "model/fastvithd.h"
#include "model/projector.h"
#include "model/qwen2.h"
#include "runtime/backend.h"

namespace fastvlm {

// The weight modes of the parts (runtime/weight_mode.h). The default is the CPU reference:
// weights as stored, fp32 activations.
struct ModelModes {
    WeightMode llm = WeightMode::Reference;        // the seven linear layers of every Qwen2 layer
    WeightMode lm_head = WeightMode::Reference;
    WeightMode projector = WeightMode::Reference;
    WeightMode vision = WeightMode::Reference;     // the vision tower's matmuls: reference or fp16
    // The usual setting for a mode: lm_head in fp16 unless `quantize_lm_head`, projector in fp16
    // unless `quantize_projector`, the vision tower's matmuls in fp16 (its spatial convolutions
    // always run as stored); everything as stored, fp32 activations, in the reference mode.
    static ModelModes for_mode(WeightMode mode, bool quantize_lm_head = false, bool quantize_projector = false);
};

class FastVLM {
public:
    // Loads every weight of `files` onto `backend`; `files` must outlive this object.
    FastVLM(Backend& backend, const ModelFiles& files, const ModelModes& modes = {});

    const ModelConfig& config() const { return config_; }
    int image_size() const { return config_.vision.image_size; }
    int image_tokens() const { return vision_->tokens_for(image_size()); }

    // Vision tower + projector: pixels [3, image_size, image_size] (CHW, [0, 1]) ->
    // [image_tokens, hidden] embeddings.
    Tensor encode_image(const std::vector<float>& pixels, const VisionTap& tap = {});

    // The spliced prompt [L, hidden]: embedding rows for the text ids and, where the placeholder
    // id stands, the image rows: all of them for a single placeholder (llava prompts: one -200
    // between two text chunks), or one row each for a run of image_tokens placeholders
    // (transformers prompts, where the processor repeated the image token). Positions 0 .. L-1
    // run over this spliced sequence.
    Tensor embed_prompt(const std::vector<int32_t>& ids, int32_t placeholder, const Tensor* image);

    FastViTHD& vision() { return *vision_; }
    Projector& projector() { return *projector_; }
    Qwen2& language_model() { return *language_model_; }
    const ModelModes& modes() const { return modes_; }
    // Weight bytes held by the backend: the vision tower and projector, and the language model.
    size_t vision_weight_bytes() const { return vision_weight_bytes_; }
    size_t llm_weight_bytes() const { return language_model_->weight_bytes(); }

private:
    Backend& backend_;
    ModelConfig config_;
    ModelModes modes_;
    size_t vision_weight_bytes_ = 0;
    std::unique_ptr<FastViTHD> vision_;
    std::unique_ptr<Projector> projector_;
    std::unique_ptr<Qwen2> language_model_;
};

}  // namespace fastvlm

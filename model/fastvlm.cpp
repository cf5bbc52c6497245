#include "model/fastvlm.h"

#include "runtime/error.h"

namespace fastvlm {

ModelModes ModelModes::for_mode(WeightMode mode, bool quantize_lm_head, bool quantize_projector) {
    ModelModes m;
    const WeightMode plain = mode == WeightMode::Reference ? WeightMode::Reference : WeightMode::F16;
    m.llm = mode;
    m.lm_head = quantize_lm_head ? mode : plain;
    m.projector = quantize_projector ? mode : plain;
    m.vision = plain;
    return m;
}

FastVLM::FastVLM(Backend& backend, const ModelFiles& files, const ModelModes& modes)
    : backend_(backend), config_(files.config()), modes_(modes) {
    const WeightLookup weights = lookup_in(files);
    const MemoryStats before = backend.memory();
    vision_ = std::make_unique<FastViTHD>(backend, config_.vision, weights, modes.vision);
    const MemoryStats after = backend.memory();
    projector_ = std::make_unique<Projector>(backend, config_, weights, modes.projector);
    // The tower's weights: what the backend copied or mapped for it (some are folded at load).
    vision_weight_bytes_ = (after.current_bytes + after.mapped_bytes) - (before.current_bytes + before.mapped_bytes) +
                           projector_->weight_bytes();
    Qwen2Modes llm_modes;
    llm_modes.layers = modes.llm;
    llm_modes.lm_head = modes.lm_head;
    language_model_ = std::make_unique<Qwen2>(backend, config_.text, weights, llm_modes);
}

Tensor FastVLM::encode_image(const std::vector<float>& pixels, const VisionTap& tap) {
    const Tensor features = vision_->encode(pixels, image_size(), image_size(), tap);
    return projector_->forward(features);
}

Tensor FastVLM::embed_prompt(const std::vector<int32_t>& ids, int32_t placeholder, const Tensor* image) {
    std::vector<size_t> at;  // where the placeholder stands
    for (size_t i = 0; i < ids.size(); ++i)
        if (ids[i] == placeholder) at.push_back(i);
    const int64_t image_rows = image ? image->rows() : 0;
    bool expand = false;  // one placeholder stands for every image row
    if (!image && !at.empty())
        fail("prompt", "has ", at.size(), " image placeholder(s) (id ", placeholder, ") but no image was given");
    if (image) {
        if (image->cols() != config_.text.hidden)
            fail("prompt", "image embeddings ", shape_string(image->shape()), " are not rows of ", config_.text.hidden);
        if (at.size() == 1) {
            expand = true;
        } else if (int64_t(at.size()) != image_rows || at.back() - at.front() + 1 != at.size()) {
            fail("prompt", "has ", at.size(), " image placeholder(s) (id ", placeholder, "); expected one, or a run of ",
                 image_rows, " (one per image token)");
        }
    }
    const int64_t length = int64_t(ids.size()) + (expand ? image_rows - 1 : 0);
    if (length <= 0) fail("prompt", "is empty");
    Tensor x = backend_.alloc(DType::F32, {length, config_.text.hidden});
    int64_t row = 0;
    std::vector<int32_t> text;
    auto flush_text = [&] {
        if (text.empty()) return;
        language_model_->embed_into(x, row, text);
        row += int64_t(text.size());
        text.clear();
    };
    for (size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] != placeholder) {
            text.push_back(ids[i]);
            continue;
        }
        flush_text();
        if (expand) {
            backend_.copy(x.slice(row, row + image_rows), *image);
            row += image_rows;
        } else {
            const int64_t k = int64_t(i - at.front());
            backend_.copy(x.slice(row, row + 1), image->slice(k, k + 1));
            row += 1;
        }
    }
    flush_text();
    return x;
}

}  // namespace fastvlm

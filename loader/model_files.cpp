// A model directory checked against its model description: every expected tensor present with
// the expected shape and a float dtype, nothing unexpected, all problems reported at once.
#include "loader/model_files.h"

#include <algorithm>

#include "loader/tensor_names.h"
#include "runtime/error.h"

namespace fastvlm {

namespace {

constexpr size_t kListedPerKind = 20;  // longer lists end with "... and N more"

bool is_float_dtype(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

// "3 missing: a, b, c" with at most kListedPerKind entries named.
void append_problems(std::string* out, const char* kind, const std::vector<std::string>& items) {
    if (items.empty()) return;
    if (!out->empty()) *out += "; ";
    *out += std::to_string(items.size()) + " " + kind + ": ";
    for (size_t i = 0; i < items.size() && i < kListedPerKind; ++i) *out += (i ? ", " : "") + items[i];
    if (items.size() > kListedPerKind) *out += ", ... and " + std::to_string(items.size() - kListedPerKind) + " more";
}

}  // namespace

ModelFiles::ModelFiles(const std::string& dir) : dir_(dir) {
    const std::string config_path = dir + "/config.json";
    config_ = load_config(config_path);
    checkpoint_ = std::make_unique<Checkpoint>(dir);
    const std::string& where = checkpoint_->path();

    // The vision tower's shape comes from the tensors; config.json does not carry it.
    std::vector<std::string> names = checkpoint_->names();
    StoredShapes stored;
    stored.reserve(names.size());
    for (const std::string& name : names) stored.push_back({name, checkpoint_->get(name).shape});
    infer_vision_shape(stored, config_.layout, &config_.vision, where);
    if (config_.vision.out_channels != config_.mm_hidden)
        fail(config_path, config_.layout == CheckpointLayout::FastVlm ? "vision_config.hidden_size" : "mm_hidden_size",
             " is ", config_.mm_hidden, " but the vision tower in ", where, " outputs ", config_.vision.out_channels,
             " channels (conv_exp)");

    std::vector<ExpectedTensor> expected = expected_tensors(config_);
    std::vector<std::string> missing, mis_shaped, not_float, unexpected;
    std::vector<std::string> expected_names;
    expected_names.reserve(expected.size());
    const TensorView* lm_head = nullptr;
    std::string embed_stored;
    for (const ExpectedTensor& e : expected) {
        expected_names.push_back(e.stored);
        if (e.canonical == "model.embed_tokens.weight") embed_stored = e.stored;
        const TensorView* t = checkpoint_->find(e.stored);
        if (!t) {
            if (!e.optional) missing.push_back(e.stored + " " + shape_text(e.shape));
            continue;
        }
        if (e.canonical == "lm_head.weight") lm_head = t;
        canonical_to_stored_.push_back({e.canonical, e.stored});
        if (!e.checked) continue;
        if (t->shape != e.shape)
            mis_shaped.push_back(e.stored + " is " + shape_text(t->shape) + ", expected " + shape_text(e.shape));
        if (e.is_float && !is_float_dtype(t->dtype)) not_float.push_back(e.stored + " is " + dtype_name(t->dtype));
    }
    std::sort(expected_names.begin(), expected_names.end());
    for (const std::string& name : names)
        if (!std::binary_search(expected_names.begin(), expected_names.end(), name)) unexpected.push_back(name);

    std::string problems;
    append_problems(&problems, "missing", missing);
    append_problems(&problems, "unexpected", unexpected);
    append_problems(&problems, "with the wrong shape", mis_shaped);
    append_problems(&problems, "not F32/F16/BF16", not_float);
    if (!problems.empty())
        fail(where, "checkpoint does not match ", config_path, " (", layout_name(config_.layout), " layout): ", problems);

    if (!lm_head) canonical_to_stored_.push_back({"lm_head.weight", embed_stored});  // tied
    std::sort(canonical_to_stored_.begin(), canonical_to_stored_.end());
}

const TensorView* ModelFiles::find(const std::string& canonical) const {
    auto it = std::lower_bound(canonical_to_stored_.begin(), canonical_to_stored_.end(), canonical,
                               [](const std::pair<std::string, std::string>& entry, const std::string& key) {
                                   return entry.first < key;
                               });
    if (it == canonical_to_stored_.end() || it->first != canonical) return nullptr;
    return checkpoint_->find(it->second);
}

const TensorView& ModelFiles::tensor(const std::string& canonical) const {
    const TensorView* t = find(canonical);
    if (!t) fail(checkpoint_->path(), "no tensor '", canonical, "' in this model");
    return *t;
}

}  // namespace fastvlm

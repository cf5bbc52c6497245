// A model directory: config.json + safetensors (single or sharded) + tokenizer.json, with every
// tensor checked against the model description and reachable by one canonical name.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "loader/config.h"
#include "loader/safetensors.h"

namespace fastvlm {

class ModelFiles {
public:
    // Reads config.json and the checkpoint in `dir`, infers the vision tower's depths and widths
    // from the tensors, and checks that every expected tensor is present with its expected shape
    // and a float dtype, and that nothing unexpected is there. All problems are reported in one
    // fastvlm::Error that lists them.
    explicit ModelFiles(const std::string& dir);

    const std::string& dir() const { return dir_; }
    const ModelConfig& config() const { return config_; }
    const Checkpoint& checkpoint() const { return *checkpoint_; }
    std::string tokenizer_path() const { return dir_ + "/tokenizer.json"; }

    // Canonical names are the original llava_qwen2 names, whatever layout the files use:
    //   "model.vision_tower.vision_tower.model.network.4.3.convffn.fc1.weight",
    //   "model.mm_projector.0.weight", "model.layers.0.self_attn.q_proj.weight", "lm_head.weight".
    // "lm_head.weight" resolves to model.embed_tokens.weight when the checkpoint has no lm_head.
    const TensorView& tensor(const std::string& canonical) const;  // throws naming the tensor
    const TensorView* find(const std::string& canonical) const;    // nullptr when absent

private:
    std::string dir_;
    ModelConfig config_;
    std::unique_ptr<Checkpoint> checkpoint_;
    std::vector<std::pair<std::string, std::string>> canonical_to_stored_;  // sorted by canonical
};

}  // namespace fastvlm

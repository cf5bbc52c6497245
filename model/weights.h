// Where the model code finds its weights: by canonical (llava_qwen2) tensor name, whatever the
// layout on disk. A lookup can be a ModelFiles, or host tensors made at load time (weights
// folded from a train-time checkpoint, synthetic weights generated in memory).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "loader/model_files.h"
#include "loader/safetensors.h"

namespace fastvlm {

// nullptr when the tensor is absent.
using WeightLookup = std::function<const TensorView*(const std::string& canonical)>;

WeightLookup lookup_in(const ModelFiles& files);

// The tensor, or fastvlm::Error naming it and `where`.
const TensorView& require_weight(const WeightLookup& lookup, const std::string& canonical,
                                 const std::string& where);

// fp32 tensors held in memory, seen through TensorViews (F32). Views stay valid while the
// HostTensors object lives; adding a tensor never moves the earlier ones.
class HostTensors {
public:
    const TensorView& add(const std::string& name, std::vector<int64_t> shape, std::vector<float> values);
    const TensorView* find(const std::string& name) const;
    WeightLookup lookup() const;  // refers to *this
    size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::vector<float> values;
        TensorView view;
    };
    std::map<std::string, std::unique_ptr<Entry>> entries_;
};

}  // namespace fastvlm

#include "model/weights.h"

#include "runtime/error.h"

namespace fastvlm {

WeightLookup lookup_in(const ModelFiles& files) {
    return [&files](const std::string& canonical) { return files.find(canonical); };
}

const TensorView& require_weight(const WeightLookup& lookup, const std::string& canonical,
                                 const std::string& where) {
    const TensorView* t = lookup(canonical);
    if (!t) fail(where, "no tensor '", canonical, "'");
    return *t;
}

const TensorView& HostTensors::add(const std::string& name, std::vector<int64_t> shape,
                                   std::vector<float> values) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    if (numel != int64_t(values.size()))
        fail("host tensors", "tensor '", name, "' has ", values.size(), " values for ", numel, " elements");
    auto entry = std::make_unique<Entry>();
    entry->values = std::move(values);
    entry->view.name = name;
    entry->view.file = "(memory)";
    entry->view.dtype = DType::F32;
    entry->view.shape = std::move(shape);
    entry->view.data = reinterpret_cast<const uint8_t*>(entry->values.data());
    entry->view.nbytes = entry->values.size() * sizeof(float);
    auto& slot = entries_[name];
    slot = std::move(entry);
    return slot->view;
}

const TensorView* HostTensors::find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second->view;
}

WeightLookup HostTensors::lookup() const {
    return [this](const std::string& name) { return find(name); };
}

}  // namespace fastvlm

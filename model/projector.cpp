#include "model/projector.h"

#include "model/linear.h"
#include "runtime/error.h"

namespace fastvlm {

namespace {

const TensorView& find(const WeightLookup& weights, const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView& t = require_weight(weights, name, "projector");
    if (t.shape != shape)
        fail(t.file, "tensor '", name, "' has shape ", shape_string(t.shape), ", expected ", shape_string(shape));
    return t;
}

}  // namespace

Projector::Projector(Backend& backend, const ModelConfig& config, const WeightLookup& weights, WeightMode mode)
    : backend_(backend) {
    if (config.projector_type != "mlp2x_gelu")
        fail("projector", "type '", config.projector_type, "' is not supported (only mlp2x_gelu)");
    const int64_t in = config.mm_hidden, out = config.text.hidden;
    layer1_ = load_linear(backend, find(weights, "model.mm_projector.0.weight", {out, in}),
                          &find(weights, "model.mm_projector.0.bias", {out}), mode);
    layer2_ = load_linear(backend, find(weights, "model.mm_projector.2.weight", {out, out}),
                          &find(weights, "model.mm_projector.2.bias", {out}), mode);
}

Tensor Projector::forward(const Tensor& features) {
    const int64_t n = features.rows(), hidden = layer1_.out_features;
    Tensor h = backend_.alloc(DType::F32, {n, hidden});
    backend_.linear(h, features, layer1_, Activation::GELU);
    Tensor out = backend_.alloc(DType::F32, {n, hidden});
    backend_.linear(out, h, layer2_);
    return out;
}

}  // namespace fastvlm

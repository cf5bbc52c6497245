#include "model/projector.h"

#include "runtime/error.h"

namespace fastvlm {

namespace {

Tensor load(Backend& backend, const WeightLookup& weights, const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView& t = require_weight(weights, name, "projector");
    if (t.shape != shape)
        fail(t.file, "tensor '", name, "' has shape ", shape_string(t.shape), ", expected ", shape_string(shape));
    return backend.weight(t);
}

}  // namespace

Projector::Projector(Backend& backend, const ModelConfig& config, const WeightLookup& weights) : backend_(backend) {
    if (config.projector_type != "mlp2x_gelu")
        fail("projector", "type '", config.projector_type, "' is not supported (only mlp2x_gelu)");
    const int64_t in = config.mm_hidden, out = config.text.hidden;
    w1_ = load(backend, weights, "model.mm_projector.0.weight", {out, in});
    b1_ = load(backend, weights, "model.mm_projector.0.bias", {out});
    w2_ = load(backend, weights, "model.mm_projector.2.weight", {out, out});
    b2_ = load(backend, weights, "model.mm_projector.2.bias", {out});
}

Tensor Projector::forward(const Tensor& features) {
    const int64_t n = features.rows(), hidden = w1_.dim(0);
    Tensor h = backend_.alloc(DType::F32, {n, hidden});
    backend_.matmul(h, features, w1_, b1_, Activation::GELU);
    Tensor out = backend_.alloc(DType::F32, {n, hidden});
    backend_.matmul(out, h, w2_, b2_);
    return out;
}

}  // namespace fastvlm

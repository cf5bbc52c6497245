#include "model/fold_branches.h"

#include <cmath>

#include "runtime/error.h"

namespace fastvlm {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

}  // namespace

ConvKernel fuse_conv_bn(const std::vector<float>& weight, const std::vector<int64_t>& shape,
                        const BatchNormParams& bn) {
    if (shape.size() != 4) fail("fuse_conv_bn", "kernel shape ", shape_text(shape), " is not 4-D");
    const int64_t out = shape[0], per_out = shape[1] * shape[2] * shape[3];
    if (int64_t(bn.gamma.size()) != out || bn.beta.size() != bn.gamma.size() ||
        bn.mean.size() != bn.gamma.size() || bn.var.size() != bn.gamma.size())
        fail("fuse_conv_bn", "batch norm of ", bn.gamma.size(), " channels for a kernel ", shape_text(shape));
    ConvKernel k;
    k.shape = shape;
    k.weight.resize(weight.size());
    k.bias.resize(size_t(out));
    for (int64_t o = 0; o < out; ++o) {
        const float std_dev = std::sqrt(bn.var[size_t(o)] + bn.eps);
        const float t = bn.gamma[size_t(o)] / std_dev;
        for (int64_t i = 0; i < per_out; ++i) k.weight[size_t(o * per_out + i)] = weight[size_t(o * per_out + i)] * t;
        k.bias[size_t(o)] = bn.beta[size_t(o)] - bn.mean[size_t(o)] * bn.gamma[size_t(o)] / std_dev;
    }
    return k;
}

ConvKernel identity_kernel(int64_t channels, int64_t in_per_group, int64_t k) {
    ConvKernel id;
    id.shape = {channels, in_per_group, k, k};
    id.weight.assign(size_t(channels * in_per_group * k * k), 0.0f);
    id.bias.assign(size_t(channels), 0.0f);
    for (int64_t c = 0; c < channels; ++c)
        id.weight[size_t(((c * in_per_group + c % in_per_group) * k + k / 2) * k + k / 2)] = 1.0f;
    return id;
}

ConvKernel pad_kernel(const ConvKernel& kernel, int64_t k) {
    const int64_t kin = kernel.shape[2];
    if (kin > k || (k - kin) % 2 != 0)
        fail("pad_kernel", "cannot pad a ", kin, "x", kin, " kernel to ", k, "x", k);
    const int64_t pad = (k - kin) / 2, planes = kernel.shape[0] * kernel.shape[1];
    ConvKernel out;
    out.shape = {kernel.shape[0], kernel.shape[1], k, k};
    out.weight.assign(size_t(planes * k * k), 0.0f);
    out.bias = kernel.bias;
    for (int64_t p = 0; p < planes; ++p)
        for (int64_t y = 0; y < kin; ++y)
            for (int64_t x = 0; x < kin; ++x)
                out.weight[size_t((p * k + y + pad) * k + x + pad)] = kernel.weight[size_t((p * kin + y) * kin + x)];
    return out;
}

ConvKernel add_kernels(const ConvKernel& a, const ConvKernel& b) {
    if (a.shape != b.shape) fail("add_kernels", "shapes ", shape_text(a.shape), " and ", shape_text(b.shape), " differ");
    ConvKernel sum = a;
    for (size_t i = 0; i < sum.weight.size(); ++i) sum.weight[i] += b.weight[i];
    for (size_t i = 0; i < sum.bias.size(); ++i) sum.bias[i] += b.bias[i];
    return sum;
}

// ---------------------------------------------------------------------- BranchFolder

BranchFolder::BranchFolder(WeightLookup train_time, float bn_eps)
    : source_(std::move(train_time)), eps_(bn_eps) {}

WeightLookup BranchFolder::lookup() {
    return [this](const std::string& name) { return find(name); };
}

std::vector<float> BranchFolder::values(const std::string& name, std::vector<int64_t>* shape) const {
    const TensorView* t = source_(name);
    if (!t) fail("branch folding", "train-time tensor '", name, "' is missing");
    if (shape) *shape = t->shape;
    return to_float(*t);
}

BatchNormParams BranchFolder::batch_norm(const std::string& prefix) const {
    BatchNormParams bn;
    bn.gamma = values(prefix + "weight");
    bn.beta = values(prefix + "bias");
    bn.mean = values(prefix + "running_mean");
    bn.var = values(prefix + "running_var");
    bn.eps = eps_;
    return bn;
}

// prefix: "...patch_embed.0." etc. k and in_per_group are needed only when the block has no conv branch.
ConvKernel BranchFolder::fold_mobileone(const std::string& prefix, int64_t k, int64_t in_per_group) const {
    ConvKernel sum;
    bool have = false;
    auto accumulate = [&](const ConvKernel& part) {
        sum = have ? add_kernels(sum, part) : part;
        have = true;
    };
    for (int i = 0; has(prefix + "rbr_conv." + std::to_string(i) + ".conv.weight"); ++i) {
        const std::string branch = prefix + "rbr_conv." + std::to_string(i) + ".";
        std::vector<int64_t> shape;
        std::vector<float> w = values(branch + "conv.weight", &shape);
        k = shape[2];
        in_per_group = shape[1];
        accumulate(fuse_conv_bn(w, shape, batch_norm(branch + "bn.")));
    }
    if (has(prefix + "rbr_scale.conv.weight")) {
        std::vector<int64_t> shape;
        std::vector<float> w = values(prefix + "rbr_scale.conv.weight", &shape);
        accumulate(pad_kernel(fuse_conv_bn(w, shape, batch_norm(prefix + "rbr_scale.bn.")), k));
    }
    if (has(prefix + "rbr_skip.weight")) {
        const BatchNormParams bn = batch_norm(prefix + "rbr_skip.");
        const ConvKernel id = identity_kernel(int64_t(bn.gamma.size()), in_per_group, k);
        accumulate(fuse_conv_bn(id.weight, id.shape, bn));
    }
    if (!have) fail("branch folding", "no branches under '", prefix, "'");
    return sum;
}

ConvKernel BranchFolder::fold_large_kernel(const std::string& prefix) const {
    std::vector<int64_t> shape;
    std::vector<float> w = values(prefix + "lkb_origin.conv.weight", &shape);
    ConvKernel sum = fuse_conv_bn(w, shape, batch_norm(prefix + "lkb_origin.bn."));
    if (has(prefix + "small_conv.conv.weight")) {
        std::vector<int64_t> small_shape;
        std::vector<float> small = values(prefix + "small_conv.conv.weight", &small_shape);
        sum = add_kernels(sum, pad_kernel(fuse_conv_bn(small, small_shape, batch_norm(prefix + "small_conv.bn.")), shape[2]));
    }
    return sum;
}

ConvKernel BranchFolder::fold_repmixer(const std::string& prefix) const {
    const ConvKernel mixer = fold_mobileone(prefix + "mixer.", 0, 0);
    const int64_t channels = mixer.shape[0], in_per_group = mixer.shape[1], k = mixer.shape[2];
    const ConvKernel norm = fold_mobileone(prefix + "norm.", k, in_per_group);
    if (norm.shape != mixer.shape)
        fail("branch folding", "RepMixer '", prefix, "': mixer ", shape_text(mixer.shape), " and norm ",
             shape_text(norm.shape), " differ");
    const std::vector<float> scale = values(prefix + "layer_scale");
    if (int64_t(scale.size()) != channels)
        fail("branch folding", "RepMixer '", prefix, "layer_scale' has ", scale.size(), " values for ", channels, " channels");
    ConvKernel out = identity_kernel(channels, in_per_group, k);
    const int64_t per_out = in_per_group * k * k;
    for (int64_t c = 0; c < channels; ++c) {
        for (int64_t i = 0; i < per_out; ++i) {
            const size_t j = size_t(c * per_out + i);
            out.weight[j] += scale[size_t(c)] * (mixer.weight[j] - norm.weight[j]);
        }
        out.bias[size_t(c)] = scale[size_t(c)] * (mixer.bias[size_t(c)] - norm.bias[size_t(c)]);
    }
    return out;
}

ConvKernel BranchFolder::fold_repcpe(const std::string& prefix) const {
    ConvKernel pe;
    pe.weight = values(prefix + "pe.weight", &pe.shape);
    pe.bias = values(prefix + "pe.bias");
    if (pe.shape.size() != 4) fail("branch folding", "'", prefix, "pe.weight' is not a 4-D kernel");
    ConvKernel id = identity_kernel(pe.shape[0], pe.shape[1], pe.shape[2]);
    for (size_t i = 0; i < id.weight.size(); ++i) id.weight[i] += pe.weight[i];
    id.bias = pe.bias;
    return id;
}

const TensorView* BranchFolder::find(const std::string& canonical) {
    if (const TensorView* t = source_(canonical)) return t;
    if (const TensorView* t = folded_.find(canonical)) return t;

    // Which folded convolution is asked for, and its module prefix.
    std::string folded_name, prefix;
    for (const char* name : {"reparam_conv.", "lkb_reparam."}) {
        for (const char* part : {"weight", "bias"}) {
            const std::string suffix = std::string(name) + part;
            if (ends_with(canonical, suffix)) {
                prefix = canonical.substr(0, canonical.size() - suffix.size());
                folded_name = name;
            }
        }
    }
    if (folded_name.empty()) return nullptr;

    ConvKernel kernel;
    if (has(prefix + "lkb_origin.conv.weight")) kernel = fold_large_kernel(prefix);
    else if (has(prefix + "mixer.rbr_skip.weight") || has(prefix + "mixer.rbr_conv.0.conv.weight")) kernel = fold_repmixer(prefix);
    else if (has(prefix + "pe.weight")) kernel = fold_repcpe(prefix);
    else if (has(prefix + "rbr_conv.0.conv.weight") || has(prefix + "rbr_skip.weight") || has(prefix + "rbr_scale.conv.weight"))
        kernel = fold_mobileone(prefix, 0, 0);
    else
        return nullptr;
    ++folded_modules_;
    const int64_t out = kernel.shape[0];
    folded_.add(prefix + folded_name + "weight", kernel.shape, std::move(kernel.weight));
    folded_.add(prefix + folded_name + "bias", {out}, std::move(kernel.bias));
    return folded_.find(canonical);
}

}  // namespace fastvlm

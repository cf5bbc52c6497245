// Structural reparameterization: a train-time (multi-branch) FastViTHD folded into the
// single-convolution inference form that the released checkpoint stores and FastViTHD reads.
// The formulas are those of mci.py / timm fastvit.py (spec fastvlm.md section 1.9):
//
//   fuse(conv W, bn):   t = gamma / sqrt(var + eps);  W' = W * t[o];  b' = beta - mean * gamma / sqrt(var + eps)
//   BN-only branch:     the identity kernel (1 at [o, o % (in / groups), k/2, k/2]) fused with the BN
//   MobileOneBlock:     sum of fuse(rbr_conv.i) + pad(fuse(rbr_scale), 1x1 -> kxk) + fuse(rbr_skip)
//   ReparamLargeKernel: fuse(lkb_origin) + pad(fuse(small_conv), 3x3 -> 7x7)
//   RepMixer:           W = id + layer_scale * (W_mixer - W_norm),  b = layer_scale * (b_mixer - b_norm)
//   RepCPE:             W = id + W_pe,  b = b_pe
//
// Train-time names (mci.py), under the canonical prefix of each module:
//   MobileOneBlock  rbr_conv.{i}.conv.weight, rbr_conv.{i}.bn.*, rbr_scale.conv.weight, rbr_scale.bn.*, rbr_skip.*
//   ReparamLKConv   lkb_origin.conv.weight, lkb_origin.bn.*, small_conv.conv.weight, small_conv.bn.*
//   RepMixer        token_mixer.mixer.* (a MobileOneBlock), token_mixer.norm.* (BN-only), token_mixer.layer_scale
//   RepCPE          pe.weight, pe.bias
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/weights.h"

namespace fastvlm {

// A convolution kernel [out, in / groups, k, k] with its bias [out], fp32.
struct ConvKernel {
    std::vector<int64_t> shape;
    std::vector<float> weight;
    std::vector<float> bias;
};

// Eval-mode BatchNorm2d parameters [C].
struct BatchNormParams {
    std::vector<float> gamma, beta, mean, var;
    float eps = 1e-5f;
};

// conv (no bias) followed by bn, as one convolution with a bias.
ConvKernel fuse_conv_bn(const std::vector<float>& weight, const std::vector<int64_t>& shape,
                        const BatchNormParams& bn);
// The identity as a [channels, in_per_group, k, k] kernel with a zero bias.
ConvKernel identity_kernel(int64_t channels, int64_t in_per_group, int64_t k);
// Zero-pads a kernel's spatial size to k (centred).
ConvKernel pad_kernel(const ConvKernel& kernel, int64_t k);
// a + b, shapes equal.
ConvKernel add_kernels(const ConvKernel& a, const ConvKernel& b);

// Serves the tensors of a train-time vision tower in inference form: a request for a folded
// name (…reparam_conv.weight / .bias, …lkb_reparam.weight / .bias) that the source lacks is
// folded from the branches under the same module prefix (and cached); every other name is
// passed through unchanged. A checkpoint already in inference form passes through untouched.
class BranchFolder {
public:
    explicit BranchFolder(WeightLookup train_time, float bn_eps = 1e-5f);
    const TensorView* find(const std::string& canonical);
    WeightLookup lookup();  // refers to *this
    int folded_modules() const { return folded_modules_; }

private:
    bool has(const std::string& name) const { return source_(name) != nullptr; }
    std::vector<float> values(const std::string& name, std::vector<int64_t>* shape = nullptr) const;
    BatchNormParams batch_norm(const std::string& prefix) const;
    ConvKernel fold_mobileone(const std::string& prefix, int64_t k, int64_t in_per_group) const;
    ConvKernel fold_large_kernel(const std::string& prefix) const;
    ConvKernel fold_repmixer(const std::string& prefix) const;
    ConvKernel fold_repcpe(const std::string& prefix) const;

    WeightLookup source_;
    float eps_;
    HostTensors folded_;
    int folded_modules_ = 0;
};

}  // namespace fastvlm

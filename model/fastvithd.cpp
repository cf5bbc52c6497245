#include "model/fastvithd.h"

#include <cmath>

#include "loader/tensor_names.h"
#include "model/linear.h"
#include "runtime/error.h"

namespace fastvlm {

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
    return out + "]";
}

}  // namespace

// ---------------------------------------------------------------------- loading

const TensorView& FastViTHD::view(const std::string& name, const std::vector<int64_t>& shape) const {
    const TensorView& t = require_weight(weights_, kVisionPrefix + name, where_);
    if (t.shape != shape)
        fail(t.file, "tensor '", t.name, "' has shape ", shape_text(t.shape), ", expected ", shape_text(shape));
    return t;
}

Tensor FastViTHD::load(const std::string& name, const std::vector<int64_t>& shape) {
    return backend_.weight(view(name, shape));
}

FastViTHD::Conv FastViTHD::load_conv(const std::string& prefix, const std::vector<int64_t>& shape) {
    Conv c;
    c.weight = load(prefix + ".weight", shape);
    c.bias = load(prefix + ".bias", {shape[0]});
    return c;
}

LinearWeight FastViTHD::load_pointwise(const std::string& prefix, const std::vector<int64_t>& shape, bool has_bias) {
    const TensorView& weight = view(prefix + ".weight", shape);
    const TensorView* bias = has_bias ? &view(prefix + ".bias", {shape[0]}) : nullptr;
    return load_linear(backend_, weight, bias, gemm_mode_);
}

// The ConvFFN's depthwise 7x7 has no bias and is followed by an eval-mode BatchNorm: fold it,
//   s = gamma / sqrt(var + eps);  W' = W * s;  b' = beta - mean * s.
FastViTHD::ConvFFN FastViTHD::load_ffn(const std::string& prefix, int width) {
    const int64_t c = width, hidden = int64_t(width) * config_.mlp_ratio;
    auto host = [&](const std::string& name, const std::vector<int64_t>& shape) {
        return to_float(view(prefix + name, shape));
    };
    std::vector<float> w = host("conv.conv.weight", {c, 1, 7, 7});
    const std::vector<float> gamma = host("conv.bn.weight", {c}), beta = host("conv.bn.bias", {c});
    const std::vector<float> mean = host("conv.bn.running_mean", {c}), var = host("conv.bn.running_var", {c});
    std::vector<float> bias(static_cast<size_t>(c));
    for (int64_t o = 0; o < c; ++o) {
        const float s = gamma[size_t(o)] / std::sqrt(var[size_t(o)] + config_.norm_eps);
        for (int i = 0; i < 49; ++i) w[size_t(o * 49 + i)] *= s;
        bias[size_t(o)] = beta[size_t(o)] - mean[size_t(o)] * s;
    }
    ConvFFN ffn;
    ffn.depthwise.weight = backend_.upload(w, {c, 1, 7, 7});
    ffn.depthwise.bias = backend_.upload(bias, {c});
    ffn.fc1 = load_pointwise(prefix + "fc1", {hidden, c, 1, 1});
    ffn.fc2 = load_pointwise(prefix + "fc2", {c, hidden, 1, 1});
    return ffn;
}

FastViTHD::FastViTHD(Backend& backend, const VisionConfig& config, const WeightLookup& weights,
                     WeightMode gemm_mode)
    : backend_(backend), config_(config), weights_(weights), where_("vision tower"), gemm_mode_(gemm_mode) {
    const std::string problem = vision_shape_problem(config_);
    if (!problem.empty()) fail(where_, "unusable description: ", problem);
    if (gemm_mode != WeightMode::Reference && gemm_mode != WeightMode::F16)
        fail(where_, "matmuls run in the reference or the fp16 mode, not ", weight_mode_name(gemm_mode));
    const int64_t c0 = config_.widths[0];
    stem_[0] = load_conv("patch_embed.0.reparam_conv", {c0, 3, 3, 3});
    stem_[1] = load_conv("patch_embed.1.reparam_conv", {c0, 1, 3, 3});
    stem_point_ = load_pointwise("patch_embed.2.reparam_conv", {c0, c0, 1, 1});

    const std::vector<VisionStageIndices> indices = vision_network_indices(config_);
    int64_t previous = c0;
    for (size_t s = 0; s < config_.depths.size(); ++s) {
        Stage stage;
        const int64_t c = config_.widths[s];
        stage.width = int(c);
        stage.attention = config_.attention[s];
        if (indices[s].downsample >= 0) {
            const std::string p = "network." + std::to_string(indices[s].downsample) + ".proj.";
            stage.has_downsample = true;
            stage.downsample_large = load_conv(p + "0.lkb_reparam", {c, 1, 7, 7});
            stage.downsample_point = load_pointwise(p + "1.reparam_conv", {c, c, 1, 1});
            if (c % previous != 0)
                fail(where_, "stage ", s, " widens ", previous, " channels to ", c, ", not a multiple");
        } else if (c != previous) {
            fail(where_, "stage ", s, " changes the width from ", previous, " to ", c, " without a downsample");
        }
        if (indices[s].pos_emb >= 0) {
            stage.has_pos_emb = true;
            stage.pos_emb = load_conv("network." + std::to_string(indices[s].pos_emb) + ".reparam_conv", {c, 1, 7, 7});
        }
        if (stage.attention && c % config_.head_dim != 0)
            fail(where_, "stage ", s, " width ", c, " is not a multiple of the head size ", config_.head_dim);
        for (int b = 0; b < config_.depths[s]; ++b) {
            const std::string p = "network." + std::to_string(indices[s].blocks) + "." + std::to_string(b) + ".";
            Block block;
            if (stage.attention) {
                block.norm_weight = load(p + "norm.weight", {c});
                block.norm_bias = load(p + "norm.bias", {c});
                block.qkv = load_pointwise(p + "token_mixer.qkv", {3 * c, c}, /*has_bias=*/false);
                block.proj = load_pointwise(p + "token_mixer.proj", {c, c});
                block.layer_scale_1 = load(p + "layer_scale_1", {c, 1, 1});
                block.layer_scale_2 = load(p + "layer_scale_2", {c, 1, 1});
            } else {
                block.mixer = load_conv(p + "token_mixer.reparam_conv", {c, 1, 3, 3});
                block.layer_scale = load(p + "layer_scale", {c, 1, 1});
            }
            block.ffn = load_ffn(p + "convffn.", int(c));
            stage.blocks.push_back(std::move(block));
        }
        stages_.push_back(std::move(stage));
        previous = c;
    }
    const int64_t out = config_.out_channels, se = config_.se_channels;
    if (out % previous != 0)
        fail(where_, "conv_exp maps ", previous, " channels to ", out, ", not a multiple");
    conv_exp_ = load_conv("conv_exp.reparam_conv", {out, 1, 3, 3});
    se_reduce_ = load_pointwise("conv_exp.se.reduce", {se, out, 1, 1});
    se_expand_ = load_pointwise("conv_exp.se.expand", {out, se, 1, 1});
}

// ---------------------------------------------------------------------- forward

// Same-padded depthwise convolution (pad k/2) with the given stride.
Tensor FastViTHD::depthwise(const Tensor& x, const Conv& conv, int stride, Activation act) {
    const int k = int(conv.weight.dim(2)), pad = k / 2;
    const int64_t h = (x.dim(0) + 2 * pad - k) / stride + 1, w = (x.dim(1) + 2 * pad - k) / stride + 1;
    Tensor y = backend_.alloc(DType::F32, {h, w, conv.weight.dim(0)});
    backend_.depthwise_conv2d(y, x, conv.weight, conv.bias, stride, pad, act);
    return y;
}

Tensor FastViTHD::run_ffn(const ConvFFN& ffn, const Tensor& x) {
    const int64_t n = x.dim(0) * x.dim(1), c = x.dim(2), hidden = ffn.fc1.out_features;
    Tensor mixed = depthwise(x, ffn.depthwise, 1, Activation::None);        // [H, W, C]
    Tensor expanded = backend_.alloc(DType::F32, {n, hidden});              // [N, 4C]
    backend_.linear(expanded, mixed.reshape({n, c}), ffn.fc1, Activation::GELU);
    Tensor out = backend_.alloc(DType::F32, {n, c});                        // [N, C]
    backend_.linear(out, expanded, ffn.fc2);
    return out;
}

Tensor FastViTHD::encode(const std::vector<float>& pixels, int height, int width, const VisionTap& tap) {
    if (height <= 0 || width <= 0 || height % 64 != 0 || width % 64 != 0)
        fail(where_, "input ", height, "x", width, " is not a positive multiple of 64 on each side");
    if (int64_t(pixels.size()) != 3ll * height * width)
        fail(where_, "input has ", pixels.size(), " values, expected 3 x ", height, " x ", width);
    auto emit = [&](const std::string& name, const Tensor& t) {
        if (tap) tap(name, t);
    };

    // CHW -> HWC.
    Tensor chw = backend_.upload(pixels, {3, int64_t(height) * width});
    Tensor x = backend_.alloc(DType::F32, {int64_t(height) * width, 3});
    backend_.transpose(x, chw);
    x = x.reshape({height, width, 3});

    // Stem.
    const int64_t c0 = stem_[0].weight.dim(0);
    Tensor s0 = backend_.alloc(DType::F32, {(height + 1) / 2, (width + 1) / 2, c0});
    backend_.conv2d(s0, x, stem_[0].weight, stem_[0].bias, 2, 1, Activation::GELU);
    x = depthwise(s0, stem_[1], 2, Activation::GELU);
    {
        Tensor point = backend_.alloc(DType::F32, x.shape());
        backend_.linear(point.reshape({x.dim(0) * x.dim(1), c0}), x.reshape({x.dim(0) * x.dim(1), c0}), stem_point_,
                        Activation::GELU);
        x = point;
    }
    emit("vision.stem", x);

    for (size_t s = 0; s < stages_.size(); ++s) {
        const Stage& stage = stages_[s];
        const std::string name = "vision.stage" + std::to_string(s);
        const int64_t c = stage.width;
        if (stage.has_downsample) {
            Tensor wide = depthwise(x, stage.downsample_large, 2, Activation::GELU);   // [H/2, W/2, C]
            Tensor point = backend_.alloc(DType::F32, wide.shape());
            const int64_t n = wide.dim(0) * wide.dim(1);
            backend_.linear(point.reshape({n, c}), wide.reshape({n, c}), stage.downsample_point, Activation::GELU);
            x = point;
            emit(name + ".downsample", x);
        }
        if (stage.has_pos_emb) {
            x = depthwise(x, stage.pos_emb, 1, Activation::None);
            emit(name + ".pos_emb", x);
        }
        const int64_t n = x.dim(0) * x.dim(1);
        for (const Block& block : stage.blocks) {
            if (!stage.attention) {
                x = depthwise(x, block.mixer, 1, Activation::None);
                backend_.add_scaled(x.reshape({n, c}), run_ffn(block.ffn, x), block.layer_scale);
                continue;
            }
            const int heads = int(c / config_.head_dim);
            Tensor tokens = x.reshape({n, c});
            Tensor normed = backend_.alloc(DType::F32, {n, c});
            backend_.layernorm(normed, tokens, block.norm_weight, block.norm_bias, config_.norm_eps);
            Tensor qkv = backend_.alloc(DType::F32, {n, 3 * c});
            backend_.linear(qkv, normed, block.qkv);
            Tensor attended = backend_.alloc(DType::F32, {n, c});
            backend_.self_attention(attended, qkv, heads, config_.head_dim);
            Tensor projected = backend_.alloc(DType::F32, {n, c});
            backend_.linear(projected, attended, block.proj);
            backend_.add_scaled(tokens, projected, block.layer_scale_1);
            backend_.add_scaled(tokens, run_ffn(block.ffn, x), block.layer_scale_2);
        }
        emit(name, x);
    }

    // conv_exp: grouped 3x3 (two outputs per channel), squeeze-excite, GELU.
    Tensor y = depthwise(x, conv_exp_, 1, Activation::None);                    // [h, w, out]
    const int64_t n = y.dim(0) * y.dim(1), out = y.dim(2);
    Tensor tokens = y.reshape({n, out});
    Tensor squeezed = backend_.alloc(DType::F32, {1, out});
    backend_.mean_rows(squeezed, tokens);
    Tensor reduced = backend_.alloc(DType::F32, {1, se_reduce_.out_features});
    backend_.linear(reduced, squeezed, se_reduce_, Activation::ReLU);
    Tensor gate = backend_.alloc(DType::F32, {1, out});
    backend_.linear(gate, reduced, se_expand_, Activation::Sigmoid);
    backend_.scale_channels(tokens, gate);
    backend_.activate(tokens, Activation::GELU);
    emit("vision.final_conv", y);
    return tokens;
}

}  // namespace fastvlm

// FastViTHD, the FastVLM vision encoder, in the reparameterized form the checkpoint stores
// (mci.py fastvithd(), inference_mode=True): an image [3, S, S] in, S/64 x S/64 tokens of
// out_channels out, in raster order (token n = row * (S/64) + column).
//
//   stem          3x3 s2 conv -> GELU, depthwise 3x3 s2 -> GELU, 1x1 -> GELU
//   stage 0..2    [PatchEmbed] then RepMixer blocks:  x = dw3x3(x);  x += ls * ConvFFN(x)
//   stage 3..4    PatchEmbed, RepCPE (dw7x7, identity folded in), then attention blocks:
//                 x += ls1 * MHSA(LayerNormChannel(x));  x += ls2 * ConvFFN(x)
//   PatchEmbed    7x7 s2 conv with groups = C_in, C_out = 2 C_in -> GELU, 1x1 -> GELU
//   ConvFFN       dw7x7 (BatchNorm folded in at load) -> 1x1 (4C) -> GELU -> 1x1 (C)
//   conv_exp      3x3 conv with groups = C_in, C_out = 2 C_in, squeeze-excite, GELU
//
// Feature maps are [H, W, C] (channels innermost) so that 1x1 convolutions are matmuls and the
// attention stages read tokens without a transpose. The matmuls (1x1 convolutions, attention
// projections, squeeze-excite) are linear layers in a weight mode: the reference mode reads the
// weights as stored and keeps fp32 activations; the fp16 mode (every other model mode) runs them
// W16A16 as a half-precision pipeline does, fp16 weights and inputs and outputs rounded to fp16,
// fp32 accumulation. The spatial convolutions read their weights as stored, except the ConvFFN
// depthwise kernels, which are rebuilt in fp32 with the BatchNorm folded in.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "loader/config.h"
#include "model/weights.h"
#include "runtime/backend.h"
#include "runtime/linear_weight.h"
#include "runtime/weight_mode.h"

namespace fastvlm {

// Called with each stage's output ([H, W, C]) as the encoder runs, under the names of the
// reference fixtures: "vision.stem", "vision.stage{s}.downsample", "vision.stage{s}.pos_emb",
// "vision.stage{s}", "vision.final_conv".
using VisionTap = std::function<void(const std::string& name, const Tensor& feature_map)>;

class FastViTHD {
public:
    // Reads every weight through `weights` (canonical names) and checks its shape against
    // `config`. Throws fastvlm::Error naming the tensor on a missing or mis-shaped weight.
    // `gemm_mode` is WeightMode::Reference or WeightMode::F16 (the matmuls' precision, above).
    FastViTHD(Backend& backend, const VisionConfig& config, const WeightLookup& weights,
              WeightMode gemm_mode = WeightMode::Reference);

    const VisionConfig& config() const { return config_; }
    int out_channels() const { return config_.out_channels; }
    // Tokens produced for an input of side `side` (a multiple of 64).
    int tokens_for(int side) const { return (side / 64) * (side / 64); }

    // pixels: CHW fp32, values as the image processor makes them ([0, 1]).
    // Returns [(height/64) * (width/64), out_channels] fp32.
    Tensor encode(const std::vector<float>& pixels, int height, int width, const VisionTap& tap = {});

private:
    struct Conv {            // weight in the PyTorch layout, bias [C_out]
        Tensor weight, bias;
    };
    struct ConvFFN {
        Conv depthwise;               // [C, 1, 7, 7] fp32, BatchNorm folded in
        LinearWeight fc1, fc2;        // 1x1 convs [4C, C], [C, 4C]
    };
    struct Block {
        // RepMixer blocks
        Conv mixer;          // [C, 1, 3, 3]
        Tensor layer_scale;  // [C, 1, 1]
        // attention blocks
        Tensor norm_weight, norm_bias;     // [C]
        LinearWeight qkv;                  // [3C, C], no bias
        LinearWeight proj;                 // [C, C]
        Tensor layer_scale_1, layer_scale_2;  // [C, 1, 1]
        ConvFFN ffn;
    };
    struct Stage {
        int width = 0;
        bool attention = false;
        bool has_downsample = false, has_pos_emb = false;
        Conv downsample_large;    // [C, 1, 7, 7] stride 2, groups C_in
        LinearWeight downsample_point;  // 1x1 conv [C, C]
        Conv pos_emb;             // [C, 1, 7, 7]
        std::vector<Block> blocks;
    };

    // The checkpoint's tensor `name` (under the vision prefix), checked to have `shape`.
    const TensorView& view(const std::string& name, const std::vector<int64_t>& shape) const;
    Tensor load(const std::string& name, const std::vector<int64_t>& shape);
    Conv load_conv(const std::string& prefix, const std::vector<int64_t>& shape);
    // A 1x1 convolution or linear layer [out, in] (shape as stored), bias unless `has_bias` is false.
    LinearWeight load_pointwise(const std::string& prefix, const std::vector<int64_t>& shape, bool has_bias = true);
    ConvFFN load_ffn(const std::string& prefix, int width);

    Tensor run_ffn(const ConvFFN& ffn, const Tensor& x);  // x [H, W, C] -> [H*W, C]
    Tensor depthwise(const Tensor& x, const Conv& conv, int stride, Activation act);

    Backend& backend_;
    VisionConfig config_;
    WeightLookup weights_;
    std::string where_;
    WeightMode gemm_mode_;
    Conv stem_[2];                // [C0, 3, 3, 3], [C0, 1, 3, 3]
    LinearWeight stem_point_;     // 1x1 conv [C0, C0]
    std::vector<Stage> stages_;
    Conv conv_exp_;               // [out, 1, 3, 3]
    LinearWeight se_reduce_, se_expand_;  // 1x1 convs [se, out], [out, se]
};

}  // namespace fastvlm

// Direct convolutions on channels-innermost feature maps [H, W, C] for the CPU backend: the
// depthwise kxk convolutions of FastViTHD (3x3 token mixers, 7x7 ConvFFN and RepCPE convs,
// the stride-2 7x7 downsampling with two outputs per input channel, the conv_exp 3x3 with two)
// and the dense 3x3 stem convolution. Weights arrive in the PyTorch layout and are transposed
// to [k, k, C] per call so that eight adjacent channels load as one vector.
#pragma once
#include <cstdint>

#include "runtime/backend.h"
#include "runtime/cpu/thread_pool.h"

namespace fastvlm::cpu {

struct ConvShape {
    int64_t in_h = 0, in_w = 0, in_c = 0;
    int64_t out_h = 0, out_w = 0, out_c = 0;
    int kernel = 1, stride = 1, pad = 0;
};

// Output side of a zero-padded convolution.
inline int64_t conv_out_size(int64_t in, int kernel, int stride, int pad) {
    return (in + 2 * pad - kernel) / stride + 1;
}

// y[oy, ox, o] = act(bias[o] + sum_{ky,kx} w[o, ky, kx] * x[oy*s - p + ky, ox*s - p + kx, o / m])
//   x [in_h, in_w, in_c], w [out_c, 1, k, k] fp32, bias [out_c] fp32 or nullptr,
//   y [out_h, out_w, out_c], m = out_c / in_c
void depthwise_conv2d_hwc(ThreadPool& pool, const ConvShape& s, const float* x, const float* w,
                          const float* bias, float* y, Activation act);

// y[oy, ox, o] = act(bias[o] + sum_{c,ky,kx} w[o, c, ky, kx] * x[oy*s - p + ky, ox*s - p + kx, c])
//   w [out_c, in_c, k, k] fp32
void conv2d_hwc(ThreadPool& pool, const ConvShape& s, const float* x, const float* w,
                const float* bias, float* y, Activation act);

}  // namespace fastvlm::cpu

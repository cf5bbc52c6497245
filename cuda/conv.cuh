// Direct 2-D convolutions on channels-innermost feature maps, fp32 activations, weights F32,
// F16 or BF16 widened in the kernel, fp32 accumulation, bias and activation fused
// (cuda/conv.cu).
#pragma once
#include "cuda/common.cuh"
#include "runtime/activation.h"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// Dense convolution (groups = 1), zero padding, for the few-channel stem:
//   y[oy, ox, o] = act(bias[o] + sum_{c, ky, kx} w[o, c, ky, kx] * x[oy*stride - pad + ky, ox*stride - pad + kx, c])
//   x    [height, width, c_in] f32
//   w    [c_out, c_in, ksize, ksize] in w_dtype (F32, F16 or BF16)
//   bias [c_out] f32, or nullptr
//   y    [out_h, out_w, c_out] f32, out_h = (height + 2 pad - ksize) / stride + 1 (out_w alike); not x
void conv2d(const float* x, const void* w, DType w_dtype, const float* bias, float* y, int height, int width, int c_in,
            int c_out, int ksize, int stride, int pad, Activation act, cudaStream_t stream);

// Depthwise convolution with channel multiplier c_out / c_in (groups = c_in): output channel o
// reads input channel o / (c_out / c_in), as PyTorch's grouped convolution does.
//   w    [c_out, 1, ksize, ksize] in w_dtype; other shapes as conv2d
void depthwise_conv2d(const float* x, const void* w, DType w_dtype, const float* bias, float* y, int height, int width,
                      int c_in, int c_out, int ksize, int stride, int pad, Activation act, cudaStream_t stream);

}  // namespace fastvlm::gpu

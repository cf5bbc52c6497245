// Direct convolutions on channels-innermost feature maps [H, W, C]: the dense stem convolution
// (3x3, stride 2, 3 -> 96 channels in FastViTHD) and the depthwise kxk convolutions (3x3 token
// mixers, 7x7 ConvFFN / RepCPE / stride-2 downsampling with channel multiplier 2). fp32
// activations, weights F32, F16 or BF16 widened as they are read, fp32 accumulation, bias and
// activation fused into the store.
//
// One kernel serves both (template Depthwise): a block of 32 x 8 threads owns 32 consecutive
// output channels (threadIdx.x) and walks the output pixels eight at a time (threadIdx.y),
// stepping by the grid (capped at about a thousand blocks, one wave on an H100). A thread sums
// its channel's taps over the valid window (padding taps are skipped, not multiplied by zero).
// Consecutive lanes are consecutive output channels, so the output store is coalesced and the
// input reads are coalesced (depthwise: lanes read consecutive input channels, or pairs with
// multiplier 2) or broadcast (dense: every lane reads the same input value).
// The weights of the block's 32 channels are widened once into shared memory, transposed to
// [tap][channel] so that a warp reads 32 consecutive floats (taps per channel at most 384,
// 48 KB; larger kernels read them from global memory through the cache instead).
//
// Roofline: bandwidth bound by the activations. Stem at 1024 x 1024: 12.6 MB in (each input
// read about 2.25 times from L1/L2), 100 MB out, 1.4 GFLOP: about 35 us at 3.35 TB/s.
// Depthwise 7x7 on [256, 256, 96]: 25 MB in and 25 MB out (the k*k re-reads of x hit L1/L2),
// 0.6 GFLOP: about 15 us.
#include "cuda/conv.cuh"

#include <algorithm>
#include <cstdint>

#include "cuda/activation.cuh"
#include "cuda/widen.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kChannels = 32;       // output channels per block (threadIdx.x)
constexpr int kPixelRows = 8;       // output pixels in flight per block (threadIdx.y)
constexpr unsigned kMaxBlocks = 1024;
constexpr int kMaxStagedTaps = 384;  // 384 taps x 32 channels x 4 bytes = 48 KB of shared memory
constexpr unsigned kMaxGridY = 65535;

// y[p, o] = act(bias[o] + sum over the valid window of w[o, c, ky, kx] * x[iy, ix, c]) with
// c over every input channel (dense) or only o / (c_out / c_in) (depthwise, w [c_out, 1, k, k]).
template <DType D, bool Depthwise, bool Staged>
__global__ void __launch_bounds__(kChannels * kPixelRows)
    conv_kernel(const float* __restrict__ x, const void* __restrict__ w, const float* __restrict__ bias,
                float* __restrict__ y, int height, int width, int c_in, int c_out, int ksize, int stride, int pad,
                int out_h, int out_w, Activation act) {
    FASTVLM_DYNAMIC_SHARED(float, w_tile);  // Staged: [taps][kChannels], this block's channels
    const int window = ksize * ksize;
    const int taps = Depthwise ? window : c_in * window;  // weights per output channel
    const int o0 = int(blockIdx.y) * kChannels, o = o0 + int(threadIdx.x);
    if (Staged) {
        for (int i = int(threadIdx.y) * kChannels + int(threadIdx.x); i < taps * kChannels;
             i += kChannels * kPixelRows) {
            const int t = i / kChannels, channel = o0 + i % kChannels;
            w_tile[i] = channel < c_out ? widen<D>(w, size_t(channel) * size_t(taps) + size_t(t)) : 0.0f;
        }
        __syncthreads();
    }
    if (o >= c_out) return;  // after the block's only barrier

    const size_t w_row = size_t(o) * size_t(taps);  // w[o, 0, 0, 0]
    const int c_first = Depthwise ? o / (c_out / c_in) : 0, c_end = Depthwise ? c_first + 1 : c_in;
    const float b = bias ? bias[o] : 0.0f;
    const int pixels = out_h * out_w;
    for (int p = int(blockIdx.x) * kPixelRows + int(threadIdx.y); p < pixels; p += int(gridDim.x) * kPixelRows) {
        const int iy0 = (p / out_w) * stride - pad, ix0 = (p % out_w) * stride - pad;
        // The taps that land inside the input.
        const int ky_end = min(ksize, height - iy0), kx_begin = max(0, -ix0), kx_end = min(ksize, width - ix0);
        float acc = 0.0f;
        for (int ky = max(0, -iy0); ky < ky_end; ++ky) {
            for (int kx = kx_begin; kx < kx_end; ++kx) {
                const float* x_pixel = x + (size_t(iy0 + ky) * size_t(width) + size_t(ix0 + kx)) * size_t(c_in);
                int t = ky * ksize + kx;  // tap of the first channel; the next channel is a window further
                for (int c = c_first; c < c_end; ++c, t += window) {
                    const float wv = Staged ? w_tile[t * kChannels + int(threadIdx.x)] : widen<D>(w, w_row + size_t(t));
                    acc = fmaf(wv, x_pixel[c], acc);
                }
            }
        }
        y[size_t(p) * size_t(c_out) + size_t(o)] = apply_activation(acc + b, act);
    }
}

template <bool Depthwise>
void run_conv(const char* op, const float* x, const void* w, DType w_dtype, const float* bias, float* y, int height,
              int width, int c_in, int c_out, int ksize, int stride, int pad, Activation act, cudaStream_t stream) {
    if (ksize <= 0 || stride <= 0 || pad < 0 || height <= 0 || width <= 0 || c_in <= 0 || c_out <= 0)
        fail(op, "bad convolution: kernel ", ksize, ", stride ", stride, ", pad ", pad, ", input ", height, "x", width,
             "x", c_in, ", ", c_out, " outputs");
    if (int64_t(height) + 2 * int64_t(pad) < ksize || int64_t(width) + 2 * int64_t(pad) < ksize)
        fail(op, "kernel ", ksize, " is larger than the input ", height, "x", width, " padded by ", pad);
    if (Depthwise && c_out % c_in != 0)
        fail(op, c_out, " output channels are not a multiple of ", c_in, " inputs");
    const int64_t out_h = (int64_t(height) + 2 * pad - ksize) / stride + 1;
    const int64_t out_w = (int64_t(width) + 2 * pad - ksize) / stride + 1;
    const int64_t taps = (Depthwise ? 1 : int64_t(c_in)) * ksize * ksize;
    // Index arithmetic in the kernel is 32-bit for coordinates and window offsets.
    if (int64_t(height) + 2 * int64_t(pad) > INT32_MAX / 2 || int64_t(width) + 2 * int64_t(pad) > INT32_MAX / 2 ||
        out_h * out_w > INT32_MAX / 2 || taps > INT32_MAX / kChannels || ceil_div(size_t(c_out), kChannels) > kMaxGridY)
        fail(op, "convolution too large: input ", height, "x", width, "x", c_in, ", kernel ", ksize, ", ", c_out,
             " outputs");
    with_float_dtype(w_dtype, op, "weight", [&](auto tag) {
        constexpr DType D = decltype(tag)::value;
        if (!x || !w || !y) fail(op, "null pointer among x, w, y");
        if (static_cast<const void*>(x) == static_cast<const void*>(y)) fail(op, "output aliases the input");
        const unsigned channel_tiles = ceil_div(size_t(c_out), kChannels);
        const unsigned pixel_blocks = std::min(ceil_div(size_t(out_h * out_w), kPixelRows),
                                               std::max(1u, kMaxBlocks / channel_tiles));
        const dim3 grid(pixel_blocks, channel_tiles), block(kChannels, kPixelRows);
        if (taps <= kMaxStagedTaps)
            launch(op, conv_kernel<D, Depthwise, true>, grid, block, size_t(taps) * kChannels * sizeof(float), stream, x,
                   w, bias, y, height, width, c_in, c_out, ksize, stride, pad, int(out_h), int(out_w), act);
        else
            launch(op, conv_kernel<D, Depthwise, false>, grid, block, 0, stream, x, w, bias, y, height, width, c_in,
                   c_out, ksize, stride, pad, int(out_h), int(out_w), act);
    });
}

}  // namespace

void conv2d(const float* x, const void* w, DType w_dtype, const float* bias, float* y, int height, int width, int c_in,
            int c_out, int ksize, int stride, int pad, Activation act, cudaStream_t stream) {
    run_conv<false>("conv2d", x, w, w_dtype, bias, y, height, width, c_in, c_out, ksize, stride, pad, act, stream);
}

void depthwise_conv2d(const float* x, const void* w, DType w_dtype, const float* bias, float* y, int height, int width,
                      int c_in, int c_out, int ksize, int stride, int pad, Activation act, cudaStream_t stream) {
    run_conv<true>("depthwise_conv2d", x, w, w_dtype, bias, y, height, width, c_in, c_out, ksize, stride, pad, act,
                   stream);
}

}  // namespace fastvlm::gpu

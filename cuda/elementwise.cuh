// Elementwise and layout kernels on fp32 activations (cuda/elementwise.cu): the activation,
// residual adds, copies, the transpose, per-channel mean and scale, and fp16 conversions.
// All pointers are device memory; work is queued on `stream`.
#pragma once
#include "cuda/common.cuh"
#include "runtime/activation.h"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// x[i] = act(x[i])   x [n]
void activate(float* x, size_t n, Activation act, cudaStream_t stream);

// y[i] += x[i]   y, x [n]
void add(float* y, const float* x, size_t n, cudaStream_t stream);

// y[r, c] += scale[c] * x[r, c]   y, x [rows, cols] f32, scale [cols] F32, F16 or BF16
void add_scaled(float* y, const float* x, const void* scale, DType scale_dtype, int rows, int cols,
                cudaStream_t stream);

// dst[i] = src[i]   dst, src [n]; the ranges must be the same or not overlap
void copy(float* dst, const float* src, size_t n, cudaStream_t stream);

// y[c, r] = x[r, c]   x [rows, cols], y [cols, rows] (y must not overlap x)
void transpose(float* y, const float* x, int rows, int cols, cudaStream_t stream);

// y[c] = sum_r x[r, c] / rows, summed in row order   x [rows, cols], y [cols]
void mean_rows(float* y, const float* x, int rows, int cols, cudaStream_t stream);

// x[r, c] *= s[c]   x [rows, cols], s [cols]
void scale_channels(float* x, const float* s, int rows, int cols, cudaStream_t stream);

// x[i] = fp32(fp16(x[i])), rounding to nearest even   x [n]
void round_to_fp16(float* x, size_t n, cudaStream_t stream);

// y[i] = fp16(x[i]) (nearest even) and back   x, y [n]
void f32_to_f16(const float* x, __half* y, size_t n, cudaStream_t stream);
void f16_to_f32(const __half* x, float* y, size_t n, cudaStream_t stream);

// y[i] = float(x[i])   x [n] F32, F16 or BF16, y [n] f32: a 16-bit bias or norm parameter widened
// on the device (a round trip through the host would stall the stream)
void widen_to_f32(const void* x, DType dtype, float* y, size_t n, cudaStream_t stream);

// y[i] = bf16(x[i]) as its bits (nearest even, NaN kept quiet, as runtime/half.h)   x, y [n]
void f32_to_bf16(const float* x, uint16_t* y, size_t n, cudaStream_t stream);

}  // namespace fastvlm::gpu

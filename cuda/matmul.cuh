// Dense matrix product with fused bias and activation: fp32 activations, weights F32, F16 or
// BF16 widened in the kernel, fp32 accumulation (cuda/matmul.cu).
#pragma once
#include "cuda/common.cuh"
#include "runtime/activation.h"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// y[i, j] = act(sum_k x[i, k] * w[j, k] + bias[j])
//   x    [m, k] f32, row stride k
//   w    [n, k] in w_dtype (F32, F16 or BF16), the nn.Linear layout, row stride k
//   bias [n]    f32, or nullptr
//   y    [m, n] f32, row stride n; must not be x
// m <= 4 takes the GEMV path (one warp per weight row, every row of x at once; 128-bit loads
// when k % 8 == 0 and x, w are 16-byte aligned); larger m the tiled GEMM. Any m, n, k >= 0
// works: m or n of 0 does nothing, k of 0 gives act(bias).
void matmul(const float* x, const void* w, DType w_dtype, const float* bias, float* y, int m, int n, int k,
            Activation act, cudaStream_t stream);

}  // namespace fastvlm::gpu

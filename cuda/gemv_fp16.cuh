// fp16 GEMV for decode: y = W x + bias with fp32 accumulation (cuda/gemv_fp16.cu).
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// y[r] = bias[r] + sum_k w[r, k] * x[k]   for 0 <= r < out_features
//   w    [out_features, in_features] fp16, row-major (the nn.Linear weight layout)
//   x    [in_features]               fp16
//   bias [out_features]              fp16, or nullptr
//   y    [out_features]              fp16 (rounded once from the fp32 sum)
// 128-bit loads when in_features % 8 == 0 and w, x are 16-byte aligned; any shape works.
void gemv_fp16(const __half* w, const __half* bias, const __half* x, __half* y, int in_features, int out_features,
               cudaStream_t stream);

}  // namespace fastvlm::gpu

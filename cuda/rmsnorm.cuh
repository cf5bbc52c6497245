// RMSNorm of Qwen2 in fp32 over fp16 rows (cuda/rmsnorm.cu).
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// y[t, i] = x[t, i] / sqrt(mean_j(x[t, j]^2) + eps) * weight[i], computed in fp32
//   x, y   [n_tokens, dim] fp16 (y may be x)
//   weight [dim]           fp16
void rmsnorm(const __half* x, const __half* weight, __half* y, int n_tokens, int dim, float eps, cudaStream_t stream);

}  // namespace fastvlm::gpu

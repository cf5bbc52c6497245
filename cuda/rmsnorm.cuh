// RMSNorm of Qwen2 in fp32 over fp16 rows, and over the fp32 rows of the backend (cuda/rmsnorm.cu).
#pragma once
#include "cuda/common.cuh"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// y[t, i] = x[t, i] / sqrt(mean_j(x[t, j]^2) + eps) * weight[i], computed in fp32
//   x, y   [n_tokens, dim] fp16 (y may be x)
//   weight [dim]           fp16
void rmsnorm(const __half* x, const __half* weight, __half* y, int n_tokens, int dim, float eps, cudaStream_t stream);

// The same on fp32 activations, the weight widened from its stored dtype:
//   x, y   [rows, dim] f32 (y may be x)
//   weight [dim]       F32, F16 or BF16 (w_dtype)
void rmsnorm_f32(const float* x, const void* weight, DType w_dtype, float* y, int rows, int dim, float eps,
                 cudaStream_t stream);

}  // namespace fastvlm::gpu

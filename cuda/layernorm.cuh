// Layer norm over the rows of an fp32 activation (cuda/layernorm.cu).
#pragma once
#include "cuda/common.cuh"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// y[r, c] = (x[r, c] - mean_r) / sqrt(var_r + eps) * weight[c] + bias[c], with the biased
// variance var_r = mean_c (x[r, c] - mean_r)^2, in fp32 (as the CPU backend's layernorm)
//   x, y         [rows, cols] f32 (y may be x)
//   weight, bias [cols] both of `dtype`: F32, F16 or BF16
void layernorm(const float* x, const void* weight, const void* bias, DType dtype, float* y, int rows, int cols,
               float eps, cudaStream_t stream);

}  // namespace fastvlm::gpu

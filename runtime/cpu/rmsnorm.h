// RMSNorm as in Qwen2 (computed in fp32): the CPU twin of cuda/rmsnorm.cu.
#pragma once
#include <cstdint>

namespace fastvlm::cpu {

// y[t, i] = x[t, i] / sqrt(mean_j(x[t, j]^2) + eps) * weight[i]
//   x, y   [n_tokens, dim] fp32 (y may be x)
//   weight [dim]           fp16 bits
void rmsnorm(const float* x, const uint16_t* weight, float* y, int n_tokens, int dim, float eps);

}  // namespace fastvlm::cpu

// Dense matrix product on tensor cores (cuda/matmul_f16.cu): fp16 activations and weights,
// fp32 accumulation and output, bias and activation fused into the store. The W16A16 layers of
// a prompt (prefill) and the projector; decode (a token or a few) stays on matmul's GEMV.
#pragma once
#include "cuda/common.cuh"
#include "runtime/activation.h"

namespace fastvlm::gpu {

// y[i, j] = act(sum_k x[i, k] * w[j, k] + bias[j])
//   x    [m, k] fp16, row stride k
//   w    [n, k] fp16, the nn.Linear layout, row stride k
//   bias [n]    f32, or nullptr
//   y    [m, n] f32, row stride ldy (0: n), so a slab of w's rows can fill a slab of y's columns
// Needs k % 8 == 0 and x, w 16-byte aligned (matmul_f16_supported); any m, n >= 0.
void matmul_f16(const __half* x, const __half* w, const float* bias, float* y, int m, int n, int k, Activation act,
                cudaStream_t stream, int ldy = 0);

// Whether matmul_f16 takes these operands (its 16-byte copies need whole rows of 8 halves).
bool matmul_f16_supported(const void* x, const void* w, int k);

}  // namespace fastvlm::gpu

// Linear layer with fp16 weights, fp32 activations and fp32 accumulation: the CPU twin of
// cuda/gemv_fp16.cu. Works on a range of output rows so callers can split rows across threads.
#pragma once
#include <cstdint>

namespace fastvlm::cpu {

// y[t, r] = bias[r] + sum_k w[r, k] * x[t, k]   for 0 <= t < n_tokens, row_begin <= r < row_end
//   w    [out_features, in_features]  fp16 bits, row-major (the nn.Linear weight layout)
//   bias [out_features]               fp16 bits, or nullptr
//   x    [n_tokens, in_features]      fp32
//   y    [n_tokens, out_features]     fp32; only columns [row_begin, row_end) are written
// Each weight row is read once for all n_tokens (prefill); decode is n_tokens = 1.
// x and y must not overlap.
void gemv_fp16(const uint16_t* w, const uint16_t* bias, const float* x, float* y, int n_tokens,
               int in_features, int out_features, int row_begin, int row_end);

}  // namespace fastvlm::cpu

// NF4 (double-quantized scales) linear layer on the CPU (the twin of cuda/gemv_nf4.cu), with the
// dequantized weights multiplied in fp32 (W4A32) or in fp16 (W4A16). Formulas: cuda/quant_nf4.cuh.
#pragma once
#include <cstdint>

namespace fastvlm::cpu {

enum class NF4Compute {
    F32,  // w = level * scale in fp32; x as given; y = acc + bias in fp32
    F16,  // w rounded as bitsandbytes' fp16 kernel; x rounded to fp16; fp32 accumulate; y rounded to fp16
};

struct NF4WeightView {
    const uint8_t* codes = nullptr;          // [(N*K + 1) / 2] packed, even flat index in the high nibble
    const uint8_t* absmax_codes = nullptr;   // [ceil(N*K / 64)] one byte per 64-value block
    const float* nested_absmax = nullptr;    // [ceil(blocks / 256)]
    const float* dynamic_map = nullptr;      // [256]
    float offset = 0.0f;                     // mean of the first-level absmax
    int out_features = 0, in_features = 0;
};

// y[t, r] = bias[r] + sum_k w[r, k] * x[t, k] for every token and rows [row_begin, row_end).
//   x [n_tokens, K] fp32, bias [N] fp32 or nullptr, y [n_tokens, N] fp32
void gemv_nf4(const NF4WeightView& w, NF4Compute compute, const float* bias, const float* x, float* y, int n_tokens,
              int row_begin, int row_end);

// Rows [row_begin, row_end) of the dequantized weight (as the compute mode sees them) into
// out [row_end - row_begin, K]: prefill multiplies them with the blocked GEMM.
void dequantize_nf4_rows(const NF4WeightView& w, NF4Compute compute, int row_begin, int row_end, float* out);

}  // namespace fastvlm::cpu

// W4A4 linear layer on the CPU (the twin of cuda/gemv_w4a4.cu): int4 weights times int4
// activations, integer products per group of 64, scaled in fp32. Formulas: cuda/quant_int4.cuh.
#pragma once
#include <cstdint>
#include <vector>

namespace fastvlm::cpu {

// Stage 1, once per call: the activations (rounded to fp16 first) quantized to int4 per group.
struct Int4Activations {
    int n_tokens = 0, in_features = 0, groups = 0;   // groups = ceil(K / 64)
    std::vector<int8_t> codes;    // [T, K] values in [-7, 7]
    std::vector<float> scales;    // [T, groups] absmax / 7
};
//   x [n_tokens, in_features] fp32
void quantize_activations_int4(const float* x, int n_tokens, int in_features, Int4Activations& out);

struct Int4WeightView {
    const uint8_t* codes = nullptr;    // [(N*K + 1) / 2] packed flat, even index in the high nibble
    const uint16_t* scales = nullptr;  // [N, groups] fp16 bits
    int out_features = 0, in_features = 0;
};

// y[t, r] for every token and rows [row_begin, row_end), each value rounded to fp16.
//   bias [N] fp32 or nullptr; y [n_tokens, N] fp32
void gemv_w4a4(const Int4WeightView& w, const float* bias, const Int4Activations& a, float* y, int row_begin,
               int row_end);

}  // namespace fastvlm::cpu

// LLM.int8 linear layer on the CPU (the twin of cuda/gemv_int8.cu): int8 weight rows with
// per-row scales times int8 activations with per-token scales, int32 accumulation, and the
// outlier columns (|x| >= threshold) multiplied in fp16. Formulas: cuda/quant_int8.cuh.
// Handles any number of tokens: one for decode, the whole prompt for prefill.
#pragma once
#include <cstdint>
#include <vector>

namespace fastvlm::cpu {

// Stage 1, once per call: the activations of T tokens quantized to int8.
struct Int8Activations {
    int n_tokens = 0, in_features = 0;
    std::vector<float> x_f16;           // [T, K] the inputs rounded to fp16 (the outlier stream reads them)
    std::vector<int8_t> codes;          // [T, K] int8 codes, 0 in outlier columns
    std::vector<float> scales;          // [T]    absmax of each token's non-outlier values (SCA)
    std::vector<int> outlier_columns;   // ascending k where some token has |x_f16[t, k]| >= threshold
};
//   x [n_tokens, in_features] fp32
void quantize_activations_int8(const float* x, int n_tokens, int in_features, float threshold, Int8Activations& out);

struct Int8WeightView {
    const int8_t* codes = nullptr;      // [N, K] row-major
    const float* row_scale = nullptr;   // [N] absmax of each fp16 row (SCB)
    int out_features = 0, in_features = 0;
};

// Stage 2: y[t, r] for every token and rows [row_begin, row_end), each value rounded to fp16.
//   bias [N] fp32 (values already fp16-representable) or nullptr;  y [n_tokens, N] fp32
void gemv_int8(const Int8WeightView& w, const float* bias, const Int8Activations& a, float* y, int row_begin,
               int row_end);

}  // namespace fastvlm::cpu

// LLM.int8 GEMV (cuda/gemv_int8.cu): fp16 activation rows quantized to int8 with their outlier
// columns kept aside, an int8 x int8 product with int32 accumulation, and the outlier columns
// multiplied in fp16. One row in decode; every prompt row in one call for prefill. Formulas: cuda/quant_int8.cuh; CPU twin:
// runtime/cpu/gemv_int8.h.
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// The quantized weight as uploaded (loader/quantize.h, Int8Quantized).
struct Int8Weight {
    const int8_t* codes = nullptr;     // [out_features, in_features] row-major
    const float* row_scale = nullptr;  // [out_features] absmax of each fp16 row (SCB)
    int out_features = 0, in_features = 0;
};

// The quantized activation rows of `tokens` tokens, carved out of a caller-owned workspace of
// int8_activation_workspace_bytes(in_features, tokens) bytes (16-byte aligned). Stage 1 writes
// it; stage 2 reads it, so one quantization serves every GEMV that shares the input (q, k, v;
// gate, up). As bitsandbytes, a column is an outlier for every token when any token reaches the
// threshold in it (its codes are 0 in every token); each token keeps its own scale, the absmax of
// its values below the threshold.
struct Int8Activation {
    int8_t* codes = nullptr;          // [tokens, round_up(in_features, 16)] 0 in outlier columns and the padding
    float* scale = nullptr;           // [tokens] absmax of each token's values below the threshold (SCA)
    int* outlier_count = nullptr;     // [1]
    int* outlier_columns = nullptr;   // [in_features] ascending outlier columns (first outlier_count)
    uint8_t* outlier_flags = nullptr;  // [in_features] 1 in outlier columns (written for tokens > 1)
    int in_features = 0, tokens = 0;
};

size_t int8_activation_workspace_bytes(int in_features, int tokens = 1);
Int8Activation int8_activation(void* workspace, int in_features, int tokens = 1);

// Stage 1: x [tokens, in_features] fp16 -> codes, scales, outlier columns (|x| >= threshold in
// some token). One fused kernel for one token; a column pass and a per-token pass for more.
void quantize_activation_int8(const __half* x, float threshold, const Int8Activation& a, cudaStream_t stream);

// Stage 2, for each token t: y[t, r] = fp16(int8_dequantize_output(sum_k a[t, k] w[r, k], SCA[t],
// SCB[r], bias[r])), then, when there are outlier columns, y[t, r] = fp16(y[t, r] + sum over them
// of x[t, k] * int8_outlier_weight).
//   bias [out_features] fp16 or nullptr; x [tokens, in_features] fp16 (the rows stage 1
//   quantized; the outlier columns read them); y [tokens, out_features] fp16
// 128-bit loads when in_features % 16 == 0 and w.codes is 16-byte aligned; any shape works.
void gemv_int8(const Int8Weight& w, const __half* bias, const __half* x, const Int8Activation& a, __half* y,
               cudaStream_t stream);

}  // namespace fastvlm::gpu

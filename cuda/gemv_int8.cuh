// LLM.int8 GEMV for decode (cuda/gemv_int8.cu): one fp16 activation row quantized to int8 with
// its outlier columns kept aside, an int8 x int8 product with int32 accumulation, and the
// outlier columns multiplied in fp16. Formulas: cuda/quant_int8.cuh; CPU twin:
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

// One quantized activation row, carved out of a caller-owned workspace of
// int8_activation_workspace_bytes(in_features) bytes (16-byte aligned). Stage 1 writes it; stage
// 2 reads it, so one quantization serves every GEMV that shares the input (q, k, v; gate, up).
struct Int8Activation {
    int8_t* codes = nullptr;          // [round_up(in_features, 16)] 0 in outlier columns and the padding
    float* scale = nullptr;           // [1] absmax of the non-outlier values (SCA)
    int* outlier_count = nullptr;     // [1]
    int* outlier_columns = nullptr;   // [in_features] ascending k with |x[k]| >= threshold (first outlier_count)
    int in_features = 0;
};

size_t int8_activation_workspace_bytes(int in_features);
Int8Activation int8_activation(void* workspace, int in_features);

// Stage 1: x [in_features] fp16 -> codes, scale, outlier columns (|x| >= threshold).
void quantize_activation_int8(const __half* x, float threshold, const Int8Activation& a, cudaStream_t stream);

// Stage 2: y[r] = fp16(int8_dequantize_output(sum_k a[k] w[r, k], SCA, SCB[r], bias[r])), then,
// when there are outlier columns, y[r] = fp16(y[r] + sum over them of x[k] * int8_outlier_weight).
//   bias [out_features] fp16 or nullptr; x [in_features] fp16 (the row stage 1 quantized; the
//   outlier columns read it); y [out_features] fp16
// 128-bit loads when in_features % 16 == 0 and w.codes is 16-byte aligned; any shape works.
void gemv_int8(const Int8Weight& w, const __half* bias, const __half* x, const Int8Activation& a, __half* y,
               cudaStream_t stream);

}  // namespace fastvlm::gpu

// W4A4 GEMV (cuda/gemv_w4a4.cu): fp16 activation rows (one in decode, every prompt row in one
// call for prefill) quantized to int4 per group of 64, multiplied with int4 weights in integer arithmetic (dp4a), scaled per group in fp32.
// Formulas: cuda/quant_int4.cuh; CPU twin: runtime/cpu/gemv_w4a4.h.
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// The quantized weight as uploaded (loader/quantize.h, Int4Quantized).
struct Int4Weight {
    const uint8_t* codes = nullptr;  // [(N*K + 1) / 2] flat row-major, even index in the high nibble
    const __half* scales = nullptr;  // [N, ceil(K / 64)]
    int out_features = 0, in_features = 0;
};

// The quantized activation rows of `tokens` tokens, carved out of a caller-owned workspace of
// int4_activation_workspace_bytes(in_features, tokens) bytes (16-byte aligned); stage 1 writes
// it, stage 2 reads it (one quantization serves every GEMV sharing the input). Each token is
// quantized on its own.
struct Int4Activation {
    // [tokens, round_up(K, 64)] one code per byte; each run of 8 values k = 8j..8j+7 is stored as
    // the even ones then the odd ones (k = 8j, 8j+2, 8j+4, 8j+6, 8j+1, 8j+3, 8j+5, 8j+7), so that
    // one 32-bit word of packed weights meets two 32-bit words of codes in two dp4a; 0 past K.
    int8_t* codes = nullptr;
    float* scales = nullptr;  // [tokens, groups] absmax / 7 per group of 64
    int* sums = nullptr;      // [tokens, 2 * groups] sum of the codes of each 32-value half group
    int in_features = 0, groups = 0, tokens = 0;
};

size_t int4_activation_workspace_bytes(int in_features, int tokens = 1);
Int4Activation int4_activation(void* workspace, int in_features, int tokens = 1);

// Stage 1: x [tokens, in_features] fp16 -> codes, scales and half-group sums.
void quantize_activation_int4(const __half* x, const Int4Activation& a, cudaStream_t stream);

// Stage 2, for each token t: y[t, r] = fp16(bias[r] + sum_g float(sum_{k in g} a[t, k] w[r, k])
// * a_scale[t, g] * w_scale[r, g]).
//   bias [out_features] fp16 or nullptr; y [tokens, out_features] fp16
// 128-bit weight loads when in_features % 32 == 0 and w.codes is 16-byte aligned; any shape works.
void gemv_w4a4(const Int4Weight& w, const __half* bias, const Int4Activation& a, __half* y, cudaStream_t stream);

}  // namespace fastvlm::gpu

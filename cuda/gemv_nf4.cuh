// NF4 (double-quantized block scales) GEMV (cuda/gemv_nf4.cu): the packed 4-bit weight
// dequantized on the fly and multiplied with each activation row. Formulas:
// cuda/quant_nf4.cuh; CPU twin: runtime/cpu/gemv_nf4.h.
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// The quantized weight as uploaded (loader/quantize.h, NF4Quantized).
struct NF4Weight {
    const uint8_t* codes = nullptr;         // [(N*K + 1) / 2] flat row-major, even index in the high nibble
    const uint8_t* absmax_codes = nullptr;  // [ceil(N*K / 64)] one byte per 64-value block of the flat stream
    const float* nested_absmax = nullptr;   // [ceil(blocks / 256)]
    const float* dynamic_map = nullptr;     // [256]
    float offset = 0.0f;                    // mean of the first-level absmax
    int out_features = 0, in_features = 0;
};

// y[t, r] = bias[r] + sum_k w[r, k] * x[t, k] for 0 <= r < out_features and each of `tokens`
// rows of x (one launch; the weight stays in L2 between tokens), fp32 accumulation. The two
// modes of the format, each with its own activation precision:
//   W4A32  w = level * scale in fp32; x, bias, y fp32 (bitsandbytes with compute dtype fp32)
//   W4A16  w = fp16(fp16(level) * fp16(scale)); x, bias fp16; y rounded to fp16
//   bias [out_features] or nullptr; x [tokens, in_features]; y [tokens, out_features]
// 128-bit weight loads when in_features % 32 == 0 and codes, x are 16-byte aligned; any shape
// works (blocks may straddle rows).
void gemv_nf4_w4a32(const NF4Weight& w, const float* bias, const float* x, float* y, int tokens, cudaStream_t stream);
void gemv_nf4_w4a16(const NF4Weight& w, const __half* bias, const __half* x, __half* y, int tokens,
                    cudaStream_t stream);

// Rows [row_begin, row_end) of the weight as the W4A16 mode multiplies them (nf4_dequantize_f16:
// fp16 values, exactly) into out [row_end - row_begin, in_features]: a prompt's rows then go
// through the tensor-core GEMM (cuda/matmul_f16.cuh) with the same products the GEMV forms.
void dequantize_nf4_f16(const NF4Weight& w, int row_begin, int row_end, __half* out, cudaStream_t stream);

}  // namespace fastvlm::gpu

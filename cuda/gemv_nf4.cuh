// NF4 (double-quantized block scales) GEMV for decode (cuda/gemv_nf4.cu): the packed 4-bit
// weight dequantized on the fly and multiplied with one fp16 activation row. Formulas:
// cuda/quant_nf4.cuh; CPU twin: runtime/cpu/gemv_nf4.h.
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// In what precision the weight is dequantized (the accumulation is fp32 in both).
enum class NF4Compute {
    F32,  // w = nf4_dequantize_f32 (W4A32): level * scale in fp32
    F16,  // w = nf4_dequantize_f16 (W4A16): level and scale rounded to fp16, product in fp16
};

// The quantized weight as uploaded (loader/quantize.h, NF4Quantized).
struct NF4Weight {
    const uint8_t* codes = nullptr;         // [(N*K + 1) / 2] flat row-major, even index in the high nibble
    const uint8_t* absmax_codes = nullptr;  // [ceil(N*K / 64)] one byte per 64-value block of the flat stream
    const float* nested_absmax = nullptr;   // [ceil(blocks / 256)]
    const float* dynamic_map = nullptr;     // [256]
    float offset = 0.0f;                    // mean of the first-level absmax
    int out_features = 0, in_features = 0;
};

// y[r] = fp16(bias[r] + sum_k w[r, k] * x[k]) for 0 <= r < out_features, fp32 accumulation.
//   bias [out_features] fp16 or nullptr; x [in_features] fp16; y [out_features] fp16
// 128-bit weight loads when in_features % 32 == 0 and codes, x are 16-byte aligned; any shape
// works (blocks may straddle rows).
void gemv_nf4(const NF4Weight& w, NF4Compute compute, const __half* bias, const __half* x, __half* y,
              cudaStream_t stream);

}  // namespace fastvlm::gpu

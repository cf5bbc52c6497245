// LLM.int8 (vector-wise int8 with fp16 outlier columns), bit-compatible with bitsandbytes'
// Linear8bitLt (has_fp16_weights=False, threshold 6.0). One header for the loader, the CPU
// backend and the kernels.
//
// Weight W [N, K], quantized once at load from its fp16 values Wh:
//   row_scale[n] = max_k |Wh[n, k]|                     (SCB, fp32)
//   codes[n, k]  = round(Wh[n, k] * (127 / row_scale[n]))  (int8, ties to even)
// Activations x [T, K], quantized per call from their fp16 values xh:
//   outlier columns = every k where some token has |xh[t, k]| >= threshold
//   act_scale[t] = max |xh[t, k]| over the non-outlier elements    (SCA)
//   a_codes[t,k] = round(xh[t, k] * (127 / act_scale[t])), 0 in outlier columns
// Output, the int8 part then the outlier part (both rounded to fp16, as bitsandbytes writes fp16):
//   acc = sum_k a_codes[t, k] * codes[n, k]                       (int32)
//   y   = fp16(fma(acc * act_scale[t] * row_scale[n], 1/127^2, bias[n]))
//   y   = fp16(y + sum over outlier k of xh[t, k] * fp16(codes[n, k] * row_scale[n] * (1/127)))
#pragma once
#include "cuda/quant_common.cuh"

namespace fastvlm::quant {

constexpr float kInt8OutlierThreshold = 6.0f;       // transformers' llm_int8_threshold default
constexpr float kInt8DequantScale = 6.200012e-05f;  // 1 / 127^2 as bitsandbytes' CUDA kernel writes it
constexpr float kInt8InverseLevels = 7.874015718698502e-3f;  // 1 / 127 (int8_vectorwise_dequant)

// The int8 code of v with scale `absmax` (its row's or token's): ties to even, like torch.round.
// A zero absmax (an all-zero row) gives code 0.
FASTVLM_HD int8_t int8_quantize(float v, float absmax) {
    if (absmax == 0.0f) return 0;
    int q = round_to_int(v * (127.0f / absmax));
    q = q > 127 ? 127 : (q < -127 ? -127 : q);
    return int8_t(q);
}

// The int8 part of one output: the integer dot product scaled back, plus the bias (fp32 before
// the final fp16 rounding, which the caller applies).
FASTVLM_HD float int8_dequantize_output(int32_t acc, float act_scale, float row_scale, float bias) {
    const float scaled = float(acc) * act_scale * row_scale;
#if defined(__CUDA_ARCH__)
    return __fmaf_rn(scaled, kInt8DequantScale, bias);
#else
    return std::fma(scaled, kInt8DequantScale, bias);
#endif
}

// The fp16 weight value bitsandbytes uses for an outlier column: the int8 code scaled back.
FASTVLM_HD float int8_outlier_weight(int8_t code, float row_scale) {
    return round_to_fp16(float(code) * row_scale * kInt8InverseLevels);
}

}  // namespace fastvlm::quant

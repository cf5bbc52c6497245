// NF4 with double-quantized block scales, bit-compatible with bitsandbytes (quantize_4bit with
// quant_type="nf4", blocksize 64, compress_statistics=True). One header for the loader, the CPU
// backend and the kernels.
//
// A weight W [N, K] is seen as one flat row-major stream of N*K values:
//   block b         = values [64 b, 64 b + 64)          (blocks may straddle rows when K % 64 != 0)
//   absmax[b]       = max |w| over the block (fp32)
//   code            = nf4_quantize(w * (1 / absmax[b]))  (nearest table entry, ties to the lower code)
//   packed byte j   = code[2j] << 4 | code[2j + 1]      (even index in the HIGH nibble; an odd count
//                                                       pads with 7, the code of 0.0, as bitsandbytes)
// Double quantization of the absmax values (one byte each instead of four):
//   offset          = mean(absmax)                      (one fp32 per tensor)
//   nested_absmax[g]= max |absmax[b] - offset| over 256 consecutive blocks b (group g = b / 256)
//   absmax_code[b]  = nearest entry of the 256-value dynamic map to (absmax[b] - offset) / nested_absmax[g]
// Dequantization: w = nf4_value(code) * block_scale(...), with the scale rebuilt in fp32 in two
// roundings, as bitsandbytes' Python path does (t = map[q] * nested_absmax; t = t + offset).
#pragma once
#include "cuda/quant_common.cuh"

namespace fastvlm::quant {

constexpr int kNF4BlockSize = 64;       // values per absmax (bitsandbytes' and transformers' default)
constexpr int kNF4NestedBlockSize = 256;  // absmax values per nested absmax
constexpr int kDynamicMapSize = 256;

// The 16 NF4 levels (bitsandbytes functional.get_4bit_type("nf4"), exact fp32 literals).
FASTVLM_HD float nf4_value(int code) {
    switch (code & 15) {
        case 0: return -1.0f;
        case 1: return -0.6961928009986877f;
        case 2: return -0.5250730514526367f;
        case 3: return -0.39491748809814453f;
        case 4: return -0.28444138169288635f;
        case 5: return -0.18477343022823334f;
        case 6: return -0.09105003625154495f;
        case 7: return 0.0f;
        case 8: return 0.07958029955625534f;
        case 9: return 0.16093020141124725f;
        case 10: return 0.24611230194568634f;
        case 11: return 0.33791524171829224f;
        case 12: return 0.44070982933044434f;
        case 13: return 0.5626170039176941f;
        case 14: return 0.7229568362236023f;
        default: return 1.0f;
    }
}

// Code of x (already divided by its block's absmax): bitsandbytes' decision tree with strict '>'
// against the midpoints, so a value exactly on a midpoint takes the lower code. NaN (an all-zero
// block: 0 * inf) fails every test and becomes code 0, as on CUDA; it dequantizes to -1 * 0 = -0.
FASTVLM_HD uint8_t nf4_quantize(float x) {
    if (x > 0.03979014977812767f) {
        if (x > 0.3893125355243683f) {
            if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 15 : 14;
            return x > 0.5016634166240692f ? 13 : 12;
        }
        if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 11 : 10;
        return x > 0.1202552504837513f ? 9 : 8;
    }
    if (x > -0.33967943489551544f) {
        if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 7 : 6;
        return x > -0.23460740596055984f ? 5 : 4;
    }
    if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 3 : 2;
    return x > -0.8480964004993439f ? 1 : 0;
}

// The 4-bit code of flat element i of a packed stream.
FASTVLM_HD int nf4_code_at(const uint8_t* packed, int64_t i) {
    const uint8_t byte = packed[i >> 1];
    return (i & 1) ? (byte & 15) : (byte >> 4);
}

// fp32 absmax of 4-bit block b, rebuilt from its one-byte code (two roundings, as bitsandbytes'
// dequantize_blockwise followed by `absmax += offset`).
FASTVLM_HD float nf4_block_scale(uint8_t absmax_code, float nested_absmax, float offset, const float* dynamic_map) {
#if defined(__CUDA_ARCH__)
    // __fmul_rn/__fadd_rn are never contracted into an FMA, which would round once and differ
    // from the reference in the last bit.
    return __fadd_rn(__fmul_rn(dynamic_map[absmax_code], nested_absmax), offset);
#else
    // volatile: g++ contracts a * b + c into one FMA even across statements (-ffp-contract=fast is
    // its C++ default), which would round once; the store keeps the product rounded.
    const volatile float product = dynamic_map[absmax_code] * nested_absmax;
    return product + offset;
#endif
}

// w = level * scale in fp32 (compute dtype fp32: the W4A32 mode).
FASTVLM_HD float nf4_dequantize_f32(int code, float scale) { return nf4_value(code) * scale; }

// w in fp16 arithmetic (compute dtype fp16: the W4A16 mode), as bitsandbytes' fused fp16 kernel:
// the level and the scale are each rounded to fp16, and their product rounds again.
FASTVLM_HD float nf4_dequantize_f16(int code, float scale) {
    return round_to_fp16(round_to_fp16(nf4_value(code)) * round_to_fp16(scale));
}

}  // namespace fastvlm::quant

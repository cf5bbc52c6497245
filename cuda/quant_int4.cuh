// W4A4: 4-bit integer weights AND 4-bit integer activations, multiplied in integer arithmetic.
// One header for the loader, the CPU backend and the kernels.
//
// Both operands are symmetric int4 in groups of 64 consecutive values along K (a row's last
// group may be shorter when K % 64 != 0), one scale per group:
//   scale   = absmax / 7                       (fp16 for weights, stored; fp32 for activations)
//   code    = clamp(round(v / scale), -7, 7)   (ties to even; a zero group has scale 0, codes 0)
// Weight codes are packed two per byte like NF4: flat element 2j in the HIGH nibble of byte j,
// as a two's-complement nibble. For W [N, K] the groups of row n are [n, 64 g, 64 g + 64).
// The product of one output, per group g, in int32, then scaled in fp32:
//   y[t, n] = bias[n] + sum_g (sum_k a_code[t, k] * w_code[n, k]) * a_scale[t, g] * w_scale[n, g]
// rounded to fp16 at the end (activations in and out of the layer are 16-bit; the matmul is 4-bit).
#pragma once
#include "cuda/quant_common.cuh"

namespace fastvlm::quant {

constexpr int kInt4GroupSize = 64;
constexpr int kInt4MaxLevel = 7;

FASTVLM_HD int int4_groups_per_row(int64_t k) { return int((k + kInt4GroupSize - 1) / kInt4GroupSize); }

// Scale of a group from its absmax (fp32; the weight side rounds it to fp16 before use).
FASTVLM_HD float int4_scale(float absmax) { return absmax / float(kInt4MaxLevel); }

// Code of v for a group scale (0 when the scale is 0).
FASTVLM_HD int int4_quantize(float v, float scale) {
    if (scale == 0.0f) return 0;
    const int q = round_to_int(v / scale);
    return q > kInt4MaxLevel ? kInt4MaxLevel : (q < -kInt4MaxLevel ? -kInt4MaxLevel : q);
}

// A signed nibble (two's complement) from its 4 bits, and back.
FASTVLM_HD int int4_from_nibble(int nibble) { return (nibble & 8) ? (nibble & 15) - 16 : (nibble & 15); }
FASTVLM_HD uint8_t int4_to_nibble(int code) { return uint8_t(code & 15); }

// The code of flat element i of a packed stream (even index in the high nibble).
FASTVLM_HD int int4_code_at(const uint8_t* packed, int64_t i) {
    const uint8_t byte = packed[i >> 1];
    return int4_from_nibble((i & 1) ? (byte & 15) : (byte >> 4));
}

}  // namespace fastvlm::quant

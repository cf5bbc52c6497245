// Quantize-at-load: one fp32 weight matrix [N, K] (widened from the checkpoint) into the stored
// form of each weight mode. The math is in cuda/quant_*.cuh, shared with the kernels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fastvlm {

// LLM.int8 (cuda/quant_int8.cuh): the weight is rounded to fp16 first, as bitsandbytes quantizes
// the fp16 model.
struct Int8Quantized {
    int64_t rows = 0, cols = 0;
    std::vector<int8_t> codes;      // [N, K]
    std::vector<float> row_scale;   // [N] (SCB)
};
Int8Quantized quantize_int8(const float* w, int64_t rows, int64_t cols);

// NF4 with double-quantized absmax (cuda/quant_nf4.cuh).
struct NF4Quantized {
    int64_t rows = 0, cols = 0;
    std::vector<uint8_t> codes;          // [(N*K + 1) / 2]
    std::vector<float> absmax;           // [blocks] first-level fp32 absmax (kept for tests; not uploaded)
    std::vector<uint8_t> absmax_codes;   // [blocks]
    std::vector<float> nested_absmax;    // [ceil(blocks / 256)]
    std::vector<float> dynamic_map;      // [256]
    float offset = 0.0f;
};
NF4Quantized quantize_nf4(const float* w, int64_t rows, int64_t cols);
// The second level alone, for a given offset (tests feed bitsandbytes' offset to compare codes).
void quantize_nf4_absmax(NF4Quantized& q, float offset);

// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 sorted
// fp32 values, 127 negative, 0, 127 positive and 1.0.
std::vector<float> dynamic_map_signed();

// W4A4 weights (cuda/quant_int4.cuh).
struct Int4Quantized {
    int64_t rows = 0, cols = 0;
    std::vector<uint8_t> codes;     // [(N*K + 1) / 2]
    std::vector<uint16_t> scales;   // [N, ceil(K / 64)] fp16 bits
};
Int4Quantized quantize_int4(const float* w, int64_t rows, int64_t cols);

}  // namespace fastvlm

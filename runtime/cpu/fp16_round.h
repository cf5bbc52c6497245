// fp32 values rounded to the nearest fp16 value (ties to even) and widened back, eight lanes at
// a time with F16C: bit-identical to quant::round_to_fp16 (cuda/quant_common.cuh) for every
// input, subnormals and overflow to infinity included, so vector and scalar code paths of a
// quantized kernel give the same outputs.
#pragma once
#include <cstddef>

#include "cuda/quant_common.cuh"

#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <immintrin.h>
#define FASTVLM_CPU_F16C 1
#endif

namespace fastvlm::cpu {

#ifdef FASTVLM_CPU_F16C
inline __m256 round_to_fp16_8(__m256 v) { return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)); }
#endif

// One value, with F16C when the build has it.
inline float round_to_fp16_one(float x) {
#ifdef FASTVLM_CPU_F16C
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT)));
#else
    return quant::round_to_fp16(x);
#endif
}

// dst[i] = round_to_fp16(src[i]); src and dst may be the same array.
inline void round_to_fp16_span(const float* src, float* dst, size_t n) {
    size_t i = 0;
#ifdef FASTVLM_CPU_F16C
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, round_to_fp16_8(_mm256_loadu_ps(src + i)));
#endif
    for (; i < n; ++i) dst[i] = round_to_fp16_one(src[i]);
}

}  // namespace fastvlm::cpu

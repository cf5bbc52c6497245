// A product that must be rounded on its own before it is added. GCC contracts a * b + c into
// one FMA (one rounding) even across statements and through _mm256_mul_ps/_mm256_add_ps in C++
// mode, where -ffp-contract=fast is its default; formats that specify two roundings pass the
// product through keep_rounded(), which the optimiser cannot see through and which costs no
// instruction.
#pragma once

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace fastvlm::cpu {

inline float keep_rounded(float x) {
#if defined(__GNUC__) && defined(__SSE__)
    asm("" : "+x"(x));
#else
    volatile float stored = x;
    x = stored;
#endif
    return x;
}

#if defined(__AVX__) && defined(__GNUC__)
inline __m256 keep_rounded(__m256 x) {
    asm("" : "+x"(x));
    return x;
}
#endif

}  // namespace fastvlm::cpu

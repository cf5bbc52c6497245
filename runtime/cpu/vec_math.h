// exp, erf and the activations in fp32, eight lanes at a time with AVX2/FMA and a scalar twin
// with the same formulas for other machines. libm's erff/expf are exact to an ulp but scalar;
// the vision encoder needs hundreds of millions of GELUs, so these polynomial forms are used:
//   exp: Cephes range reduction x = n ln2 + r, degree-6 polynomial in r (about 2 ulp)
//   erf: odd/even rational approximation on [-4, 4] (max abs error 4.3e-7 measured against
//        double erf), as used by Eigen and XLA.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FASTVLM_CPU_AVX2 1
#endif

#include "runtime/backend.h"

namespace fastvlm::cpu {

// ------------------------------------------------------------------ scalar forms
inline float exp_scalar(float x) {
    x = std::min(88.3762626647949f, std::max(-87.3365478515625f, x));
    const float n = std::nearbyint(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.0f;
    const int32_t bits = (int32_t(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, 4);
    return y * scale;
}

inline float erf_scalar(float x) {
    x = std::min(4.0f, std::max(-4.0f, x));
    const float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return x * p / q;
}

inline float activate_scalar(float x, Activation act) {
    switch (act) {
        case Activation::None: return x;
        case Activation::GELU: return 0.5f * x * (1.0f + erf_scalar(x * 0.70710678118654752f));
        case Activation::ReLU: return x > 0.0f ? x : 0.0f;
        case Activation::Sigmoid: return 1.0f / (1.0f + exp_scalar(-x));
    }
    return x;
}

#ifdef FASTVLM_CPU_AVX2
// ------------------------------------------------------------------ AVX2 forms (same formulas)
inline __m256 exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(88.3762626647949f), _mm256_max_ps(_mm256_set1_ps(-87.3365478515625f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

inline __m256 erf8(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(4.0f), _mm256_max_ps(_mm256_set1_ps(-4.0f), x));
    const __m256 x2 = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.77068142495902e-08f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.10102402082508e-06f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.69250639462346e-05f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-7.34990630326855e-04f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.95459980854025e-03f));
    p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.60960333262415e-02f));
    __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-2.13374055278905e-04f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.68282697438203e-03f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-7.37332916720468e-03f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.42647390514189e-02f));
    // x p / q with the reciprocal refined by one Newton step (relative error ~1e-7, well below
    // the approximation's own), cheaper than a division.
    __m256 r = _mm256_rcp_ps(q);
    r = _mm256_mul_ps(r, _mm256_fnmadd_ps(q, r, _mm256_set1_ps(2.0f)));
    return _mm256_mul_ps(_mm256_mul_ps(x, p), r);
}

inline __m256 activate8(__m256 x, Activation act) {
    switch (act) {
        case Activation::None: return x;
        case Activation::GELU: {
            const __m256 e = erf8(_mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f)));
            return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        }
        case Activation::ReLU: return _mm256_max_ps(x, _mm256_setzero_ps());
        case Activation::Sigmoid: {
            const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
            return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
        }
    }
    return x;
}
#endif

// x[i] = act(x[i]) for n values.
inline void activate_span(float* x, size_t n, Activation act) {
    if (act == Activation::None) return;
    size_t i = 0;
#ifdef FASTVLM_CPU_AVX2
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, activate8(_mm256_loadu_ps(x + i), act));
#endif
    for (; i < n; ++i) x[i] = activate_scalar(x[i], act);
}

// x[i] = exp(x[i] - shift); returns the sum of the results.
inline float exp_shift_sum(float* x, size_t n, float shift) {
    size_t i = 0;
    float sum = 0.0f;
#ifdef FASTVLM_CPU_AVX2
    __m256 acc = _mm256_setzero_ps();
    const __m256 s = _mm256_set1_ps(shift);
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    for (float l : lanes) sum += l;
#endif
    for (; i < n; ++i) {
        x[i] = exp_scalar(x[i] - shift);
        sum += x[i];
    }
    return sum;
}

}  // namespace fastvlm::cpu

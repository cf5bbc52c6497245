// fp16-weight GEMV on the CPU: each weight row is widened to fp32 eight values at a time
// (F16C when the build targets it) and dotted with every token's activations.
#include "runtime/cpu/gemv_fp16.h"

#include <vector>

#include "runtime/error.h"
#include "runtime/half.h"

#if defined(__F16C__) && defined(__FMA__) && defined(__AVX2__)
#include <immintrin.h>
#define GEMV_FP16_AVX2 1
#endif

namespace fastvlm::cpu {

// Widens n fp16 values to fp32.
static void widen_row(const uint16_t* src, float* dst, int n) {
    int k = 0;
#ifdef GEMV_FP16_AVX2
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(src + k))));
#endif
    for (; k < n; ++k) dst[k] = fp16_to_float(src[k]);
}

static float dot(const float* a, const float* b, int n) {
    int k = 0;
    float sum = 0.0f;
#ifdef GEMV_FP16_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (; k + 16 <= n; k += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), acc1);
    }
    __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
    sum = _mm_cvtss_f32(half);
#endif
    for (; k < n; ++k) sum += a[k] * b[k];
    return sum;
}

#ifdef GEMV_FP16_AVX2
// Decode path: the fp16 row is widened in registers, never stored. Four accumulators keep four
// FMA chains in flight, and each 64-byte line of weights is prefetched 1 KB ahead (rows are
// contiguous, so the prefetch runs on into the next rows), which keeps more loads from memory
// in flight than the hardware prefetcher alone does.
constexpr int kPrefetchBytes = 1024;

static float dot_fp16(const uint16_t* w, const float* x, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int k = 0;
    for (; k + 32 <= n; k += 32) {  // one cache line of weights
        _mm_prefetch(reinterpret_cast<const char*>(w + k) + kPrefetchBytes, _MM_HINT_T0);
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w + k))), _mm256_loadu_ps(x + k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w + k + 8))), _mm256_loadu_ps(x + k + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w + k + 16))), _mm256_loadu_ps(x + k + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w + k + 24))), _mm256_loadu_ps(x + k + 24), acc3);
    }
    for (; k + 8 <= n; k += 8)
        acc0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(w + k))), _mm256_loadu_ps(x + k), acc0);
    __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
    __m128 half = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    half = _mm_add_ps(half, _mm_movehl_ps(half, half));
    half = _mm_add_ss(half, _mm_shuffle_ps(half, half, 1));
    float sum = _mm_cvtss_f32(half);
    for (; k < n; ++k) sum += fp16_to_float(w[k]) * x[k];
    return sum;
}
#endif

void gemv_fp16(const uint16_t* w, const uint16_t* bias, const float* x, float* y, int n_tokens,
               int in_features, int out_features, int row_begin, int row_end) {
    if (n_tokens < 0 || in_features < 0 || out_features < 0)
        fail("gemv_fp16", "negative shape: n_tokens ", n_tokens, ", in_features ", in_features,
             ", out_features ", out_features);
    if (row_begin < 0 || row_end < row_begin || row_end > out_features)
        fail("gemv_fp16", "row range [", row_begin, ", ", row_end, ") is not inside [0, ",
             out_features, ")");
    const size_t in = size_t(in_features), out = size_t(out_features);
#ifdef GEMV_FP16_AVX2
    if (n_tokens == 1) {
        for (int r = row_begin; r < row_end; ++r)
            y[r] = dot_fp16(w + size_t(r) * in, x, in_features) + (bias ? fp16_to_float(bias[r]) : 0.0f);
        return;
    }
#endif
    std::vector<float> row(in);  // one weight row in fp32, reused by every token
    for (int r = row_begin; r < row_end; ++r) {
        widen_row(w + size_t(r) * in, row.data(), in_features);
        const float b = bias ? fp16_to_float(bias[r]) : 0.0f;
        for (int t = 0; t < n_tokens; ++t) y[size_t(t) * out + size_t(r)] = dot(row.data(), x + size_t(t) * in, in_features) + b;
    }
}

}  // namespace fastvlm::cpu

// LLM.int8 linear layer on the CPU (formulas: cuda/quant_int8.cuh), one kernel for any number
// of tokens, decode and prefill alike: an integer GEMM in dot-product form. Both operands are
// already contiguous along K (weight rows, token codes), so nothing is packed:
//   - weight rows are taken eight at a time; the panel (8 x K bytes, 7 KB for K = 896, 39 KB for
//     K = 4864) stays in L1/L2 while every token passes by, so weights stream from memory once;
//   - the register tile is one token x four rows: each 32-byte chunk of the token's codes is
//     loaded once for four rows, and multiplied with maddubs on |a| and sign(w, a) (a pair of
//     products fits int16 exactly: 2 * 127 * 127 < 32768), widened with madd into four int32
//     accumulators. This reaches the multiply ports' rate: measured on the build machine at
//     ~0.04 TSC cycles per multiply-add with 300 tokens, 2.4x the rate of the fp32 GEMM in
//     matmul.cpp, and 3x that of a packed 6x16 madd_epi16 GEMM tried first (whose 16 products
//     per multiply cannot beat maddubs' 32).
// The epilogue (scales, bias, fp16 rounding, outlier columns added in ascending order) works on
// eight rows at once. Integer sums are exact, so the AVX2 and scalar builds give the same bits.
#include "runtime/cpu/gemv_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cuda/quant_int8.cuh"
#include "runtime/cpu/fp16_round.h"
#include "runtime/cpu/horizontal_sum.h"
#include "runtime/error.h"

#if defined(FASTVLM_CPU_F16C)
#define GEMV_INT8_AVX2 1
#endif

namespace fastvlm::cpu {

namespace {

constexpr int kBlockRows = 8;  // weight rows per panel (held in cache while the tokens pass)

// ------------------------------------------------------------------ epilogue

// Outlier weights of rows [n, n + count): ow[j * stride + i] = fp16 weight of row n + i at the
// j-th outlier column.
void outlier_weights(const Int8WeightView& w, int n, int count, const std::vector<int>& columns, float* ow,
                     int stride) {
    const size_t in = size_t(w.in_features);
    for (size_t j = 0; j < columns.size(); ++j) {
        const int8_t* column = w.codes + size_t(columns[j]);
        float* out = ow + j * size_t(stride);
        int i = 0;
#ifdef GEMV_INT8_AVX2
        const __m256 inverse_levels = _mm256_set1_ps(quant::kInt8InverseLevels);
        for (; i + 8 <= count; i += 8) {
            const int8_t* c = column + size_t(n + i) * in;
            const __m256i codes = _mm256_setr_epi32(c[0], c[in], c[2 * in], c[3 * in], c[4 * in], c[5 * in],
                                                    c[6 * in], c[7 * in]);
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(codes), _mm256_loadu_ps(w.row_scale + n + i));
            v = _mm256_mul_ps(v, inverse_levels);
            _mm256_storeu_ps(out + i, round_to_fp16_8(v));
        }
#endif
        for (; i < count; ++i) out[i] = quant::int8_outlier_weight(column[size_t(n + i) * in], w.row_scale[n + i]);
    }
}

// Outputs of one token for rows [n, n + count) from their int32 sums:
//   acc [count], row_scale/bias: the rows' entries (bias may be null), x_outliers [n_outliers]
//   this token's fp16 inputs at the outlier columns, ow as outlier_weights wrote it, y [count].
void finish_rows(const int32_t* acc, int count, float act_scale, const float* row_scale, const float* bias,
                 const float* x_outliers, int n_outliers, const float* ow, int ow_stride, float* y) {
    int i = 0;
#ifdef GEMV_INT8_AVX2
    const __m256 a_scale = _mm256_set1_ps(act_scale), dequant = _mm256_set1_ps(quant::kInt8DequantScale);
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + i))),
                                 a_scale);
        v = _mm256_mul_ps(v, _mm256_loadu_ps(row_scale + i));
        v = round_to_fp16_8(_mm256_fmadd_ps(v, dequant, bias ? _mm256_loadu_ps(bias + i) : _mm256_setzero_ps()));
        if (n_outliers > 0) {
            __m256 sum = _mm256_setzero_ps();
            for (int j = 0; j < n_outliers; ++j)
                sum = _mm256_fmadd_ps(_mm256_set1_ps(x_outliers[j]), _mm256_loadu_ps(ow + size_t(j) * ow_stride + i), sum);
            v = round_to_fp16_8(_mm256_add_ps(v, sum));
        }
        _mm256_storeu_ps(y + i, v);
    }
#endif
    for (; i < count; ++i) {
        float v = quant::round_to_fp16(quant::int8_dequantize_output(acc[i], act_scale, row_scale[i], bias ? bias[i] : 0.0f));
        if (n_outliers > 0) {
            // fp16 x fp16 products are exact in fp32, so fma and multiply-then-add agree.
            float sum = 0.0f;
            for (int j = 0; j < n_outliers; ++j) sum = std::fma(x_outliers[j], ow[size_t(j) * ow_stride + i], sum);
            v = quant::round_to_fp16(v + sum);
        }
        y[i] = v;
    }
}

// ------------------------------------------------------------------ the kernel

// sums[r] = sum_k a[k] * w[r][k] for four rows. With `prefetch`, each 64-byte line of the next
// four rows (4 * in bytes further on) is requested as the same position of these rows is
// read: rows are short (896 bytes) and interleaved, which the hardware prefetcher alone follows
// poorly.
void dot4(const int8_t* const w[4], const int8_t* a, int in, bool prefetch, int32_t sums[4]) {
    int k = 0;
    for (int r = 0; r < 4; ++r) sums[r] = 0;
#ifdef GEMV_INT8_AVX2
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    const __m256i ones = _mm256_set1_epi16(1);
    const size_t ahead = 4 * size_t(in);
    auto step = [&](__m256i acc, const int8_t* row, __m256i a_abs, __m256i a_sign) {
        const __m256i w_signed = _mm256_sign_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row)), a_sign);
        return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a_abs, w_signed), ones));
    };
    for (; k + 32 <= in; k += 32) {
        if (prefetch && (k & 32) == 0)
            for (int r = 0; r < 4; ++r) _mm_prefetch(reinterpret_cast<const char*>(w[r] + k + ahead), _MM_HINT_T0);
        const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + k));
        const __m256i aa = _mm256_abs_epi8(av);
        acc0 = step(acc0, w[0] + k, aa, av);
        acc1 = step(acc1, w[1] + k, aa, av);
        acc2 = step(acc2, w[2] + k, aa, av);
        acc3 = step(acc3, w[3] + k, aa, av);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(sums), hsum4_epi32(acc0, acc1, acc2, acc3));
#else
    (void)prefetch;
#endif
    for (; k < in; ++k)
        for (int r = 0; r < 4; ++r) sums[r] += int32_t(a[k]) * int32_t(w[r][k]);
}

void multiply_rows(const Int8WeightView& w, const float* bias, const Int8Activations& a, const float* x_outliers,
               float* y, int row_begin, int row_end) {
    const int in = w.in_features, n_outliers = int(a.outlier_columns.size());
    const size_t out = size_t(w.out_features);
    float ow[kBlockRows * 64];
    std::vector<float> ow_heap;
    float* outlier_w = ow;
    if (n_outliers > 64) {
        ow_heap.resize(size_t(n_outliers) * kBlockRows);
        outlier_w = ow_heap.data();
    }
    int32_t acc[kBlockRows];
    for (int n = row_begin; n < row_end; n += kBlockRows) {
        const int count = std::min(kBlockRows, row_end - n);
        const int8_t* rows[kBlockRows];
        for (int i = 0; i < kBlockRows; ++i) rows[i] = w.codes + size_t(n + std::min(i, count - 1)) * size_t(in);
        if (n_outliers > 0) outlier_weights(w, n, count, a.outlier_columns, outlier_w, kBlockRows);
        for (int t = 0; t < a.n_tokens; ++t) {
            const int8_t* codes = a.codes.data() + size_t(t) * size_t(in);
            dot4(rows, codes, in, t == 0, acc);
            if (count > 4) dot4(rows + 4, codes, in, t == 0, acc + 4);
            finish_rows(acc, count, a.scales[size_t(t)], w.row_scale + n, bias ? bias + n : nullptr,
                        x_outliers + size_t(t) * size_t(n_outliers), n_outliers, outlier_w, kBlockRows,
                        y + size_t(t) * out + size_t(n));
        }
    }
}

void check_gemv(const Int8WeightView& w, const Int8Activations& a, const float* y, int row_begin, int row_end) {
    if (w.out_features < 0 || w.in_features < 0)
        fail("gemv_int8", "negative weight shape [", w.out_features, ", ", w.in_features, "]");
    if (row_begin < 0 || row_end < row_begin || row_end > w.out_features)
        fail("gemv_int8", "row range [", row_begin, ", ", row_end, ") is not inside [0, ", w.out_features, ")");
    if (a.in_features != w.in_features)
        fail("gemv_int8", "activations have ", a.in_features, " features, the weight ", w.in_features);
    if (a.n_tokens < 0) fail("gemv_int8", "negative token count ", a.n_tokens);
    const size_t values = size_t(a.n_tokens) * size_t(a.in_features);
    if (a.codes.size() != values || a.x_f16.size() != values || a.scales.size() != size_t(a.n_tokens))
        fail("gemv_int8", "activations of ", a.n_tokens, " tokens x ", a.in_features, " features hold ",
             a.codes.size(), " codes, ", a.x_f16.size(), " fp16 values and ", a.scales.size(), " scales");
    int previous = -1;
    for (int k : a.outlier_columns) {
        if (k <= previous || k >= a.in_features)
            fail("gemv_int8", "outlier column ", k, " is out of range or out of order (in_features ", a.in_features, ")");
        previous = k;
    }
    if (row_end > row_begin && a.n_tokens > 0) {
        if (!w.row_scale || (!w.codes && w.in_features > 0)) fail("gemv_int8", "weight codes or row scales are null");
        if (!y) fail("gemv_int8", "output is null");
    }
}

}  // namespace

void quantize_activations_int8(const float* x, int n_tokens, int in_features, float threshold, Int8Activations& out) {
    if (n_tokens < 0 || in_features < 0)
        fail("quantize_activations_int8", "negative shape: n_tokens ", n_tokens, ", in_features ", in_features);
    if (!(threshold > 0.0f))
        fail("quantize_activations_int8", "outlier threshold ", threshold,
             " is not positive (infinity means no outlier columns)");
    const size_t in = size_t(in_features), values = size_t(n_tokens) * in;
    if (values > 0 && !x) fail("quantize_activations_int8", "input is null");
    out.n_tokens = n_tokens;
    out.in_features = in_features;
    out.x_f16.resize(values);
    out.codes.resize(values);
    out.scales.assign(size_t(n_tokens), 0.0f);
    out.outlier_columns.clear();
    round_to_fp16_span(x, out.x_f16.data(), values);

    // Pass 1: outlier columns (any token) and each token's absmax over its non-outlier elements.
    static thread_local std::vector<uint8_t> is_outlier;
    is_outlier.assign(in, 0);
    for (int t = 0; t < n_tokens; ++t) {
        const float* row = out.x_f16.data() + size_t(t) * in;
        float absmax = 0.0f;
        size_t k = 0;
#ifdef GEMV_INT8_AVX2
        const __m256 limit = _mm256_set1_ps(threshold), sign = _mm256_set1_ps(-0.0f);
        __m256 vmax = _mm256_setzero_ps();
        for (; k + 8 <= in; k += 8) {
            const __m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(row + k));
            const int above = _mm256_movemask_ps(_mm256_cmp_ps(v, limit, _CMP_GE_OQ));
            if (above)
                for (int l = 0; l < 8; ++l)
                    if (above & (1 << l)) is_outlier[k + size_t(l)] = 1;
            vmax = _mm256_max_ps(_mm256_and_ps(v, _mm256_cmp_ps(v, limit, _CMP_LT_OQ)), vmax);
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, vmax);
        for (float l : lanes) absmax = std::max(absmax, l);
#endif
        for (; k < in; ++k) {
            const float v = quant::abs_f(row[k]);
            if (v >= threshold) is_outlier[k] = 1;
            else if (v > absmax) absmax = v;
        }
        out.scales[size_t(t)] = absmax;
    }
    for (int k = 0; k < in_features; ++k)
        if (is_outlier[size_t(k)]) out.outlier_columns.push_back(k);

    // Pass 2: codes, then zeros in the outlier columns.
    for (int t = 0; t < n_tokens; ++t) {
        const float* row = out.x_f16.data() + size_t(t) * in;
        int8_t* codes = out.codes.data() + size_t(t) * in;
        const float absmax = out.scales[size_t(t)];
        if (absmax == 0.0f) {
            std::fill_n(codes, in, int8_t(0));
            continue;
        }
        size_t k = 0;
#ifdef GEMV_INT8_AVX2
        const __m256 scale = _mm256_set1_ps(127.0f / absmax);
        const __m256i hi = _mm256_set1_epi32(127), lo = _mm256_set1_epi32(-127);
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        auto quantize8 = [&](const float* p) {
            const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(p), scale));  // ties to even
            return _mm256_max_epi32(lo, _mm256_min_epi32(hi, q));
        };
        for (; k + 32 <= in; k += 32) {
            const __m256i q01 = _mm256_packs_epi32(quantize8(row + k), quantize8(row + k + 8));
            const __m256i q23 = _mm256_packs_epi32(quantize8(row + k + 16), quantize8(row + k + 24));
            const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q01, q23), order);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + k), bytes);
        }
#endif
        for (; k < in; ++k) codes[k] = quant::int8_quantize(row[k], absmax);
        for (int c : out.outlier_columns) codes[c] = 0;
    }
}

void gemv_int8(const Int8WeightView& w, const float* bias, const Int8Activations& a, float* y, int row_begin,
               int row_end) {
    check_gemv(w, a, y, row_begin, row_end);
    if (row_end == row_begin || a.n_tokens == 0) return;
    // Each token's fp16 inputs at the outlier columns: [n_tokens][n_outliers].
    static thread_local std::vector<float> x_outliers;
    const size_t n_outliers = a.outlier_columns.size(), in = size_t(a.in_features);
    x_outliers.resize(size_t(a.n_tokens) * n_outliers);
    for (size_t t = 0; t < size_t(a.n_tokens); ++t)
        for (size_t j = 0; j < n_outliers; ++j)
            x_outliers[t * n_outliers + j] = a.x_f16[t * in + size_t(a.outlier_columns[j])];
    multiply_rows(w, bias, a, x_outliers.data(), y, row_begin, row_end);
}

}  // namespace fastvlm::cpu

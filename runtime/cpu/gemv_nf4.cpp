// NF4 linear layer on the CPU (formulas: cuda/quant_nf4.cuh). Every weight is the exact value of
// its compute mode (F32: level * scale; F16: fp16(fp16(level) * fp16(scale))); only the order of
// the fp32 sum over k differs between the paths.
//   up to 11 tokens, K % 64 == 0  each 64-value block (32 bytes, one scale) is decoded in
//       registers: its high (even k) and low (odd k) nibbles index 16-entry byte tables with
//       pshufb, and the bytes are interleaved back into fp32 (F32: four byte planes of the levels,
//       then times the scale) or fp16 (F16: two byte planes of the block's 16 weights, then
//       widened). The lanes come out permuted; the activations are permuted to match once per
//       call. Tokens go two at a time over each decoded block.
//   12 tokens or more             rows are dequantized in chunks and multiplied by the fp32 GEMM.
//   other shapes                  each row is dequantized, then dotted with every token.
// On AVX2 the decode is bound by the shuffle ports (about 24 shuffles per block in F32) and, in
// F16, by vcvtph2ps, not by memory: about 15 TSC cycles per block (F32) and 22-28 (F16) on the
// build machine, against 5 for streaming 33 bytes at memory speed.
// dequantize_nf4_rows looks the levels up with two 8-entry permutes and a blend, in order.
#include "runtime/cpu/gemv_nf4.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "cuda/quant_nf4.cuh"
#include "runtime/cpu/fp16_round.h"
#include "runtime/cpu/horizontal_sum.h"
#include "runtime/cpu/matmul.h"
#include "runtime/error.h"

#if defined(FASTVLM_CPU_F16C)
#define GEMV_NF4_AVX2 1
#endif

namespace fastvlm::cpu {

namespace {

using quant::kNF4BlockSize;

constexpr int kGemmMinTokens = 12;  // from this many tokens on: dequantize a chunk of rows, then GEMM (measured)
constexpr int kGemmChunkRows = 192;  // rows dequantized at a time for the GEMM (its tile width)

#ifdef GEMV_NF4_AVX2
struct Tables {
    alignas(32) float level[16];      // nf4_value
    alignas(32) float level_f16[16];  // round_to_fp16(nf4_value)
    alignas(32) uint8_t planes[4][32];  // byte p of level[c] at [p][c] and [p][16 + c] (both 128-bit lanes)
    // Block position of lane l of decoded vector v (v = 4 * nibble half + part), per mode.
    int order_f32[64], order_f16[64];
};

Tables make_tables() {
    Tables t{};
    for (int c = 0; c < 16; ++c) {
        t.level[c] = quant::nf4_value(c);
        t.level_f16[c] = quant::round_to_fp16(t.level[c]);
        const uint32_t bits = float_to_bits(t.level[c]);
        for (int p = 0; p < 4; ++p) t.planes[p][c] = t.planes[p][16 + c] = uint8_t(bits >> (8 * p));
    }
    // j: byte of the block (32 per block). F32 parts come out of two rounds of unpacks, F16
    // parts of one unpack and the two halves of each vector.
    const int f16_base[4] = {0, 16, 8, 24};
    for (int h = 0; h < 2; ++h)
        for (int f = 0; f < 4; ++f)
            for (int l = 0; l < 8; ++l) {
                const int j32 = l < 4 ? 4 * f + l : 16 + 4 * f + (l - 4);
                const int j16 = f16_base[f] + l;
                t.order_f32[(4 * h + f) * 8 + l] = 2 * j32 + h;
                t.order_f16[(4 * h + f) * 8 + l] = 2 * j16 + h;
            }
    return t;
}

const Tables& tables() {
    static const Tables t = make_tables();
    return t;
}
#endif

inline float block_scale(const NF4WeightView& w, int64_t block) {
    return quant::nf4_block_scale(w.absmax_codes[block], w.nested_absmax[block / quant::kNF4NestedBlockSize], w.offset,
                                  w.dynamic_map);
}

inline float dequantize(NF4Compute compute, int code, float scale) {
    return compute == NF4Compute::F16 ? quant::nf4_dequantize_f16(code, scale) : quant::nf4_dequantize_f32(code, scale);
}

// Flat values [f0, f1) of the weight, dequantized, into out[0, f1 - f0).
void dequantize_flat(const NF4WeightView& w, NF4Compute compute, int64_t f0, int64_t f1, float* out) {
    int64_t i = f0;
    auto scalar_until = [&](int64_t end) {
        for (; i < end; ++i) out[i - f0] = dequantize(compute, quant::nf4_code_at(w.codes, i), block_scale(w, i / kNF4BlockSize));
    };
#ifdef GEMV_NF4_AVX2
    scalar_until(std::min(f1, (f0 + kNF4BlockSize - 1) / kNF4BlockSize * kNF4BlockSize));
    const Tables& tab = tables();
    const __m256i shifts = _mm256_setr_epi32(4, 0, 12, 8, 20, 16, 28, 24);  // nibble of value l within 4 bytes
    for (; i + kNF4BlockSize <= f1; i += kNF4BlockSize) {
        const float scale = block_scale(w, i / kNF4BlockSize);
        __m256 lo, hi;
        if (compute == NF4Compute::F16) {
            const __m256 s = _mm256_set1_ps(round_to_fp16_one(scale));
            lo = round_to_fp16_8(_mm256_mul_ps(_mm256_load_ps(tab.level_f16), s));
            hi = round_to_fp16_8(_mm256_mul_ps(_mm256_load_ps(tab.level_f16 + 8), s));
        } else {
            const __m256 s = _mm256_set1_ps(scale);
            lo = _mm256_mul_ps(_mm256_load_ps(tab.level), s);
            hi = _mm256_mul_ps(_mm256_load_ps(tab.level + 8), s);
        }
        const uint8_t* bytes = w.codes + i / 2;
        float* dst = out + (i - f0);
        for (int q = 0; q < 8; ++q) {
            uint32_t word;
            std::memcpy(&word, bytes + 4 * q, 4);
            const __m256i index = _mm256_srlv_epi32(_mm256_set1_epi32(int(word)), shifts);  // permutes read bits 0-2
            const __m256 value = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, index), _mm256_permutevar8x32_ps(hi, index),
                                                  _mm256_castsi256_ps(_mm256_slli_epi32(index, 28)));  // bit 3 selects
            _mm256_storeu_ps(dst + 8 * q, value);
        }
    }
#endif
    scalar_until(f1);
}

float dot(const float* a, const float* b, int n) {
    int k = 0;
    float sum = 0.0f;
#ifdef GEMV_NF4_AVX2
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (; k + 16 <= n; k += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), acc1);
    }
    sum = hsum_ps(_mm256_add_ps(acc0, acc1));
#endif
    for (; k < n; ++k) sum += a[k] * b[k];
    return sum;
}

inline float finish(NF4Compute compute, float acc, const float* bias, int n) {
    const float y = acc + (bias ? bias[n] : 0.0f);
    return compute == NF4Compute::F16 ? round_to_fp16_one(y) : y;
}

// Any shape: each row dequantized into a buffer, then dotted with every token.
void rows_by_dequantize(const NF4WeightView& w, NF4Compute compute, const float* bias, const float* x, float* y,
                        int n_tokens, int row_begin, int row_end) {
    const int in = w.in_features;
    const size_t out = size_t(w.out_features);
    static thread_local std::vector<float> row;
    row.resize(size_t(in));
    for (int n = row_begin; n < row_end; ++n) {
        dequantize_flat(w, compute, int64_t(n) * in, int64_t(n + 1) * in, row.data());
        for (int t = 0; t < n_tokens; ++t)
            y[size_t(t) * out + size_t(n)] = finish(compute, dot(row.data(), x + size_t(t) * size_t(in), in), bias, n);
    }
}

// Many tokens: chunks of rows dequantized, then the register-blocked fp32 GEMM.
void rows_by_gemm(const NF4WeightView& w, NF4Compute compute, const float* bias, const float* x, float* y, int n_tokens,
                  int row_begin, int row_end) {
    const int in = w.in_features;
    static thread_local std::vector<float> chunk;
    chunk.resize(size_t(kGemmChunkRows) * size_t(in));
    for (int n0 = row_begin; n0 < row_end; n0 += kGemmChunkRows) {
        const int rows = std::min(kGemmChunkRows, row_end - n0);
        dequantize_flat(w, compute, int64_t(n0) * in, int64_t(n0 + rows) * in, chunk.data());
        GemmArgs g;
        g.m = n_tokens;
        g.n = rows;
        g.k = in;
        g.a = x;
        g.lda = in;
        g.b = chunk.data();
        g.b_dtype = DType::F32;
        g.ldb = in;
        g.bias = bias ? bias + n0 : nullptr;
        g.c = y + n0;
        g.ldc = w.out_features;
        gemm_serial(g);
        if (compute == NF4Compute::F16)
            for (int t = 0; t < n_tokens; ++t) {
                float* dst = y + size_t(t) * size_t(w.out_features) + size_t(n0);
                round_to_fp16_span(dst, dst, size_t(rows));
            }
    }
}

#ifdef GEMV_NF4_AVX2
// The activations with each 64-block's values in the order the decoder produces weights.
void permute_activations(const float* x, int n_tokens, int in, const int* order, std::vector<float>& out) {
    out.resize(size_t(n_tokens) * size_t(in));
    for (size_t base = 0; base < out.size(); base += kNF4BlockSize)
        for (int i = 0; i < kNF4BlockSize; ++i) out[base + size_t(i)] = x[base + size_t(order[i])];
}

// Four fp32 vectors (32 weights) of one block from its nibble indices (one byte each) and the
// four byte planes of the 16 levels.
inline void decode_f32(__m256i index, const __m256i planes[4], __m256 scale, __m256 w[4]) {
    const __m256i b0 = _mm256_shuffle_epi8(planes[0], index), b1 = _mm256_shuffle_epi8(planes[1], index);
    const __m256i b2 = _mm256_shuffle_epi8(planes[2], index), b3 = _mm256_shuffle_epi8(planes[3], index);
    const __m256i lo01 = _mm256_unpacklo_epi8(b0, b1), hi01 = _mm256_unpackhi_epi8(b0, b1);
    const __m256i lo23 = _mm256_unpacklo_epi8(b2, b3), hi23 = _mm256_unpackhi_epi8(b2, b3);
    w[0] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(lo01, lo23)), scale);
    w[1] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(lo01, lo23)), scale);
    w[2] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(hi01, hi23)), scale);
    w[3] = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(hi01, hi23)), scale);
}

// The two byte planes of a block's 16 fp16 weights, in both 128-bit lanes (scale16: the block
// scale already rounded to fp16).
inline void f16_planes(float scale16, __m256 levels_lo, __m256 levels_hi, __m256i& low, __m256i& high) {
    const __m256 s = _mm256_set1_ps(scale16);
    const __m128i h0 = _mm256_cvtps_ph(_mm256_mul_ps(levels_lo, s), _MM_FROUND_TO_NEAREST_INT);
    const __m128i h1 = _mm256_cvtps_ph(_mm256_mul_ps(levels_hi, s), _MM_FROUND_TO_NEAREST_INT);
    const __m128i split = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    const __m128i s0 = _mm_shuffle_epi8(h0, split), s1 = _mm_shuffle_epi8(h1, split);
    low = _mm256_broadcastsi128_si256(_mm_unpacklo_epi64(s0, s1));
    high = _mm256_broadcastsi128_si256(_mm_unpackhi_epi64(s0, s1));
}

inline void decode_f16(__m256i index, __m256i low, __m256i high, __m256 w[4]) {
    const __m256i lo = _mm256_shuffle_epi8(low, index), hi = _mm256_shuffle_epi8(high, index);
    const __m256i a = _mm256_unpacklo_epi8(lo, hi), b = _mm256_unpackhi_epi8(lo, hi);
    w[0] = _mm256_cvtph_ps(_mm256_castsi256_si128(a));
    w[1] = _mm256_cvtph_ps(_mm256_extracti128_si256(a, 1));
    w[2] = _mm256_cvtph_ps(_mm256_castsi256_si128(b));
    w[3] = _mm256_cvtph_ps(_mm256_extracti128_si256(b, 1));
}

constexpr int kPrefetchBytes = 1024;  // rows are contiguous: the stream runs on into the next rows

// Rows [row_begin, row_end) for TT tokens starting at token t0; K % 64 == 0.
//   xp [n_tokens, K] the activations permuted by permute_activations
// (The fixed loops are unrolled so that the accumulators stay in registers.)
template <int TT, bool F16>
void direct_rows(const NF4WeightView& w, const float* bias, const float* xp, float* y, int t0, int row_begin,
                 int row_end) {
    const int in = w.in_features, blocks = in / kNF4BlockSize;
    const size_t out = size_t(w.out_features);
    const Tables& tab = tables();
    __m256i planes[4];
    for (int p = 0; p < 4; ++p) planes[p] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tab.planes[p]));
    const __m256 levels_lo = _mm256_load_ps(tab.level_f16), levels_hi = _mm256_load_ps(tab.level_f16 + 8);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    static thread_local std::vector<float> row_scales;
    row_scales.resize(size_t(blocks));
    for (int n = row_begin; n < row_end; ++n) {
        // The row's block scales first (F16: rounded to fp16 eight at a time).
        const int64_t block0 = int64_t(n) * blocks;
        for (int b = 0; b < blocks; ++b) row_scales[size_t(b)] = block_scale(w, block0 + b);
        if constexpr (F16) round_to_fp16_span(row_scales.data(), row_scales.data(), size_t(blocks));
        __m256 acc[TT][4];
#pragma GCC unroll 8
        for (int i = 0; i < TT * 4; ++i) acc[i / 4][i % 4] = _mm256_setzero_ps();
        const uint8_t* bytes = w.codes + size_t(n) * size_t(in) / 2;
        const float* x = xp + size_t(t0) * size_t(in);
        for (int b = 0; b < blocks; ++b, bytes += 32, x += kNF4BlockSize) {
            if ((b & 1) == 0) _mm_prefetch(reinterpret_cast<const char*>(bytes) + kPrefetchBytes, _MM_HINT_T0);
            const float scale = row_scales[size_t(b)];
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
            const __m256i halves[2] = {_mm256_and_si256(_mm256_srli_epi16(v, 4), low4), _mm256_and_si256(v, low4)};
            __m256i low = halves[0], high = halves[0];  // the fp16 byte planes (F16)
            const __m256 s = _mm256_set1_ps(scale);      // the scale (F32)
            if constexpr (F16) f16_planes(scale, levels_lo, levels_hi, low, high);
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
                __m256 wv[4];
                if constexpr (F16) decode_f16(halves[h], low, high, wv);
                else decode_f32(halves[h], planes, s, wv);
#pragma GCC unroll 8
                for (int i = 0; i < TT * 4; ++i)
                    acc[i / 4][i % 4] = _mm256_fmadd_ps(wv[i % 4], _mm256_loadu_ps(x + size_t(i / 4) * size_t(in) + 32 * h + 8 * (i % 4)),
                                                        acc[i / 4][i % 4]);
            }
        }
#pragma GCC unroll 2
        for (int t = 0; t < TT; ++t) {
            const float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[t][0], acc[t][1]), _mm256_add_ps(acc[t][2], acc[t][3])));
            y[size_t(t0 + t) * out + size_t(n)] = finish(F16 ? NF4Compute::F16 : NF4Compute::F32, sum, bias, n);
        }
    }
}

template <bool F16>
void direct(const NF4WeightView& w, const float* bias, const float* xp, float* y, int n_tokens, int row_begin,
            int row_end) {
    int t = 0;
    for (; t + 2 <= n_tokens; t += 2) direct_rows<2, F16>(w, bias, xp, y, t, row_begin, row_end);
    if (t < n_tokens) direct_rows<1, F16>(w, bias, xp, y, t, row_begin, row_end);
}
#endif

void check(const char* where, const NF4WeightView& w, int row_begin, int row_end) {
    if (w.out_features < 0 || w.in_features < 0)
        fail(where, "negative weight shape [", w.out_features, ", ", w.in_features, "]");
    if (row_begin < 0 || row_end < row_begin || row_end > w.out_features)
        fail(where, "row range [", row_begin, ", ", row_end, ") is not inside [0, ", w.out_features, ")");
    if (row_end > row_begin && w.in_features > 0 &&
        (!w.codes || !w.absmax_codes || !w.nested_absmax || !w.dynamic_map))
        fail(where, "weight codes, absmax codes, nested absmax or dynamic map is null");
}

}  // namespace

void gemv_nf4(const NF4WeightView& w, NF4Compute compute, const float* bias, const float* x, float* y, int n_tokens,
              int row_begin, int row_end) {
    check("gemv_nf4", w, row_begin, row_end);
    if (n_tokens < 0) fail("gemv_nf4", "negative token count ", n_tokens);
    if (row_end == row_begin || n_tokens == 0) return;
    const int in = w.in_features;
    if ((!x && in > 0) || !y) fail("gemv_nf4", "input or output is null");
    // F16 multiplies the activations rounded to fp16.
    static thread_local std::vector<float> x_f16;
    if (compute == NF4Compute::F16) {
        x_f16.resize(size_t(n_tokens) * size_t(in));
        round_to_fp16_span(x, x_f16.data(), x_f16.size());
        x = x_f16.data();
    }
    if (n_tokens >= kGemmMinTokens) {
        rows_by_gemm(w, compute, bias, x, y, n_tokens, row_begin, row_end);
        return;
    }
#ifdef GEMV_NF4_AVX2
    if (in % kNF4BlockSize == 0) {
        static thread_local std::vector<float> permuted;
        const Tables& tab = tables();
        permute_activations(x, n_tokens, in, compute == NF4Compute::F16 ? tab.order_f16 : tab.order_f32, permuted);
        if (compute == NF4Compute::F16) direct<true>(w, bias, permuted.data(), y, n_tokens, row_begin, row_end);
        else direct<false>(w, bias, permuted.data(), y, n_tokens, row_begin, row_end);
        return;
    }
#endif
    rows_by_dequantize(w, compute, bias, x, y, n_tokens, row_begin, row_end);
}

void dequantize_nf4_rows(const NF4WeightView& w, NF4Compute compute, int row_begin, int row_end, float* out) {
    check("dequantize_nf4_rows", w, row_begin, row_end);
    if (row_end > row_begin && w.in_features > 0 && !out) fail("dequantize_nf4_rows", "output is null");
    dequantize_flat(w, compute, int64_t(row_begin) * w.in_features, int64_t(row_end) * w.in_features, out);
}

}  // namespace fastvlm::cpu

// W4A4 linear layer on the CPU (formulas: cuda/quant_int4.cuh). The output of one token and row:
//   acc = 0
//   for g in groups, in order:  acc = acc + (float(isum_g) * a_scale[t, g]) * w_scale[n, g]
//                               (each product and sum rounded to fp32 on its own, never an FMA:
//                               see runtime/cpu/keep_rounded.h)
//   y   = round_to_fp16(acc + bias[n])
// with isum_g the exact int32 sum of a_code * w_code over the group. Both paths below keep that
// order per output, so they give the same bits as the scalar code.
//
// The signed nibbles are read as u = nibble ^ 8 = w + 8 (0..15, unsigned) so that maddubs can
// multiply them with the signed activation codes; the +8 comes back out as 8 * sum(a_code) per
// group, computed once per call.
//   few tokens (decode)   eight rows at a time: per group, each row's 32 bytes are split into
//                         high (even k) and low (odd k) nibbles and multiplied with the token's
//                         codes stored even/odd; the eight partial sums are reduced to one vector
//                         whose lanes are the rows, scaled and accumulated in that layout.
//   many tokens (prefill) a 6x16 register-blocked GEMM: for each group of 64 (16 quads of k),
//                         maddubs of u (4 per column) and broadcast codes (4 per token) into
//                         int16 accumulators (16 * 2 * 15 * 7 < 32768), then widened to int32,
//                         corrected, scaled and added to the fp32 tile in memory.
#include "runtime/cpu/gemv_w4a4.h"

#include <algorithm>
#include <cstring>

#include "cuda/quant_int4.cuh"
#include "runtime/cpu/fp16_round.h"
#include "runtime/cpu/horizontal_sum.h"
#include "runtime/cpu/keep_rounded.h"
#include "runtime/error.h"
#include "runtime/half.h"

#if defined(FASTVLM_CPU_F16C)
#define GEMV_W4A4_AVX2 1
#endif

namespace fastvlm::cpu {

namespace {

using quant::kInt4GroupSize;


// One group's contribution to an output: the order of these three roundings is the format.
inline float group_term(int32_t isum, float a_scale, float w_scale) {
    const float scaled = float(isum) * a_scale;
    return keep_rounded(scaled * w_scale);
}

// ------------------------------------------------------------------ scalar rows (any layout)

// isum of token codes a [K] and row n over group g, from the packed stream.
int32_t group_isum(const Int4WeightView& w, const int8_t* a, int n, int g) {
    const int64_t in = w.in_features, base = int64_t(n) * in;
    const int k1 = std::min<int>(int(in), (g + 1) * kInt4GroupSize);
    int32_t sum = 0;
    for (int k = g * kInt4GroupSize; k < k1; ++k) sum += int32_t(a[k]) * quant::int4_code_at(w.codes, base + k);
    return sum;
}

void scalar_rows(const Int4WeightView& w, const float* bias, const Int4Activations& a, float* y, int row_begin,
                 int row_end) {
    const size_t in = size_t(w.in_features), out = size_t(w.out_features), groups = size_t(a.groups);
    for (int t = 0; t < a.n_tokens; ++t)
        for (int n = row_begin; n < row_end; ++n) {
            float acc = 0.0f;
            for (size_t g = 0; g < groups; ++g)
                acc = acc + group_term(group_isum(w, a.codes.data() + size_t(t) * in, n, int(g)),
                                       a.scales[size_t(t) * groups + g], fp16_to_float(w.scales[size_t(n) * groups + g]));
            y[size_t(t) * out + size_t(n)] = quant::round_to_fp16(acc + (bias ? bias[n] : 0.0f));
        }
}

#ifdef GEMV_W4A4_AVX2
constexpr int kGemmMinTokens = 128;  // from this many tokens on, the packed GEMM (below, rows win: measured)
constexpr int kBlockRows = 8;

// ------------------------------------------------------------------ decode: eight rows at a time

// The token codes rearranged for the nibble split, and the +8 correction, once per call.
struct DecodeActivations {
    std::vector<int8_t> even_odd;   // [T, groups, 64]: the group's even-k codes, then its odd-k codes (zero past K)
    std::vector<int32_t> eight_sum; // [T, groups]      8 * sum of the group's codes
};

DecodeActivations& decode_scratch() {
    static thread_local DecodeActivations scratch;
    return scratch;
}

void prepare_decode(const Int4Activations& a, DecodeActivations& d) {
    const int in = a.in_features, groups = a.groups;
    d.even_odd.assign(size_t(a.n_tokens) * size_t(groups) * 64, 0);
    d.eight_sum.assign(size_t(a.n_tokens) * size_t(groups), 0);
    for (int t = 0; t < a.n_tokens; ++t)
        for (int g = 0; g < groups; ++g) {
            const int8_t* codes = a.codes.data() + size_t(t) * size_t(in) + size_t(g) * kInt4GroupSize;
            const int len = std::min(kInt4GroupSize, in - g * kInt4GroupSize);
            int8_t* dst = d.even_odd.data() + (size_t(t) * size_t(groups) + size_t(g)) * 64;
            int32_t sum = 0;
            for (int i = 0; i < len; ++i) {
                dst[(i & 1) * 32 + i / 2] = codes[i];
                sum += codes[i];
            }
            d.eight_sum[size_t(t) * size_t(groups) + size_t(g)] = 8 * sum;
        }
}

// Rows [n, n + 8), all inside the layer, K even (every row starts on a byte).
//   w_scales [groups][8] scratch for the rows' scales, group-major (one load per group)
// (The row loops are unrolled so that the eight partial sums stay in registers.)
void decode_block(const Int4WeightView& w, const float* bias, const Int4Activations& a, const DecodeActivations& d,
                  float* y, int n, float* w_scales) {
    const int in = w.in_features, groups = a.groups, full_groups = in / kInt4GroupSize;
    const size_t out = size_t(w.out_features);
    // The rows' fp16 scales are contiguous ([8][groups]): widen them, then transpose.
    float* widened = w_scales + size_t(groups) * kBlockRows;
    const uint16_t* s16 = w.scales + size_t(n) * size_t(groups);
    int i = 0;
    for (; i + 8 <= groups * kBlockRows; i += 8)
        _mm256_storeu_ps(widened + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s16 + i))));
    for (; i < groups * kBlockRows; ++i) widened[i] = fp16_to_float(s16[i]);
    for (int g = 0; g < groups; ++g)
#pragma GCC unroll 8
        for (int r = 0; r < kBlockRows; ++r) w_scales[g * kBlockRows + r] = widened[r * groups + g];
    const uint8_t* rows[kBlockRows];
#pragma GCC unroll 8
    for (int r = 0; r < kBlockRows; ++r) rows[r] = w.codes + (size_t(n + r) * size_t(in)) / 2;
    const __m256 b = bias ? _mm256_loadu_ps(bias + n) : _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0f), flip = _mm256_set1_epi8(char(0x88)), ones = _mm256_set1_epi16(1);
    const size_t ahead = size_t(kBlockRows) * size_t(in) / 2;
    for (int t = 0; t < a.n_tokens; ++t) {
        __m256 acc = _mm256_setzero_ps();
        const int8_t* codes = d.even_odd.data() + size_t(t) * size_t(groups) * 64;
        for (int g = 0; g < groups; ++g, codes += 64) {
            __m256i isum;
            if (g < full_groups) {
                const __m256i even = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
                const __m256i odd = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32));
                __m256i partial[kBlockRows];
                if (t == 0 && (g & 1) == 0) {  // the next eight rows' line at this position (see gemv_int8.cpp)
                    for (int r = 0; r < kBlockRows; ++r)
                        _mm_prefetch(reinterpret_cast<const char*>(rows[r] + size_t(g) * 32 + ahead), _MM_HINT_T0);
                }
#pragma GCC unroll 8
                for (int r = 0; r < kBlockRows; ++r) {
                    const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[r] + size_t(g) * 32)), flip);
                    const __m256i u_even = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4), u_odd = _mm256_and_si256(v, low4);
                    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(u_even, even), _mm256_maddubs_epi16(u_odd, odd));
                    partial[r] = _mm256_madd_epi16(p, ones);
                }
                isum = _mm256_sub_epi32(hsum8_epi32(partial), _mm256_set1_epi32(d.eight_sum[size_t(t) * size_t(groups) + size_t(g)]));
            } else {
                alignas(32) int32_t tail[kBlockRows];
                for (int r = 0; r < kBlockRows; ++r) tail[r] = group_isum(w, a.codes.data() + size_t(t) * size_t(in), n + r, g);
                isum = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
            }
            const __m256 scaled = _mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(a.scales[size_t(t) * size_t(groups) + size_t(g)]));
            acc = _mm256_add_ps(acc, keep_rounded(_mm256_mul_ps(scaled, _mm256_loadu_ps(w_scales + g * kBlockRows))));
        }
        _mm256_storeu_ps(y + size_t(t) * out + size_t(n), round_to_fp16_8(_mm256_add_ps(acc, b)));
    }
}

void decode_rows(const Int4WeightView& w, const float* bias, const Int4Activations& a, float* y, int row_begin,
                 int row_end) {
    DecodeActivations& d = decode_scratch();
    prepare_decode(a, d);
    static thread_local std::vector<float> w_scales;
    w_scales.resize(2 * size_t(a.groups) * kBlockRows);
    int n = row_begin;
    for (; n + kBlockRows <= row_end; n += kBlockRows) decode_block(w, bias, a, d, y, n, w_scales.data());
    scalar_rows(w, bias, a, y, n, row_end);
}

// ------------------------------------------------------------------ prefill: packed GEMM
constexpr int MR = 6, NR = 16;
constexpr int QUADS = kInt4GroupSize / 4;  // k quads per group
constexpr int SLICE_GROUPS = 4;            // groups per slice (256 deep): a 16-row panel is 4 KB
constexpr int NB = 128;                    // weight rows per tile

struct GemmScratch {
    std::vector<uint32_t> a;         // [token panels][groups * QUADS][MR]   four codes per uint32
    std::vector<float> a_scale;      // [token panels][groups][MR]
    std::vector<int32_t> a_eight;    // [token panels][groups][MR]           8 * sum of the group's codes
    std::vector<uint32_t> b;         // [NB / NR][SLICE_GROUPS * QUADS][NR]   four u = w + 8 per uint32
    std::vector<float> b_scale;      // [NB / NR][SLICE_GROUPS][NR]
    std::vector<float> c;            // [token panels * MR][NB]               the tile's fp32 sums
};

GemmScratch& gemm_scratch() {
    static thread_local GemmScratch scratch;
    return scratch;
}

void pack_activations(const Int4Activations& a, GemmScratch& s) {
    const int in = a.in_features, groups = a.groups, panels = (a.n_tokens + MR - 1) / MR;
    const size_t quads = size_t(groups) * QUADS;
    s.a.assign(size_t(panels) * quads * MR, 0u);
    s.a_scale.assign(size_t(panels) * size_t(groups) * MR, 0.0f);
    s.a_eight.assign(size_t(panels) * size_t(groups) * MR, 0);
    for (int t = 0; t < a.n_tokens; ++t) {
        const int8_t* codes = a.codes.data() + size_t(t) * size_t(in);
        const size_t panel = size_t(t / MR), i = size_t(t % MR);
        uint32_t* dst = s.a.data() + panel * quads * MR + i;
        for (size_t q = 0; q < quads; ++q) {
            uint8_t four[4] = {0, 0, 0, 0};
            for (size_t j = 0; j < 4; ++j)
                if (4 * q + j < size_t(in)) four[j] = uint8_t(codes[4 * q + j]);
            std::memcpy(dst + q * MR, four, 4);
        }
        for (int g = 0; g < groups; ++g) {
            int32_t sum = 0;
            for (int k = g * kInt4GroupSize; k < std::min(in, (g + 1) * kInt4GroupSize); ++k) sum += codes[k];
            const size_t at = (panel * size_t(groups) + size_t(g)) * MR + i;
            s.a_scale[at] = a.scales[size_t(t) * size_t(groups) + size_t(g)];
            s.a_eight[at] = 8 * sum;
        }
    }
}

// Weight rows [n0, n0 + nb) over groups [g0, g0 + ng) as u = w + 8, NR rows per panel (rows
// past nb and k past K hold 8, a zero weight, against zero activations).
void pack_weights(const Int4WeightView& w, int n0, int nb, int g0, int ng, GemmScratch& s) {
    const int in = w.in_features, groups = quant::int4_groups_per_row(in), col_panels = (nb + NR - 1) / NR;
    const size_t quads = size_t(ng) * QUADS;
    for (int j = 0; j < col_panels * NR; ++j) {
        uint8_t* dst = reinterpret_cast<uint8_t*>(s.b.data() + size_t(j / NR) * quads * NR + size_t(j % NR));
        float* scale = s.b_scale.data() + size_t(j / NR) * size_t(ng) * NR + size_t(j % NR);
        const int k0 = g0 * kInt4GroupSize, k1 = std::min(in, (g0 + ng) * kInt4GroupSize);
        if (j >= nb) {
            for (size_t q = 0; q < quads; ++q) std::memset(dst + q * NR * 4, 8, 4);
            for (int g = 0; g < ng; ++g) scale[g * NR] = 0.0f;
            continue;
        }
        const int64_t base = int64_t(n0 + j) * in;
        int k = k0;
        if (base % 2 == 0) {  // whole bytes: both nibbles of each
            const uint8_t* bytes = w.codes + (base + k0) / 2;
            uint32_t* quad = s.b.data() + size_t(j / NR) * quads * NR + size_t(j % NR);  // [quad * NR]
            const __m128i low4 = _mm_set1_epi8(0x0f), flip = _mm_set1_epi8(char(0x88));
            for (; k + 32 <= k1; k += 32, bytes += 16) {  // 16 bytes: 32 values, 8 quads
                const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes)), flip);
                const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4), lo = _mm_and_si128(v, low4);
                alignas(16) uint32_t eight[8];  // high nibble first: back in k order
                _mm_store_si128(reinterpret_cast<__m128i*>(eight), _mm_unpacklo_epi8(hi, lo));
                _mm_store_si128(reinterpret_cast<__m128i*>(eight + 4), _mm_unpackhi_epi8(hi, lo));
                for (int q = 0; q < 8; ++q) quad[size_t((k - k0) / 4 + q) * NR] = eight[q];
            }
            for (; k + 2 <= k1; k += 2) {
                const uint8_t byte = uint8_t(*bytes++ ^ 0x88);
                const int i = k - k0;
                dst[size_t(i / 4) * NR * 4 + size_t(i % 4)] = uint8_t(byte >> 4);
                dst[size_t(i / 4) * NR * 4 + size_t(i % 4) + 1] = uint8_t(byte & 15);
            }
        }
        for (; k < k1; ++k) {
            const int i = k - k0;
            dst[size_t(i / 4) * NR * 4 + size_t(i % 4)] = uint8_t(quant::int4_code_at(w.codes, base + k) + 8);
        }
        for (int i = k1 - k0; i < int(quads) * 4; ++i) dst[size_t(i / 4) * NR * 4 + size_t(i % 4)] = 8;
        for (int g = 0; g < ng; ++g) scale[g * NR] = fp16_to_float(w.scales[size_t(n0 + j) * size_t(groups) + size_t(g0 + g)]);
    }
}

// c[0..MR)[0..NR) += the group terms of ng groups (c row stride ldc)
void kernel_6x16(int ng, const uint32_t* a, const float* a_scale, const int32_t* a_eight, const uint32_t* b,
                 const float* b_scale, float* c, int ldc) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int g = 0; g < ng; ++g) {
        __m256i s00 = _mm256_setzero_si256(), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00;
        __m256i s30 = s00, s31 = s00, s40 = s00, s41 = s00, s50 = s00, s51 = s00;
        for (int q = 0; q < QUADS; ++q) {
            const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
            const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8));
            __m256i x;
            x = _mm256_set1_epi32(int(a[0])); s00 = _mm256_add_epi16(s00, _mm256_maddubs_epi16(b0, x)); s01 = _mm256_add_epi16(s01, _mm256_maddubs_epi16(b1, x));
            x = _mm256_set1_epi32(int(a[1])); s10 = _mm256_add_epi16(s10, _mm256_maddubs_epi16(b0, x)); s11 = _mm256_add_epi16(s11, _mm256_maddubs_epi16(b1, x));
            x = _mm256_set1_epi32(int(a[2])); s20 = _mm256_add_epi16(s20, _mm256_maddubs_epi16(b0, x)); s21 = _mm256_add_epi16(s21, _mm256_maddubs_epi16(b1, x));
            x = _mm256_set1_epi32(int(a[3])); s30 = _mm256_add_epi16(s30, _mm256_maddubs_epi16(b0, x)); s31 = _mm256_add_epi16(s31, _mm256_maddubs_epi16(b1, x));
            x = _mm256_set1_epi32(int(a[4])); s40 = _mm256_add_epi16(s40, _mm256_maddubs_epi16(b0, x)); s41 = _mm256_add_epi16(s41, _mm256_maddubs_epi16(b1, x));
            x = _mm256_set1_epi32(int(a[5])); s50 = _mm256_add_epi16(s50, _mm256_maddubs_epi16(b0, x)); s51 = _mm256_add_epi16(s51, _mm256_maddubs_epi16(b1, x));
            a += MR;
            b += NR;
        }
        const __m256 w0 = _mm256_loadu_ps(b_scale + g * NR), w1 = _mm256_loadu_ps(b_scale + g * NR + 8);
        const __m256i sums[MR][2] = {{s00, s01}, {s10, s11}, {s20, s21}, {s30, s31}, {s40, s41}, {s50, s51}};
        for (int i = 0; i < MR; ++i) {
            const __m256i eight = _mm256_set1_epi32(a_eight[g * MR + i]);
            const __m256 scale = _mm256_set1_ps(a_scale[g * MR + i]);
            float* row = c + size_t(i) * size_t(ldc);
            const __m256 t0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(sums[i][0], ones), eight)), scale);
            const __m256 t1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(sums[i][1], ones), eight)), scale);
            _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), keep_rounded(_mm256_mul_ps(t0, w0))));
            _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), keep_rounded(_mm256_mul_ps(t1, w1))));
        }
    }
}

void gemm_rows(const Int4WeightView& w, const float* bias, const Int4Activations& a, float* y, int row_begin,
               int row_end) {
    const int groups = a.groups, panels = (a.n_tokens + MR - 1) / MR;
    const size_t out = size_t(w.out_features), quads = size_t(groups) * QUADS;
    GemmScratch& s = gemm_scratch();
    pack_activations(a, s);
    s.b.resize(size_t(NB) * SLICE_GROUPS * QUADS);
    s.b_scale.resize(size_t(NB) * SLICE_GROUPS);
    s.c.resize(size_t(panels) * MR * NB);
    for (int n0 = row_begin; n0 < row_end; n0 += NB) {
        const int nb = std::min(NB, row_end - n0), col_panels = (nb + NR - 1) / NR;
        std::fill(s.c.begin(), s.c.end(), 0.0f);
        for (int g0 = 0; g0 < groups; g0 += SLICE_GROUPS) {
            const int ng = std::min(SLICE_GROUPS, groups - g0);
            pack_weights(w, n0, nb, g0, ng, s);
            for (int jp = 0; jp < col_panels; ++jp) {
                const uint32_t* b_panel = s.b.data() + size_t(jp) * size_t(ng) * QUADS * NR;
                const float* b_scale = s.b_scale.data() + size_t(jp) * size_t(ng) * NR;
                for (int ip = 0; ip < panels; ++ip) {
                    const size_t at = size_t(ip) * size_t(groups) + size_t(g0);
                    kernel_6x16(ng, s.a.data() + (size_t(ip) * quads + size_t(g0) * QUADS) * MR, s.a_scale.data() + at * MR,
                                s.a_eight.data() + at * MR, b_panel, b_scale,
                                s.c.data() + size_t(ip) * MR * NB + size_t(jp) * NR, NB);
                }
            }
        }
        for (int t = 0; t < a.n_tokens; ++t) {
            const float* c = s.c.data() + size_t(t) * NB;
            float* dst = y + size_t(t) * out + size_t(n0);
            int j = 0;
            for (; j + 8 <= nb; j += 8)
                _mm256_storeu_ps(dst + j, round_to_fp16_8(_mm256_add_ps(_mm256_loadu_ps(c + j),
                                                                         bias ? _mm256_loadu_ps(bias + n0 + j) : _mm256_setzero_ps())));
            for (; j < nb; ++j) dst[j] = quant::round_to_fp16(c[j] + (bias ? bias[n0 + j] : 0.0f));
        }
    }
}
#endif

void check_gemv(const Int4WeightView& w, const Int4Activations& a, const float* y, int row_begin, int row_end) {
    if (w.out_features < 0 || w.in_features < 0)
        fail("gemv_w4a4", "negative weight shape [", w.out_features, ", ", w.in_features, "]");
    if (row_begin < 0 || row_end < row_begin || row_end > w.out_features)
        fail("gemv_w4a4", "row range [", row_begin, ", ", row_end, ") is not inside [0, ", w.out_features, ")");
    if (a.in_features != w.in_features)
        fail("gemv_w4a4", "activations have ", a.in_features, " features, the weight ", w.in_features);
    if (a.n_tokens < 0) fail("gemv_w4a4", "negative token count ", a.n_tokens);
    const int groups = quant::int4_groups_per_row(a.in_features);
    if (a.groups != groups || a.codes.size() != size_t(a.n_tokens) * size_t(a.in_features) ||
        a.scales.size() != size_t(a.n_tokens) * size_t(groups))
        fail("gemv_w4a4", "activations of ", a.n_tokens, " tokens x ", a.in_features, " features (", groups,
             " groups) hold ", a.codes.size(), " codes and ", a.scales.size(), " scales in ", a.groups, " groups");
    if (row_end > row_begin && a.n_tokens > 0) {
        if (!w.scales || (!w.codes && w.in_features > 0)) fail("gemv_w4a4", "weight codes or scales are null");
        if (!y) fail("gemv_w4a4", "output is null");
    }
}

}  // namespace

void quantize_activations_int4(const float* x, int n_tokens, int in_features, Int4Activations& out) {
    if (n_tokens < 0 || in_features < 0)
        fail("quantize_activations_int4", "negative shape: n_tokens ", n_tokens, ", in_features ", in_features);
    const size_t in = size_t(in_features), values = size_t(n_tokens) * in;
    if (values > 0 && !x) fail("quantize_activations_int4", "input is null");
    const int groups = quant::int4_groups_per_row(in_features);
    out.n_tokens = n_tokens;
    out.in_features = in_features;
    out.groups = groups;
    out.codes.resize(values);
    out.scales.resize(size_t(n_tokens) * size_t(groups));
    float group[kInt4GroupSize];
    for (int t = 0; t < n_tokens; ++t)
        for (int g = 0; g < groups; ++g) {
            const size_t k0 = size_t(g) * kInt4GroupSize, len = std::min<size_t>(kInt4GroupSize, in - k0);
            const float* src = x + size_t(t) * in + k0;
            int8_t* codes = out.codes.data() + size_t(t) * in + k0;
            round_to_fp16_span(src, group, len);
            float absmax = 0.0f;
            for (size_t i = 0; i < len; ++i) absmax = std::max(absmax, quant::abs_f(group[i]));
            const float scale = quant::int4_scale(absmax);
            out.scales[size_t(t) * size_t(groups) + size_t(g)] = scale;
            size_t i = 0;
#ifdef GEMV_W4A4_AVX2
            if (scale != 0.0f) {
                const __m256 divisor = _mm256_set1_ps(scale);
                const __m256i hi = _mm256_set1_epi32(quant::kInt4MaxLevel), lo = _mm256_set1_epi32(-quant::kInt4MaxLevel);
                for (; i + 8 <= len; i += 8) {
                    const __m256i q = _mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(group + i), divisor));  // ties to even
                    alignas(32) int32_t lanes[8];
                    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_max_epi32(lo, _mm256_min_epi32(hi, q)));
                    for (int l = 0; l < 8; ++l) codes[i + size_t(l)] = int8_t(lanes[l]);
                }
            }
#endif
            for (; i < len; ++i) codes[i] = int8_t(quant::int4_quantize(group[i], scale));
        }
}

void gemv_w4a4(const Int4WeightView& w, const float* bias, const Int4Activations& a, float* y, int row_begin,
               int row_end) {
    check_gemv(w, a, y, row_begin, row_end);
    if (row_end == row_begin || a.n_tokens == 0) return;
#ifdef GEMV_W4A4_AVX2
    if (a.n_tokens >= kGemmMinTokens) {
        gemm_rows(w, bias, a, y, row_begin, row_end);
        return;
    }
    if (w.in_features % 2 == 0) {
        decode_rows(w, bias, a, y, row_begin, row_end);
        return;
    }
#endif
    scalar_rows(w, bias, a, y, row_begin, row_end);
}

}  // namespace fastvlm::cpu

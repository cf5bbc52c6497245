// Decode attention in fp32: scores for every cached position, a max-subtracted softmax, then
// the weighted sum of values. One kernel serves both cache types: each cached key and value row
// is read once (widened first when it is fp16) and used by every query head of its group
// (grouped-query attention shares a KV head by `group` heads).
#include "runtime/cpu/attention_decode.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"
#include "runtime/half.h"

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

namespace fastvlm::cpu {
namespace {

// What depends on the cache type: how a cached row becomes fp32, and the dot product and softmax
// normalization. The last two were written apart for each cache and round differently; each
// keeps its own so that results stay bit for bit what they were.
template <typename Cached>
struct CachedRows;

template <>
struct CachedRows<float> {
    static constexpr bool in_place = true;  // rows are read where they lie

    static const float* row(const float* cached, float*, int) { return cached; }

    // One FMA accumulator whose lanes are summed in order.
    static float dot(const float* a, const float* b, int n) {
        int i = 0;
        float sum = 0.0f;
#ifdef FASTVLM_CPU_AVX2
        __m256 acc = _mm256_setzero_ps();
        for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
        float lanes[8];
        _mm256_storeu_ps(lanes, acc);
        for (float l : lanes) sum += l;
#endif
        for (; i < n; ++i) sum += a[i] * b[i];
        return sum;
    }

    // Multiplies by the reciprocal of the sum.
    static void normalize(float* weights, size_t n, float sum) {
        const float inv_sum = 1.0f / sum;
        for (size_t p = 0; p < n; ++p) weights[p] *= inv_sum;
    }
};

template <>
struct CachedRows<uint16_t> {
    static constexpr bool in_place = false;  // rows are widened into a scratch row

    static const float* row(const uint16_t* cached, float* widened, int n) {
        int i = 0;
#if defined(__F16C__) && defined(__AVX__)
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(widened + i,
                             _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cached + i))));
#endif
        for (; i < n; ++i) widened[i] = fp16_to_float(cached[i]);
        return widened;
    }

    // Eight independent partial sums, so the loop vectorizes and pipelines, added pairwise.
    static float dot(const float* a, const float* b, int n) {
        float partial[8] = {};
        int i = 0;
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; ++j) partial[j] += a[i + j] * b[i + j];
        float sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
                    ((partial[4] + partial[5]) + (partial[6] + partial[7]));
        for (; i < n; ++i) sum += a[i] * b[i];
        return sum;
    }

    // Divides by the sum.
    static void normalize(float* weights, size_t n, float sum) {
        for (size_t p = 0; p < n; ++p) weights[p] /= sum;
    }
};

void check_shape(const char* name, int kv_len, int n_heads, int n_kv_heads, int head_dim, int head_begin,
                 int head_end) {
    if (kv_len < 1 || n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0)
        fail(name, "bad shape: kv_len ", kv_len, ", n_heads ", n_heads, ", n_kv_heads ", n_kv_heads,
             ", head_dim ", head_dim);
    if (n_heads % n_kv_heads != 0)
        fail(name, n_heads, " query heads are not a multiple of ", n_kv_heads, " kv heads");
    if (head_begin < 0 || head_end < head_begin || head_end > n_heads)
        fail(name, "head range [", head_begin, ", ", head_end, ") is not inside [0, ", n_heads, ")");
}

template <typename Cached>
void attend(const float* q, const Cached* k_cache, const Cached* v_cache, float* out, int kv_len, int n_heads,
            int n_kv_heads, int head_dim, float scale, int head_begin, int head_end) {
    using Rows = CachedRows<Cached>;
    const int group = n_heads / n_kv_heads;
    const size_t dim = static_cast<size_t>(head_dim), len = static_cast<size_t>(kv_len);
    const size_t row = static_cast<size_t>(n_kv_heads) * dim;   // one cached position
    std::vector<float> widened(Rows::in_place ? 0 : dim);       // one key or value row in fp32
    std::vector<float> scores;                                  // [heads of this kv head, kv_len]
    for (int kv_head = head_begin / group; kv_head * group < head_end; ++kv_head) {
        const int h0 = std::max(head_begin, kv_head * group), h1 = std::min(head_end, (kv_head + 1) * group);
        const size_t heads = static_cast<size_t>(h1 - h0);
        const size_t kv_offset = static_cast<size_t>(kv_head) * dim;
        const float* q0 = q + static_cast<size_t>(h0) * dim;
        float* out0 = out + static_cast<size_t>(h0) * dim;
        scores.assign(heads * len, 0.0f);
        for (size_t p = 0; p < len; ++p) {
            const float* k = Rows::row(k_cache + p * row + kv_offset, widened.data(), head_dim);
            for (size_t h = 0; h < heads; ++h) scores[h * len + p] = Rows::dot(q0 + h * dim, k, head_dim) * scale;
        }
        for (size_t h = 0; h < heads; ++h) {
            float* sh = scores.data() + h * len;
            const float max_score = *std::max_element(sh, sh + len);
            float sum = 0.0f;
            for (size_t p = 0; p < len; ++p) {
                sh[p] = std::exp(sh[p] - max_score);
                sum += sh[p];
            }
            Rows::normalize(sh, len, sum);
        }
#ifdef FASTVLM_CPU_AVX2
        // Rows read in place cost nothing to read again, so each head sums its own pass over
        // them with its output row in registers.
        if (Rows::in_place && head_dim % 8 == 0 && head_dim <= 128) {
            const int vectors = head_dim / 8;
            for (size_t h = 0; h < heads; ++h) {
                const float* sh = scores.data() + h * len;
                __m256 acc[16];
                for (int i = 0; i < vectors; ++i) acc[i] = _mm256_setzero_ps();
                for (size_t p = 0; p < len; ++p) {
                    const float* v = Rows::row(v_cache + p * row + kv_offset, widened.data(), head_dim);
                    const __m256 weight = _mm256_set1_ps(sh[p]);
                    for (int i = 0; i < vectors; ++i)
                        acc[i] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(v + 8 * i), acc[i]);
                }
                for (int i = 0; i < vectors; ++i) _mm256_storeu_ps(out0 + h * dim + 8 * i, acc[i]);
            }
            continue;
        }
#endif
        std::fill(out0, out0 + heads * dim, 0.0f);
        for (size_t p = 0; p < len; ++p) {
            const float* v = Rows::row(v_cache + p * row + kv_offset, widened.data(), head_dim);
            for (size_t h = 0; h < heads; ++h) {
                float* oh = out0 + h * dim;
                const float weight = scores[h * len + p];
                for (size_t d = 0; d < dim; ++d) oh[d] += weight * v[d];
            }
        }
    }
}

}  // namespace

void attention_decode(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, float* out,
                      int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale,
                      int head_begin, int head_end) {
    check_shape("attention_decode", kv_len, n_heads, n_kv_heads, head_dim, head_begin, head_end);
    attend(q, k_cache, v_cache, out, kv_len, n_heads, n_kv_heads, head_dim, scale, head_begin, head_end);
}

void attention_decode_f32(const float* q, const float* k_cache, const float* v_cache, float* out,
                          int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale,
                          int head_begin, int head_end) {
    check_shape("attention_decode_f32", kv_len, n_heads, n_kv_heads, head_dim, head_begin, head_end);
    attend(q, k_cache, v_cache, out, kv_len, n_heads, n_kv_heads, head_dim, scale, head_begin, head_end);
}

}  // namespace fastvlm::cpu

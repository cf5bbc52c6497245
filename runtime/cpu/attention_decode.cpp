// Decode attention in fp32: scores for every cached position, a max-subtracted softmax, then
// the weighted sum of values. Each cached key and value row is widened from fp16 once and used
// by every query head of its group (grouped-query attention shares a KV head by `group` heads).
#include "runtime/cpu/attention_decode.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/error.h"
#include "runtime/half.h"

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

namespace fastvlm::cpu {
namespace {

void widen(const uint16_t* src, float* dst, int n) {
    int i = 0;
#if defined(__F16C__) && defined(__AVX__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
    for (; i < n; ++i) dst[i] = fp16_to_float(src[i]);
}

// Dot product with eight independent partial sums, so the loop vectorizes and pipelines.
float dot(const float* a, const float* b, size_t n) {
    float partial[8] = {};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = 0; j < 8; ++j) partial[j] += a[i + j] * b[i + j];
    float sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
                ((partial[4] + partial[5]) + (partial[6] + partial[7]));
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

}  // namespace

void attention_decode(const float* q, const uint16_t* k_cache, const uint16_t* v_cache, float* out,
                      int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale,
                      int head_begin, int head_end) {
    if (kv_len < 1 || n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0)
        fail("attention_decode", "bad shape: kv_len ", kv_len, ", n_heads ", n_heads, ", n_kv_heads ",
             n_kv_heads, ", head_dim ", head_dim);
    if (n_heads % n_kv_heads != 0)
        fail("attention_decode", n_heads, " query heads are not a multiple of ", n_kv_heads, " kv heads");
    if (head_begin < 0 || head_end < head_begin || head_end > n_heads)
        fail("attention_decode", "head range [", head_begin, ", ", head_end, ") is not inside [0, ",
             n_heads, ")");
    const int group = n_heads / n_kv_heads;
    const size_t dim = static_cast<size_t>(head_dim), len = static_cast<size_t>(kv_len);
    const size_t row = static_cast<size_t>(n_kv_heads) * dim;  // one cached position
    std::vector<float> widened(dim);                             // one key or value row in fp32
    std::vector<float> scores;                                   // [heads of this kv head, kv_len]
    for (int kv_head = head_begin / group; kv_head * group < head_end; ++kv_head) {
        const int h0 = std::max(head_begin, kv_head * group), h1 = std::min(head_end, (kv_head + 1) * group);
        const size_t heads = static_cast<size_t>(h1 - h0);
        const size_t kv_offset = static_cast<size_t>(kv_head) * dim;
        scores.assign(heads * len, 0.0f);
        for (size_t p = 0; p < len; ++p) {
            widen(k_cache + p * row + kv_offset, widened.data(), head_dim);
            for (size_t h = 0; h < heads; ++h) {
                scores[h * len + p] = dot(q + (static_cast<size_t>(h0) + h) * dim, widened.data(), dim) * scale;
            }
        }
        for (size_t h = 0; h < heads; ++h) {
            float* sh = scores.data() + h * len;
            const float max_score = *std::max_element(sh, sh + len);
            float sum = 0.0f;
            for (size_t p = 0; p < len; ++p) {
                sh[p] = std::exp(sh[p] - max_score);
                sum += sh[p];
            }
            for (size_t p = 0; p < len; ++p) sh[p] /= sum;
            float* oh = out + (static_cast<size_t>(h0) + h) * dim;
            std::fill(oh, oh + dim, 0.0f);
        }
        for (size_t p = 0; p < len; ++p) {
            widen(v_cache + p * row + kv_offset, widened.data(), head_dim);
            for (size_t h = 0; h < heads; ++h) {
                float* oh = out + (static_cast<size_t>(h0) + h) * dim;
                const float weight = scores[h * len + p];
                for (size_t d = 0; d < dim; ++d) oh[d] += weight * widened[d];
            }
        }
    }
}

}  // namespace fastvlm::cpu

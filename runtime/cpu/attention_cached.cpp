#include "runtime/cpu/attention_cached.h"

#include <cmath>
#include <vector>

#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"

namespace fastvlm::cpu {

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

void attention_decode_f32(const float* q, const float* k_cache, const float* v_cache, float* out,
                          int kv_len, int n_heads, int n_kv_heads, int head_dim, float scale,
                          int head_begin, int head_end) {
    if (kv_len < 1 || n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0 || n_heads % n_kv_heads != 0 ||
        head_begin < 0 || head_end < head_begin || head_end > n_heads)
        fail("attention_decode_f32", "bad shape: kv_len ", kv_len, ", ", n_heads, " heads over ", n_kv_heads,
             " kv heads of ", head_dim, ", head range [", head_begin, ", ", head_end, ")");
    const int group = n_heads / n_kv_heads;
    const size_t row = size_t(n_kv_heads) * size_t(head_dim);
    std::vector<float> scores(static_cast<size_t>(kv_len));
    for (int h = head_begin; h < head_end; ++h) {
        const float* qh = q + size_t(h) * size_t(head_dim);
        const size_t kv_offset = size_t(h / group) * size_t(head_dim);
        float max_score = -INFINITY;
        for (int p = 0; p < kv_len; ++p) {
            scores[size_t(p)] = dot(qh, k_cache + size_t(p) * row + kv_offset, head_dim) * scale;
            max_score = std::fmax(max_score, scores[size_t(p)]);
        }
        float sum = 0.0f;
        for (int p = 0; p < kv_len; ++p) {
            scores[size_t(p)] = std::exp(scores[size_t(p)] - max_score);
            sum += scores[size_t(p)];
        }
        float* oh = out + size_t(h) * size_t(head_dim);
        const float inv_sum = 1.0f / sum;
#ifdef FASTVLM_CPU_AVX2
        if (head_dim % 8 == 0 && head_dim <= 128) {  // the output row lives in registers
            __m256 acc[16];
            const int vectors = head_dim / 8;
            for (int i = 0; i < vectors; ++i) acc[i] = _mm256_setzero_ps();
            for (int p = 0; p < kv_len; ++p) {
                const float* v = v_cache + size_t(p) * row + kv_offset;
                const __m256 weight = _mm256_set1_ps(scores[size_t(p)] * inv_sum);
                for (int i = 0; i < vectors; ++i) acc[i] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(v + 8 * i), acc[i]);
            }
            for (int i = 0; i < vectors; ++i) _mm256_storeu_ps(oh + 8 * i, acc[i]);
            continue;
        }
#endif
        for (int d = 0; d < head_dim; ++d) oh[d] = 0.0f;
        for (int p = 0; p < kv_len; ++p) {
            const float* v = v_cache + size_t(p) * row + kv_offset;
            const float weight = scores[size_t(p)] * inv_sum;
            for (int d = 0; d < head_dim; ++d) oh[d] += weight * v[d];
        }
    }
}

}  // namespace fastvlm::cpu

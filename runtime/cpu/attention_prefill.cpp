#include "runtime/cpu/attention_prefill.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/cpu/matmul.h"
#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"

namespace fastvlm::cpu {

void attention_prefill(ThreadPool& pool, const float* q, const void* k_cache, const void* v_cache,
                       DType cache_dtype, float* out, int64_t t, int64_t pos, int heads, int kv_heads,
                       int head_dim, float scale) {
    if (t <= 0 || pos < 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0 || heads % kv_heads != 0)
        fail("attention_prefill", "bad shape: ", t, " tokens at ", pos, ", ", heads, " heads over ", kv_heads,
             " kv heads of ", head_dim);
    if (cache_dtype != DType::F32 && cache_dtype != DType::F16)
        fail("attention_prefill", "cache dtype ", dtype_name(cache_dtype), " (expected F32 or F16)");
    const int64_t d = head_dim, length = pos + t, q_width = int64_t(heads) * d, kv_width = int64_t(kv_heads) * d;
    const size_t elem = dtype_size(cache_dtype);
    const int group = heads / kv_heads;
    pool.run(heads, [&](int64_t h, int) {
        const int64_t kvh = h / group;
        std::vector<float> scores(static_cast<size_t>(t * length));  // [t, length]
        GemmArgs qk;
        qk.m = t; qk.n = length; qk.k = d;
        qk.a = q + h * d; qk.lda = q_width;
        qk.b = static_cast<const uint8_t*>(k_cache) + size_t(kvh * d) * elem; qk.b_dtype = cache_dtype; qk.ldb = kv_width;
        qk.c = scores.data(); qk.ldc = length;
        gemm_serial(qk);
        for (int64_t i = 0; i < t; ++i) {
            float* row = scores.data() + i * length;
            const int64_t visible = pos + i + 1;  // causal: positions [0, pos + i]
            float max_score = -INFINITY;
            for (int64_t j = 0; j < visible; ++j) {
                row[j] *= scale;
                max_score = std::max(max_score, row[j]);
            }
            const float inv_sum = 1.0f / exp_shift_sum(row, size_t(visible), max_score);
            for (int64_t j = 0; j < visible; ++j) row[j] *= inv_sum;
            std::fill(row + visible, row + length, 0.0f);
        }
        // This head's values, widened and transposed: [d, length].
        std::vector<float> v_t(static_cast<size_t>(d * length)), v_row(static_cast<size_t>(d));
        for (int64_t p = 0; p < length; ++p) {
            widen_to_f32(static_cast<const uint8_t*>(v_cache) + size_t(p * kv_width + kvh * d) * elem, cache_dtype,
                         v_row.data(), d);
            for (int64_t i = 0; i < d; ++i) v_t[size_t(i * length + p)] = v_row[size_t(i)];
        }
        GemmArgs pv;
        pv.m = t; pv.n = d; pv.k = length;
        pv.a = scores.data(); pv.lda = length;
        pv.b = v_t.data(); pv.b_dtype = DType::F32; pv.ldb = length;
        pv.c = out + h * d; pv.ldc = q_width;
        gemm_serial(pv);
    });
}

}  // namespace fastvlm::cpu

#include "runtime/cpu/self_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/cpu/matmul.h"
#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"

namespace fastvlm::cpu {

void self_attention(ThreadPool& pool, const float* qkv, float* out, int64_t n_tokens, int heads,
                    int head_dim, float scale) {
    if (n_tokens <= 0 || heads <= 0 || head_dim <= 0)
        fail("self_attention", "bad shape: ", n_tokens, " tokens, ", heads, " heads of ", head_dim);
    const int64_t n = n_tokens, d = head_dim, width = int64_t(heads) * d, stride = 3 * width;
    pool.run(heads, [&](int64_t h, int) {
        std::vector<float> scores(static_cast<size_t>(n * n));   // [n, n]
        std::vector<float> v_t(static_cast<size_t>(d * n));      // [d, n] this head's values, transposed
        GemmArgs qk;
        qk.m = n; qk.n = n; qk.k = d;
        qk.a = qkv + h * d; qk.lda = stride;
        qk.b = qkv + width + h * d; qk.b_dtype = DType::F32; qk.ldb = stride;
        qk.c = scores.data(); qk.ldc = n;
        gemm_serial(qk);
        for (int64_t i = 0; i < n; ++i) {
            float* row = scores.data() + i * n;
            float max_score = -INFINITY;
            for (int64_t j = 0; j < n; ++j) {
                row[j] *= scale;
                max_score = std::max(max_score, row[j]);
            }
            const float inv_sum = 1.0f / exp_shift_sum(row, size_t(n), max_score);
            for (int64_t j = 0; j < n; ++j) row[j] *= inv_sum;
        }
        const float* v = qkv + 2 * width + h * d;
        for (int64_t m = 0; m < n; ++m)
            for (int64_t i = 0; i < d; ++i) v_t[size_t(i * n + m)] = v[m * stride + i];
        GemmArgs pv;
        pv.m = n; pv.n = d; pv.k = n;
        pv.a = scores.data(); pv.lda = n;
        pv.b = v_t.data(); pv.b_dtype = DType::F32; pv.ldb = n;
        pv.c = out + h * d; pv.ldc = width;
        gemm_serial(pv);
    });
}

}  // namespace fastvlm::cpu

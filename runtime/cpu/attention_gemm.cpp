#include "runtime/cpu/attention_gemm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/cpu/matmul.h"
#include "runtime/cpu/vec_math.h"

namespace fastvlm::cpu {

void attention_gemm(ThreadPool& pool, const AttentionGemmArgs& args) {
    const int64_t t = args.queries, length = args.keys, d = args.head_dim;
    const float scale = args.scale;
    const bool causal = args.causal;
    const size_t elem = dtype_size(args.kv_dtype);
    const int group = args.heads / args.kv_heads;
    pool.run(args.heads, [&](int64_t h, int) {
        const int64_t kv_offset = h / group * d;
        std::vector<float> scores(static_cast<size_t>(t * length));  // [t, length]
        GemmArgs qk;
        qk.m = t; qk.n = length; qk.k = d;
        qk.a = args.q + h * d; qk.lda = args.ldq;
        qk.b = static_cast<const uint8_t*>(args.k) + size_t(kv_offset) * elem;
        qk.b_dtype = args.kv_dtype; qk.ldb = args.ldkv;
        qk.c = scores.data(); qk.ldc = length;
        gemm_serial(qk);
        for (int64_t i = 0; i < t; ++i) {
            float* row = scores.data() + i * length;
            const int64_t visible = causal ? length - t + i + 1 : length;  // keys [0, visible)
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
            widen_to_f32(static_cast<const uint8_t*>(args.v) + size_t(p * args.ldkv + kv_offset) * elem, args.kv_dtype,
                         v_row.data(), d);
            for (int64_t i = 0; i < d; ++i) v_t[size_t(i * length + p)] = v_row[size_t(i)];
        }
        GemmArgs pv;
        pv.m = t; pv.n = d; pv.k = length;
        pv.a = scores.data(); pv.lda = length;
        pv.b = v_t.data(); pv.b_dtype = DType::F32; pv.ldb = length;
        pv.c = args.out + h * d; pv.ldc = args.ldo;
        gemm_serial(pv);
    });
}

}  // namespace fastvlm::cpu

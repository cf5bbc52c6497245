// The CPU twin of decode attention: the cache layout, grouped-query heads and head ranges.
#include "tests/test_util.h"

#include <cmath>
#include <vector>

#include "runtime/cpu/attention_decode.h"
#include "runtime/half.h"

using fastvlm::float_to_fp16;

TEST_CASE("cpu attention_decode: softmax-weighted values of each query head's kv head") {
    // 4 query heads over 2 kv heads (heads 0,1 -> kv 0; heads 2,3 -> kv 1), head_dim 2, 3 positions.
    const int kv_len = 3, n_heads = 4, n_kv = 2, dim = 2;
    std::vector<uint16_t> k(size_t(kv_len * n_kv * dim)), v(k.size());
    for (int p = 0; p < kv_len; ++p)
        for (int h = 0; h < n_kv; ++h)
            for (int d = 0; d < dim; ++d) {
                const size_t i = size_t((p * n_kv + h) * dim + d);  // [kv_len, n_kv_heads, head_dim]
                k[i] = float_to_fp16(0.5f * float(p + 1) * (d == 0 ? 1.0f : -1.0f) * float(h + 1));
                v[i] = float_to_fp16(float(10 * h + p) + 0.25f * float(d));
            }
    const std::vector<float> q = {1.0f, 0.0f, 0.0f, 1.0f, 2.0f, 2.0f, -1.0f, 0.5f};  // [n_heads, head_dim]
    const float scale = 0.7f;
    std::vector<float> out(size_t(n_heads * dim), -9.0f);
    fastvlm::cpu::attention_decode(q.data(), k.data(), v.data(), out.data(), kv_len, n_heads, n_kv, dim, scale, 1, 4);
    for (int h = 0; h < n_heads; ++h) {
        const int kvh = h / 2;
        double scores[3], total = 0.0;
        for (int p = 0; p < kv_len; ++p) {
            double s = 0.0;
            for (int d = 0; d < dim; ++d)
                s += q[size_t(h * dim + d)] * fastvlm::fp16_to_float(k[size_t((p * n_kv + kvh) * dim + d)]);
            scores[p] = std::exp(scale * s);
            total += scores[p];
        }
        for (int d = 0; d < dim; ++d) {
            double want = 0.0;
            for (int p = 0; p < kv_len; ++p)
                want += scores[p] / total * fastvlm::fp16_to_float(v[size_t((p * n_kv + kvh) * dim + d)]);
            if (h == 0) CHECK(out[size_t(d)] == -9.0f);  // outside [head_begin, head_end)
            else CHECK(out[size_t(h * dim + d)] == doctest::Approx(want).epsilon(1e-5));
        }
    }
}

TEST_CASE("cpu attention_decode: one cached position returns its value") {
    const std::vector<uint16_t> k = {float_to_fp16(3.0f), float_to_fp16(-1.0f)};
    const std::vector<uint16_t> v = {float_to_fp16(0.5f), float_to_fp16(-2.0f)};
    const std::vector<float> q = {100.0f, 100.0f};
    std::vector<float> out(2);
    fastvlm::cpu::attention_decode(q.data(), k.data(), v.data(), out.data(), 1, 1, 1, 2, 0.125f, 0, 1);
    CHECK(out[0] == 0.5f);
    CHECK(out[1] == -2.0f);
}

TEST_CASE("cpu attention_decode: rejects bad shapes, groups and head ranges") {
    float f = 0;
    uint16_t h = 0;
    CHECK(test::error_of([&] { fastvlm::cpu::attention_decode(&f, &h, &h, &f, 0, 14, 2, 64, 1.0f, 0, 14); }) ==
          "attention_decode: bad shape: kv_len 0, n_heads 14, n_kv_heads 2, head_dim 64");
    CHECK(test::error_of([&] { fastvlm::cpu::attention_decode(&f, &h, &h, &f, 1, 14, 3, 64, 1.0f, 0, 14); }) ==
          "attention_decode: 14 query heads are not a multiple of 3 kv heads");
    CHECK(test::error_of([&] { fastvlm::cpu::attention_decode(&f, &h, &h, &f, 1, 14, 2, 64, 1.0f, 3, 15); }) ==
          "attention_decode: head range [3, 15) is not inside [0, 14)");
}

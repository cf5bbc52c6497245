// The CPU twin of the fp16 GEMV: rows, tokens, bias and bad shapes.
#include "tests/test_util.h"

#include <cmath>
#include <vector>

#include "runtime/cpu/gemv_fp16.h"
#include "runtime/half.h"

using fastvlm::float_to_fp16;

TEST_CASE("cpu gemv_fp16: computes rows of W x + bias for several tokens and row ranges") {
    const int in = 21, out = 5, tokens = 3;  // 21: exercises the 16-wide loop and its tail
    std::vector<uint16_t> w(static_cast<size_t>(in * out)), bias(static_cast<size_t>(out));
    std::vector<float> x(size_t(in * tokens));
    for (int r = 0; r < out; ++r) {
        bias[size_t(r)] = float_to_fp16(0.25f * float(r));
        for (int k = 0; k < in; ++k) w[size_t(r * in + k)] = float_to_fp16(float((r + 1) * (k % 4)) * 0.5f);
    }
    for (int t = 0; t < tokens; ++t)
        for (int k = 0; k < in; ++k) x[size_t(t * in + k)] = float(t + 1) - 0.125f * float(k);
    std::vector<float> y(size_t(out * tokens), -1.0f), y1(size_t(out), -1.0f);
    fastvlm::cpu::gemv_fp16(w.data(), bias.data(), x.data(), y.data(), tokens, in, out, 1, 4);
    for (int t = 0; t < tokens; ++t)
        for (int r = 0; r < out; ++r) {
            double want = 0.25 * r;
            for (int k = 0; k < in; ++k) want += (r + 1) * (k % 4) * 0.5 * double(x[size_t(t * in + k)]);
            if (r >= 1 && r < 4) CHECK(y[size_t(t * out + r)] == doctest::Approx(want).epsilon(1e-6));
            else CHECK(y[size_t(t * out + r)] == -1.0f);  // outside the row range: untouched
        }
    fastvlm::cpu::gemv_fp16(w.data(), nullptr, x.data(), y1.data(), 1, in, out, 0, out);  // decode path, no bias
    for (int r = 1; r < 4; ++r) CHECK(y1[size_t(r)] == doctest::Approx(y[size_t(r)] - 0.25 * r).epsilon(1e-6));
}

TEST_CASE("cpu gemv_fp16: rejects bad shapes and row ranges") {
    float y = 0;
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_fp16(nullptr, nullptr, nullptr, &y, 1, 4, 8, 2, 9); }) ==
          "gemv_fp16: row range [2, 9) is not inside [0, 8)");
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_fp16(nullptr, nullptr, nullptr, &y, -1, 4, 8, 0, 8); }) ==
          "gemv_fp16: negative shape: n_tokens -1, in_features 4, out_features 8");
}

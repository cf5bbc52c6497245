// The CPU LLM.int8 layer against a plain scalar reference written from the formulas of
// cuda/quant_int8.cuh: activation quantization (fp16 rounding, outlier columns, per-token
// scales, codes) and the outputs, bit for bit, for one token (decode) and many (prefill), on
// awkward shapes (K not a multiple of 32, one row, row ranges that split the eight-row panels).
#include "tests/test_util.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/quant_int8.cuh"
#include "runtime/cpu/gemv_int8.h"

namespace {

using namespace fastvlm::quant;

struct Int8Layer {
    int rows = 0, cols = 0;
    std::vector<int8_t> codes;      // [rows, cols]
    std::vector<float> row_scale;   // [rows]
    std::vector<float> bias;        // [rows] fp16 values
};

// Weights from random fp32 values (row `zero_row` all zero), quantized as the loader does.
Int8Layer make_layer(int rows, int cols, uint32_t seed, int zero_row = -1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    Int8Layer l;
    l.rows = rows;
    l.cols = cols;
    l.codes.resize(size_t(rows) * size_t(cols));
    l.row_scale.resize(size_t(rows));
    l.bias.resize(size_t(rows));
    std::vector<float> w16(static_cast<size_t>(cols));
    for (int n = 0; n < rows; ++n) {
        float absmax = 0.0f;
        const float gain = 0.02f + 0.2f * float(n % 7);
        for (int k = 0; k < cols; ++k) {
            w16[size_t(k)] = n == zero_row ? 0.0f : round_to_fp16(gain * u(rng));
            absmax = std::max(absmax, std::fabs(w16[size_t(k)]));
        }
        l.row_scale[size_t(n)] = absmax;
        for (int k = 0; k < cols; ++k) l.codes[size_t(n) * size_t(cols) + size_t(k)] = int8_quantize(w16[size_t(k)], absmax);
        l.bias[size_t(n)] = round_to_fp16(0.5f * u(rng));
    }
    return l;
}

// Activations in [-2, 2]; with outliers, a few (token, column) pairs get |x| in [6, 30], and
// one of them exactly 6 (the threshold itself is an outlier).
std::vector<float> make_inputs(int tokens, int cols, bool outliers, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f), big(6.0f, 30.0f);
    std::vector<float> x(size_t(tokens) * size_t(cols));
    for (float& v : x) v = u(rng);
    if (outliers && cols > 3) {
        for (int i = 0; i < 1 + tokens / 2; ++i) {
            const size_t t = rng() % size_t(tokens), k = rng() % size_t(cols);
            x[t * size_t(cols) + k] = (rng() & 1 ? 1.0f : -1.0f) * big(rng);
        }
        x[size_t(cols) - 2] = -6.0f;
    }
    return x;
}

struct Reference {
    std::vector<float> x_f16, scales, y;
    std::vector<int8_t> codes;
    std::vector<int> outlier_columns;
};

Reference reference(const Int8Layer& l, const float* x, int tokens, float threshold, bool with_bias) {
    const int K = l.cols, N = l.rows;
    Reference r;
    r.x_f16.resize(size_t(tokens) * size_t(K));
    for (size_t i = 0; i < r.x_f16.size(); ++i) r.x_f16[i] = round_to_fp16(x[i]);
    for (int k = 0; k < K; ++k) {
        bool outlier = false;
        for (int t = 0; t < tokens; ++t) outlier = outlier || std::fabs(r.x_f16[size_t(t * K + k)]) >= threshold;
        if (outlier) r.outlier_columns.push_back(k);
    }
    auto is_outlier_column = [&](int k) {
        for (int c : r.outlier_columns) if (c == k) return true;
        return false;
    };
    r.scales.assign(size_t(tokens), 0.0f);
    r.codes.resize(r.x_f16.size());
    for (int t = 0; t < tokens; ++t) {
        for (int k = 0; k < K; ++k) {
            const float v = std::fabs(r.x_f16[size_t(t * K + k)]);
            if (v < threshold && v > r.scales[size_t(t)]) r.scales[size_t(t)] = v;
        }
        for (int k = 0; k < K; ++k)
            r.codes[size_t(t * K + k)] = is_outlier_column(k) ? 0 : int8_quantize(r.x_f16[size_t(t * K + k)], r.scales[size_t(t)]);
    }
    r.y.resize(size_t(tokens) * size_t(N));
    for (int t = 0; t < tokens; ++t)
        for (int n = 0; n < N; ++n) {
            int64_t acc = 0;
            for (int k = 0; k < K; ++k) acc += int64_t(r.codes[size_t(t * K + k)]) * l.codes[size_t(n) * size_t(K) + size_t(k)];
            REQUIRE(acc == int64_t(int32_t(acc)));
            float y = round_to_fp16(int8_dequantize_output(int32_t(acc), r.scales[size_t(t)], l.row_scale[size_t(n)],
                                                           with_bias ? l.bias[size_t(n)] : 0.0f));
            if (!r.outlier_columns.empty()) {
                float sum = 0.0f;
                for (int k : r.outlier_columns) {
                    const float product = r.x_f16[size_t(t * K + k)] *
                                          int8_outlier_weight(l.codes[size_t(n) * size_t(K) + size_t(k)], l.row_scale[size_t(n)]);
                    sum = sum + product;
                }
                y = round_to_fp16(y + sum);
            }
            r.y[size_t(t * N + n)] = y;
        }
    return r;
}

// Counts the elements that differ in their bits, and names the first.
template <typename T>
int count_mismatches(const std::vector<T>& got, const std::vector<T>& want, std::string& first) {
    int bad = 0;
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
        if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0 && !(got[i] == 0 && want[i] == 0)) {
            if (bad++ == 0) first = "index " + std::to_string(i) + ": got " + std::to_string(double(got[i])) + ", want " +
                                    std::to_string(double(want[i]));
        }
    return bad + int(got.size() != want.size());
}

// Runs the layer over the given row splits and compares everything with the reference.
void check_case(int tokens, int K, int N, bool outliers, bool with_bias, const std::vector<int>& splits,
                uint32_t seed, int zero_row = -1, int zero_token = -1) {
    CAPTURE(tokens);
    CAPTURE(K);
    CAPTURE(N);
    CAPTURE(outliers);
    const Int8Layer l = make_layer(N, K, seed, zero_row);
    std::vector<float> x = make_inputs(tokens, K, outliers, seed + 1);
    if (zero_token >= 0)
        for (int k = 0; k < K; ++k) x[size_t(zero_token * K + k)] = 0.0f;
    const Reference r = reference(l, x.data(), tokens, kInt8OutlierThreshold, with_bias);

    fastvlm::cpu::Int8Activations a;
    fastvlm::cpu::quantize_activations_int8(x.data(), tokens, K, kInt8OutlierThreshold, a);
    CHECK(a.n_tokens == tokens);
    CHECK(a.in_features == K);
    CHECK(a.outlier_columns == r.outlier_columns);
    std::string first;
    CHECK_MESSAGE(count_mismatches(a.x_f16, r.x_f16, first) == 0, first);
    CHECK_MESSAGE(count_mismatches(a.scales, r.scales, first) == 0, first);
    CHECK_MESSAGE(count_mismatches(a.codes, r.codes, first) == 0, first);
    if (outliers && K > 3) CHECK(!a.outlier_columns.empty());
    if (!outliers) CHECK(a.outlier_columns.empty());

    const fastvlm::cpu::Int8WeightView w{l.codes.data(), l.row_scale.data(), N, K};
    std::vector<float> y(size_t(tokens) * size_t(N), -12345.0f);
    int begin = 0;
    for (int end : splits) {
        fastvlm::cpu::gemv_int8(w, with_bias ? l.bias.data() : nullptr, a, y.data(), begin, end);
        begin = end;
    }
    CHECK_MESSAGE(count_mismatches(y, r.y, first) == 0, first);
}

}  // namespace

TEST_CASE("cpu gemv int8: one token (decode) matches the reference bit for bit") {
    check_case(1, 1, 1, false, true, {1}, 11);
    check_case(1, 37, 13, false, true, {13}, 12);
    check_case(1, 37, 13, true, true, {5, 13}, 13);
    check_case(1, 64, 9, true, false, {9}, 14, 3);
    check_case(1, 896, 40, true, true, {3, 17, 40}, 15);
    check_case(1, 1000, 33, false, false, {33}, 16, 0);
}

TEST_CASE("cpu gemv int8: two and three tokens match the reference bit for bit") {
    check_case(2, 95, 21, true, true, {7, 21}, 21);
    check_case(3, 131, 19, false, true, {19}, 22, -1, 1);
    check_case(3, 64, 8, true, true, {8}, 23, 5, 2);
}

TEST_CASE("cpu gemv int8: many tokens (prefill) match the reference bit for bit") {
    check_case(4, 33, 17, true, true, {17}, 31);
    check_case(7, 259, 45, true, true, {10, 45}, 32, 44);
    check_case(13, 600, 150, true, false, {1, 130, 150}, 33, 128);
    check_case(20, 515, 37, false, true, {37}, 34, -1, 19);           // a token of zeros: scale 0
    check_case(31, 7, 300, true, true, {129, 300}, 35);
}

TEST_CASE("cpu gemv int8: a token of zeros (scale 0) next to outlier columns gives the bias") {
    check_case(2, 40, 11, true, true, {11}, 41, -1, 1);
    check_case(6, 40, 11, true, true, {11}, 42, -1, 5);
}

TEST_CASE("cpu gemv int8: infinity as threshold means no outlier columns") {
    const std::vector<float> x = {100.0f, -3.0f, 0.5f, 7.0f};
    fastvlm::cpu::Int8Activations a;
    fastvlm::cpu::quantize_activations_int8(x.data(), 1, 4, INFINITY, a);
    CHECK(a.outlier_columns.empty());
    CHECK(a.scales[0] == 100.0f);
    CHECK(a.codes == std::vector<int8_t>{127, -4, 1, 9});  // 0.5 * 1.27 = 0.635 -> 1; 7 * 1.27 = 8.89 -> 9
}

TEST_CASE("cpu gemv int8: rejects bad shapes, ranges and activations") {
    using fastvlm::cpu::Int8Activations;
    Int8Activations a;
    const std::vector<float> x(8, 1.0f);
    CHECK(test::error_of([&] { fastvlm::cpu::quantize_activations_int8(x.data(), -1, 4, 6.0f, a); }) ==
          "quantize_activations_int8: negative shape: n_tokens -1, in_features 4");
    CHECK(test::error_of([&] { fastvlm::cpu::quantize_activations_int8(x.data(), 2, 4, 0.0f, a); }) ==
          "quantize_activations_int8: outlier threshold 0 is not positive (infinity means no outlier columns)");
    CHECK(test::error_of([&] { fastvlm::cpu::quantize_activations_int8(nullptr, 2, 4, 6.0f, a); }) ==
          "quantize_activations_int8: input is null");
    fastvlm::cpu::quantize_activations_int8(x.data(), 2, 4, 6.0f, a);

    const std::vector<int8_t> codes(12, 1);
    const std::vector<float> scale(3, 1.0f);
    std::vector<float> y(6);
    fastvlm::cpu::Int8WeightView w{codes.data(), scale.data(), 3, 4};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(w, nullptr, a, y.data(), 1, 4); }) ==
          "gemv_int8: row range [1, 4) is not inside [0, 3)");
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(w, nullptr, a, y.data(), 2, 1); }) ==
          "gemv_int8: row range [2, 1) is not inside [0, 3)");
    fastvlm::cpu::Int8WeightView narrow{codes.data(), scale.data(), 4, 3};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(narrow, nullptr, a, y.data(), 0, 2); }) ==
          "gemv_int8: activations have 4 features, the weight 3");
    Int8Activations broken = a;
    broken.scales.pop_back();
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(w, nullptr, broken, y.data(), 0, 3); }) ==
          "gemv_int8: activations of 2 tokens x 4 features hold 8 codes, 8 fp16 values and 1 scales");
    broken = a;
    broken.outlier_columns = {2, 1};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(w, nullptr, broken, y.data(), 0, 3); }) ==
          "gemv_int8: outlier column 1 is out of range or out of order (in_features 4)");
    broken.outlier_columns = {4};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(w, nullptr, broken, y.data(), 0, 3); }) ==
          "gemv_int8: outlier column 4 is out of range or out of order (in_features 4)");
    fastvlm::cpu::Int8WeightView null_scales{codes.data(), nullptr, 3, 4};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(null_scales, nullptr, a, y.data(), 0, 3); }) ==
          "gemv_int8: weight codes or row scales are null");
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(w, nullptr, a, nullptr, 0, 3); }) == "gemv_int8: output is null");
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_int8(w, nullptr, a, y.data(), 1, 1); }).empty());  // empty range
}

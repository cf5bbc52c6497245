// The CPU W4A4 layer against a plain scalar reference written from the formulas of
// cuda/quant_int4.cuh and the group order of runtime/cpu/gemv_w4a4.cpp: activation codes and
// scales, and the outputs bit for bit, for the row kernel (up to 127 tokens) and the packed GEMM
// (128 or more), on awkward shapes (K odd, K not a multiple of 64, one row) and split row ranges.
#include "tests/test_util.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/quant_int4.cuh"
#include "runtime/cpu/gemv_w4a4.h"
#include "runtime/half.h"

namespace {

using namespace fastvlm::quant;

struct Int4Layer {
    int rows = 0, cols = 0, groups = 0;
    std::vector<int> codes;          // [rows, cols] in [-7, 7] (unpacked, for the reference)
    std::vector<uint8_t> packed;     // [(rows * cols + 1) / 2]
    std::vector<uint16_t> scales;    // [rows, groups] fp16 bits
    std::vector<float> bias;         // [rows] fp16 values
};

// Random codes and fp16 scales; row `zero_row` and group 0 of row `zero_group_row` are zero.
Int4Layer make_layer(int rows, int cols, uint32_t seed, int zero_row = -1, int zero_group_row = -1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    Int4Layer l;
    l.rows = rows;
    l.cols = cols;
    l.groups = int4_groups_per_row(cols);
    l.codes.resize(size_t(rows) * size_t(cols));
    l.packed.assign((size_t(rows) * size_t(cols) + 1) / 2, 0);
    l.scales.resize(size_t(rows) * size_t(l.groups));
    l.bias.resize(size_t(rows));
    for (int n = 0; n < rows; ++n) {
        for (int k = 0; k < cols; ++k) {
            int c = int(rng() % 15) - 7;
            if (n == zero_row || (n == zero_group_row && k < kInt4GroupSize)) c = 0;
            l.codes[size_t(n) * size_t(cols) + size_t(k)] = c;
        }
        for (int g = 0; g < l.groups; ++g) {
            const bool zero = n == zero_row || (n == zero_group_row && g == 0);
            l.scales[size_t(n) * size_t(l.groups) + size_t(g)] = fastvlm::float_to_fp16(zero ? 0.0f : 0.001f + 0.05f * std::fabs(u(rng)));
        }
        l.bias[size_t(n)] = round_to_fp16(0.5f * u(rng));
    }
    for (size_t i = 0; i < l.codes.size(); ++i)
        l.packed[i / 2] |= uint8_t(int4_to_nibble(l.codes[i]) << ((i & 1) ? 0 : 4));
    return l;
}

// Activations in [-3, 3]; token `zero_token` all zero, token 0's first group zero when asked.
std::vector<float> make_inputs(int tokens, int cols, uint32_t seed, int zero_token = -1, bool zero_first_group = false) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    std::vector<float> x(size_t(tokens) * size_t(cols));
    for (float& v : x) v = u(rng);
    for (int k = 0; k < cols; ++k) {
        if (zero_token >= 0) x[size_t(zero_token) * size_t(cols) + size_t(k)] = 0.0f;
        if (zero_first_group && k < kInt4GroupSize) x[size_t(k)] = 0.0f;
    }
    return x;
}

struct Reference {
    std::vector<int8_t> codes;
    std::vector<float> scales, y;
};

Reference reference(const Int4Layer& l, const std::vector<float>& x, int tokens, bool with_bias) {
    const int K = l.cols, N = l.rows, G = l.groups;
    Reference r;
    r.codes.resize(size_t(tokens) * size_t(K));
    r.scales.resize(size_t(tokens) * size_t(G));
    for (int t = 0; t < tokens; ++t)
        for (int g = 0; g < G; ++g) {
            const int k0 = g * kInt4GroupSize, k1 = std::min(K, k0 + kInt4GroupSize);
            float absmax = 0.0f;
            for (int k = k0; k < k1; ++k) absmax = std::max(absmax, std::fabs(round_to_fp16(x[size_t(t * K + k)])));
            const float scale = int4_scale(absmax);
            r.scales[size_t(t * G + g)] = scale;
            for (int k = k0; k < k1; ++k) r.codes[size_t(t * K + k)] = int8_t(int4_quantize(round_to_fp16(x[size_t(t * K + k)]), scale));
        }
    r.y.resize(size_t(tokens) * size_t(N));
    for (int t = 0; t < tokens; ++t)
        for (int n = 0; n < N; ++n) {
            float acc = 0.0f;
            for (int g = 0; g < G; ++g) {
                int32_t isum = 0;
                for (int k = g * kInt4GroupSize; k < std::min(K, (g + 1) * kInt4GroupSize); ++k)
                    isum += int32_t(r.codes[size_t(t * K + k)]) * l.codes[size_t(n) * size_t(K) + size_t(k)];
                // volatile: each product rounded on its own, never fused into the sum
                volatile float term = float(isum) * r.scales[size_t(t * G + g)];
                term = term * fastvlm::fp16_to_float(l.scales[size_t(n * G + g)]);
                acc = acc + term;
            }
            r.y[size_t(t * N + n)] = round_to_fp16(acc + (with_bias ? l.bias[size_t(n)] : 0.0f));
        }
    return r;
}

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

void check_case(int tokens, int K, int N, bool with_bias, const std::vector<int>& splits, uint32_t seed,
                int zero_row = -1, int zero_token = -1) {
    CAPTURE(tokens);
    CAPTURE(K);
    CAPTURE(N);
    const Int4Layer l = make_layer(N, K, seed, zero_row, N > 1 ? 1 : -1);
    const std::vector<float> x = make_inputs(tokens, K, seed + 1, zero_token, true);
    const Reference r = reference(l, x, tokens, with_bias);

    fastvlm::cpu::Int4Activations a;
    fastvlm::cpu::quantize_activations_int4(x.data(), tokens, K, a);
    CHECK(a.n_tokens == tokens);
    CHECK(a.in_features == K);
    CHECK(a.groups == l.groups);
    std::string first;
    CHECK_MESSAGE(count_mismatches(a.codes, r.codes, first) == 0, first);
    CHECK_MESSAGE(count_mismatches(a.scales, r.scales, first) == 0, first);

    const fastvlm::cpu::Int4WeightView w{l.packed.data(), l.scales.data(), N, K};
    std::vector<float> y(size_t(tokens) * size_t(N), -12345.0f);
    int begin = 0;
    for (int end : splits) {
        fastvlm::cpu::gemv_w4a4(w, with_bias ? l.bias.data() : nullptr, a, y.data(), begin, end);
        begin = end;
    }
    CHECK_MESSAGE(count_mismatches(y, r.y, first) == 0, first);
}

}  // namespace

TEST_CASE("cpu gemv w4a4: one token (decode) matches the reference bit for bit") {
    check_case(1, 1, 1, true, {1}, 11);
    check_case(1, 64, 8, true, {8}, 12);
    check_case(1, 128, 17, false, {3, 17}, 13, 9);       // eight-row blocks and a scalar tail
    check_case(1, 896, 40, true, {8, 13, 40}, 14, 20);
    check_case(1, 100, 19, true, {19}, 15);              // K % 64 != 0: a short last group
    check_case(1, 37, 9, true, {9}, 16);                 // K odd: rows start mid-byte
}

TEST_CASE("cpu gemv w4a4: a few tokens match the reference bit for bit") {
    check_case(2, 192, 24, true, {24}, 21, -1, 1);
    check_case(3, 130, 16, true, {5, 16}, 22);
    check_case(3, 51, 10, false, {10}, 23, 2, 2);
}

TEST_CASE("cpu gemv w4a4: many tokens (the row kernel below 128) match the reference bit for bit") {
    check_case(4, 64, 16, true, {16}, 31);
    check_case(7, 300, 45, true, {10, 45}, 32, 44, 3);
    check_case(13, 513, 150, false, {1, 130, 150}, 33, 128);
    check_case(9, 31, 21, true, {21}, 34, -1, 8);        // K odd: rows start mid-byte
    check_case(127, 896, 20, true, {20}, 35);
}

TEST_CASE("cpu gemv w4a4: prefill (the packed GEMM from 128 tokens) matches the reference bit for bit") {
    check_case(128, 64, 16, true, {16}, 41);
    check_case(130, 300, 45, true, {10, 45}, 42, 44, 3);  // several 256-deep slices, short last group
    check_case(133, 513, 150, false, {1, 130, 150}, 43, 128, 132);  // several row tiles
    check_case(129, 31, 21, true, {21}, 44, -1, 8);       // K odd: rows start mid-byte
    check_case(140, 896, 20, true, {7, 20}, 45);
}

TEST_CASE("cpu gemv w4a4: rejects bad shapes, ranges and activations") {
    using fastvlm::cpu::Int4Activations;
    Int4Activations a;
    const std::vector<float> x(8, 1.0f);
    CHECK(test::error_of([&] { fastvlm::cpu::quantize_activations_int4(x.data(), 2, -4, a); }) ==
          "quantize_activations_int4: negative shape: n_tokens 2, in_features -4");
    CHECK(test::error_of([&] { fastvlm::cpu::quantize_activations_int4(nullptr, 2, 4, a); }) ==
          "quantize_activations_int4: input is null");
    fastvlm::cpu::quantize_activations_int4(x.data(), 2, 4, a);

    const std::vector<uint8_t> codes(6, 0x11);
    const std::vector<uint16_t> scales(3, 0x3c00);
    std::vector<float> y(6);
    fastvlm::cpu::Int4WeightView w{codes.data(), scales.data(), 3, 4};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_w4a4(w, nullptr, a, y.data(), -1, 2); }) ==
          "gemv_w4a4: row range [-1, 2) is not inside [0, 3)");
    fastvlm::cpu::Int4WeightView wide{codes.data(), scales.data(), 2, 6};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_w4a4(wide, nullptr, a, y.data(), 0, 2); }) ==
          "gemv_w4a4: activations have 4 features, the weight 6");
    Int4Activations broken = a;
    broken.codes.resize(7);
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_w4a4(w, nullptr, broken, y.data(), 0, 3); }) ==
          "gemv_w4a4: activations of 2 tokens x 4 features (1 groups) hold 7 codes and 2 scales in 1 groups");
    fastvlm::cpu::Int4WeightView null_scales{codes.data(), nullptr, 3, 4};
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_w4a4(null_scales, nullptr, a, y.data(), 0, 3); }) ==
          "gemv_w4a4: weight codes or scales are null");
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_w4a4(w, nullptr, a, nullptr, 0, 3); }) == "gemv_w4a4: output is null");
}

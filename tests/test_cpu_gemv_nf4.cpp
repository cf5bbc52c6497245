// The CPU NF4 layer against a plain scalar reference written from the formulas of
// cuda/quant_nf4.cuh. Dequantized weights must match bit for bit. Outputs are sums over K in
// fp32 whose order differs between paths (and from any GPU), so they are compared with the exact
// (double) sum of the exact products within the worst-case fp32 accumulation error,
// K * 2^-23 * sum |w x|; F16 outputs must in addition be fp16 values within half an fp16 ulp
// (plus that bound) of the exact result.
#include "tests/test_util.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda/quant_nf4.cuh"
#include "runtime/cpu/gemv_nf4.h"

namespace {

using namespace fastvlm::quant;
using fastvlm::cpu::NF4Compute;

struct NF4Layer {
    int rows = 0, cols = 0;
    std::vector<int> codes;              // [rows * cols] unpacked, for the reference
    std::vector<uint8_t> packed;         // [(rows * cols + 1) / 2]
    std::vector<uint8_t> absmax_codes;   // [blocks]
    std::vector<float> nested_absmax;    // [ceil(blocks / 256)]
    std::vector<float> dynamic_map;      // [256] sorted, 0 at index 127
    float offset = 0.0f;
    std::vector<float> bias;             // [rows] fp16 values
    fastvlm::cpu::NF4WeightView view() const {
        return {packed.data(), absmax_codes.data(), nested_absmax.data(), dynamic_map.data(), offset, rows, cols};
    }
};

// Random codes and scales. Block 1 is all code 7 (level 0); with a zero offset, block 2's scale
// is exactly 0 (dynamic map entry 0).
NF4Layer make_layer(int rows, int cols, uint32_t seed, float offset) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    NF4Layer l;
    l.rows = rows;
    l.cols = cols;
    const size_t values = size_t(rows) * size_t(cols), blocks = (values + 63) / 64;
    l.codes.resize(values);
    for (size_t i = 0; i < values; ++i) l.codes[i] = (i / 64 == 1) ? 7 : int(rng() % 16);
    l.packed.assign((values + 1) / 2, 0);
    for (size_t i = 0; i < values; ++i) l.packed[i / 2] |= uint8_t(l.codes[i] << ((i & 1) ? 0 : 4));
    l.absmax_codes.resize(blocks);
    for (size_t b = 0; b < blocks; ++b) l.absmax_codes[b] = b == 2 ? 127 : uint8_t(128 + rng() % 128);
    l.nested_absmax.resize((blocks + 255) / 256);
    for (float& v : l.nested_absmax) v = 0.05f + 0.1f * std::fabs(u(rng));
    l.dynamic_map.resize(256);
    for (int i = 0; i < 256; ++i) l.dynamic_map[size_t(i)] = float(i - 127) / 128.3f;
    l.offset = offset;
    l.bias.resize(size_t(rows));
    for (float& v : l.bias) v = round_to_fp16(0.25f * u(rng));
    return l;
}

float reference_weight(const NF4Layer& l, NF4Compute compute, size_t i) {
    const size_t b = i / 64;
    const float scale = nf4_block_scale(l.absmax_codes[b], l.nested_absmax[b / 256], l.offset, l.dynamic_map.data());
    return compute == NF4Compute::F16 ? nf4_dequantize_f16(l.codes[i], scale) : nf4_dequantize_f32(l.codes[i], scale);
}

std::vector<float> make_inputs(int tokens, int cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    std::vector<float> x(size_t(tokens) * size_t(cols));
    for (float& v : x) v = u(rng);
    return x;
}

// Spacing of fp16 values around |v| (normal range; 2^-24 below it).
double fp16_ulp(double v) {
    v = std::fabs(v);
    if (v < 6.103515625e-05) return std::ldexp(1.0, -24);
    return std::ldexp(1.0, int(std::floor(std::log2(v))) - 10);
}

void check_case(NF4Compute compute, int tokens, int K, int N, bool with_bias, const std::vector<int>& splits,
                uint32_t seed, float offset = 0.0123f) {
    CAPTURE(compute == NF4Compute::F16);
    CAPTURE(tokens);
    CAPTURE(K);
    CAPTURE(N);
    const NF4Layer l = make_layer(N, K, seed, offset);
    const std::vector<float> x = make_inputs(tokens, K, seed + 1);
    std::vector<float> y(size_t(tokens) * size_t(N), -12345.0f);
    int begin = 0;
    for (int end : splits) {
        fastvlm::cpu::gemv_nf4(l.view(), compute, with_bias ? l.bias.data() : nullptr, x.data(), y.data(), tokens, begin, end);
        begin = end;
    }
    int bad = 0;
    std::string first;
    for (int t = 0; t < tokens; ++t)
        for (int n = 0; n < N; ++n) {
            double exact = with_bias ? l.bias[size_t(n)] : 0.0, magnitude = std::fabs(exact);
            for (int k = 0; k < K; ++k) {
                float xv = x[size_t(t * K + k)];
                if (compute == NF4Compute::F16) xv = round_to_fp16(xv);
                const double product = double(reference_weight(l, compute, size_t(n) * size_t(K) + size_t(k))) * xv;
                exact += product;
                magnitude += std::fabs(product);
            }
            const double bound = (K + 2) * std::ldexp(1.0, -23) * magnitude;
            const float got = y[size_t(t * N + n)];
            bool ok = std::fabs(got - exact) <= bound;
            if (compute == NF4Compute::F16)
                ok = round_to_fp16(got) == got && std::fabs(got - exact) <= 0.5 * fp16_ulp(exact) + bound;
            if (!ok && bad++ == 0)
                first = "token " + std::to_string(t) + " row " + std::to_string(n) + ": got " + std::to_string(got) +
                        ", want " + std::to_string(exact) + " within " + std::to_string(bound);
        }
    CHECK_MESSAGE(bad == 0, first);
}

void check_dequantize(NF4Compute compute, int K, int N, int row_begin, int row_end, uint32_t seed, float offset) {
    CAPTURE(compute == NF4Compute::F16);
    CAPTURE(K);
    CAPTURE(row_begin);
    CAPTURE(row_end);
    const NF4Layer l = make_layer(N, K, seed, offset);
    std::vector<float> out(size_t(row_end - row_begin) * size_t(K) + 1, -12345.0f);
    fastvlm::cpu::dequantize_nf4_rows(l.view(), compute, row_begin, row_end, out.data());
    int bad = 0;
    std::string first;
    for (size_t i = 0; i + 1 < out.size(); ++i) {
        const float want = reference_weight(l, compute, size_t(row_begin) * size_t(K) + i);
        if (std::memcmp(&out[i], &want, 4) != 0 && bad++ == 0)
            first = "value " + std::to_string(i) + ": got " + std::to_string(out[i]) + ", want " + std::to_string(want);
    }
    CHECK_MESSAGE(bad == 0, first);
    CHECK(out.back() == -12345.0f);  // nothing written past the rows
}

}  // namespace

TEST_CASE("cpu gemv nf4: dequantized rows match the reference bit for bit") {
    for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
        check_dequantize(compute, 128, 200, 0, 200, 1, 0.0123f);   // 400 blocks: two nested groups
        check_dequantize(compute, 100, 40, 3, 17, 2, 0.0123f);     // rows start inside blocks
        check_dequantize(compute, 37, 9, 0, 9, 3, 0.0f);           // odd K: rows start mid-byte; a zero scale
        check_dequantize(compute, 1, 1, 0, 1, 4, 0.0f);
        check_dequantize(compute, 896, 10, 4, 5, 5, 0.0f);
    }
}

TEST_CASE("cpu gemv nf4: a few tokens, K a multiple of 64 (register decode)") {
    for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
        check_case(compute, 1, 64, 5, true, {5}, 11, 0.0f);
        check_case(compute, 1, 896, 50, true, {7, 50}, 12);
        check_case(compute, 1, 4864, 3, false, {3}, 13);
        check_case(compute, 2, 128, 300, true, {100, 300}, 14);   // 600 blocks: three nested groups
        check_case(compute, 3, 192, 17, true, {1, 17}, 15);
        check_case(compute, 11, 64, 6, true, {6}, 16);
    }
}

TEST_CASE("cpu gemv nf4: a few tokens, blocks straddling rows (dequantize then dot)") {
    for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
        check_case(compute, 1, 1, 1, true, {1}, 21);
        check_case(compute, 1, 100, 30, true, {11, 30}, 22, 0.0f);
        check_case(compute, 3, 37, 9, false, {9}, 23);
        check_case(compute, 7, 100, 5, true, {5}, 24);
    }
}

TEST_CASE("cpu gemv nf4: many tokens (chunks of dequantized rows and the fp32 GEMM)") {
    for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
        check_case(compute, 12, 64, 9, true, {9}, 31);
        check_case(compute, 13, 300, 450, true, {70, 450}, 32, 0.0f);  // several row chunks, K % 64 != 0
        check_case(compute, 20, 896, 33, false, {33}, 33);
    }
}

TEST_CASE("cpu gemv nf4: rejects bad shapes and ranges") {
    const NF4Layer l = make_layer(4, 64, 1, 0.0f);
    std::vector<float> x(128, 1.0f), y(8);
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_nf4(l.view(), NF4Compute::F32, nullptr, x.data(), y.data(), 1, 0, 5); }) ==
          "gemv_nf4: row range [0, 5) is not inside [0, 4)");
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_nf4(l.view(), NF4Compute::F32, nullptr, x.data(), y.data(), -2, 0, 4); }) ==
          "gemv_nf4: negative token count -2");
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_nf4(l.view(), NF4Compute::F16, nullptr, nullptr, y.data(), 1, 0, 4); }) ==
          "gemv_nf4: input or output is null");
    fastvlm::cpu::NF4WeightView no_map = l.view();
    no_map.dynamic_map = nullptr;
    CHECK(test::error_of([&] { fastvlm::cpu::gemv_nf4(no_map, NF4Compute::F32, nullptr, x.data(), y.data(), 1, 0, 4); }) ==
          "gemv_nf4: weight codes, absmax codes, nested absmax or dynamic map is null");
    CHECK(test::error_of([&] { fastvlm::cpu::dequantize_nf4_rows(l.view(), NF4Compute::F32, 3, 2, y.data()); }) ==
          "dequantize_nf4_rows: row range [3, 2) is not inside [0, 4)");
    CHECK(test::error_of([&] { fastvlm::cpu::dequantize_nf4_rows(l.view(), NF4Compute::F32, 0, 1, nullptr); }) ==
          "dequantize_nf4_rows: output is null");
    fastvlm::cpu::NF4WeightView negative = l.view();
    negative.in_features = -64;
    CHECK(test::error_of([&] { fastvlm::cpu::dequantize_nf4_rows(negative, NF4Compute::F32, 0, 1, y.data()); }) ==
          "dequantize_nf4_rows: negative weight shape [4, -64]");
}

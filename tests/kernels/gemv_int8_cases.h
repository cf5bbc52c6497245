// Tests of cuda/gemv_int8.cu against its CPU twin (runtime/cpu/gemv_int8.h), compiled into the
// SIMT suite (tests/test_kernel_gemv_int8.cpp) and the GPU suite (tests/gpu/test_kernel_gemv_int8.cu).
//
// Tolerance: none. Both sides quantize with the same functions (cuda/quant_int8.cuh) and the
// integer dot product is exact, so the codes, the scale, the outlier list and the int8 part of
// every output are the same bits. The outlier terms are products of two fp16 values (exact in
// fp32) summed in ascending column order on both sides, so those outputs are the same bits too.
#pragma once
#include <algorithm>

#include "cuda/gemv_int8.cuh"
#include "cuda/matmul_int8.cuh"
#include "cuda/quant_int8.cuh"
#include "runtime/cpu/gemv_int8.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {
namespace int8_cases {

constexpr float kThreshold = fastvlm::quant::kInt8OutlierThreshold;

enum class Input {
    Plain,        // |x| <= 4: no outlier column
    Outliers,     // a few columns at |x| >= threshold, one exactly at it, one just below it
    Zero,         // all zero: SCA = 0, every code 0
    AllOutliers,  // every |x| >= threshold: SCA = 0, every column in the fp16 stream
};

// x [in] fp16 bits.
inline std::vector<uint16_t> make_input(int in, Input kind, Random& random) {
    std::vector<uint16_t> x = random.fp16(size_t(in), 4.0f);
    if (kind == Input::Zero) std::fill(x.begin(), x.end(), uint16_t(0));
    if (kind == Input::AllOutliers)
        for (auto& h : x) {
            const float v = fastvlm::fp16_to_float(h);
            h = fastvlm::float_to_fp16((v < 0 ? -kThreshold : kThreshold) + 3.0f * v);
        }
    if (kind == Input::Outliers) {
        // Spread over the row, so they land in different warps and steps of the compaction.
        for (int k = 2; k < in; k += 97) x[size_t(k)] = fastvlm::float_to_fp16(k % 2 ? -7.5f - float(k % 13) : 9.0f);
        if (in > 5) x[5] = fastvlm::float_to_fp16(-kThreshold);        // exactly at the threshold: an outlier
        if (in > 6) x[6] = fastvlm::float_to_fp16(5.99609375f);        // the fp16 value just below it: not one
        if (in > 300) x[size_t(in - 1)] = fastvlm::float_to_fp16(kThreshold);
    }
    return x;
}

struct HostWeight {
    std::vector<int8_t> codes;     // [out, in]
    std::vector<float> row_scale;  // [out]
};

// Random codes over the whole int8 range and positive row scales; row 1 is all zero (SCB 0).
inline HostWeight make_weight(int in, int out, Random& random) {
    HostWeight w;
    w.codes.resize(size_t(in) * size_t(out));
    for (auto& c : w.codes) c = int8_t(std::lround(random.uniform(127.4f)));
    w.codes[0] = 127;
    if (w.codes.size() > 1) w.codes[1] = -127;
    w.row_scale.resize(static_cast<size_t>(out));
    for (auto& s : w.row_scale) s = 1.05f + random.uniform(1.0f);
    if (out > 1) {
        std::fill(w.codes.begin() + in, w.codes.begin() + 2 * size_t(in), int8_t(0));
        w.row_scale[1] = 0.0f;
    }
    return w;
}

// The activation buffers as the device left them, read back from the workspace.
struct Downloaded {
    std::vector<int8_t> codes;  // [tokens, padded]
    std::vector<float> scales;  // [tokens]
    std::vector<int> outlier_columns;
    size_t padded = 0;
};

inline Downloaded download(const DeviceBuffer<unsigned char>& workspace, const fastvlm::gpu::Int8Activation& a) {
    const std::vector<unsigned char> bytes = workspace.download<unsigned char>();
    auto offset = [&](const void* p) { return size_t(static_cast<const unsigned char*>(p) - workspace.get()); };
    Downloaded d;
    d.padded = offset(a.scale) / size_t(a.tokens);
    d.codes.resize(offset(a.scale));
    std::memcpy(d.codes.data(), bytes.data() + offset(a.codes), d.codes.size());
    d.scales.resize(size_t(a.tokens));
    std::memcpy(d.scales.data(), bytes.data() + offset(a.scale), 4 * d.scales.size());
    int count = 0;
    std::memcpy(&count, bytes.data() + offset(a.outlier_count), 4);
    REQUIRE(count >= 0);
    REQUIRE(count <= a.in_features);
    d.outlier_columns.resize(size_t(count));
    if (count) std::memcpy(d.outlier_columns.data(), bytes.data() + offset(a.outlier_columns), 4 * size_t(count));
    return d;
}

// Runs both stages on random data of the given shape and compares them with the twin.
// w_offset > 0 shifts the weight off its 16-byte alignment (the scalar path). With several
// tokens only the last one gets `kind`'s outliers: the others must still keep those columns in
// fp16 (a column is an outlier for every token), each with its own scale.
// tensor_cores: stage 2 by matmul_int8 instead of gemv_int8 (the same bits expected).
inline void check_gemv_int8(int in, int out, bool with_bias, Input kind, int w_offset = 0, int tokens = 1,
                            bool tensor_cores = false) {
    const std::string what = std::string(tensor_cores ? "matmul_int8" : "gemv_int8") + " in " + std::to_string(in) +
                             " out " + std::to_string(out) + " input " + std::to_string(int(kind)) + " tokens " +
                             std::to_string(tokens);
    Random random(uint64_t(in) * 7919 + uint64_t(out) * 31 + uint64_t(kind));
    const HostWeight w = make_weight(in, out, random);
    std::vector<uint16_t> x;  // [tokens, in]
    for (int t = 0; t < tokens; ++t) {
        const std::vector<uint16_t> row = make_input(in, t == tokens - 1 ? kind : Input::Plain, random);
        x.insert(x.end(), row.begin(), row.end());
    }
    const std::vector<uint16_t> bias = random.fp16(size_t(out), 1.0f);  // [out]
    const std::vector<float> x_float = to_float(x), bias_float = to_float(bias);

    fastvlm::cpu::Int8Activations want_a;
    fastvlm::cpu::quantize_activations_int8(x_float.data(), tokens, in, kThreshold, want_a);
    std::vector<float> want(size_t(out) * size_t(tokens));
    const fastvlm::cpu::Int8WeightView view{w.codes.data(), w.row_scale.data(), out, in};
    fastvlm::cpu::gemv_int8(view, with_bias ? bias_float.data() : nullptr, want_a, want.data(), 0, out);

    std::vector<int8_t> shifted_codes(static_cast<size_t>(w_offset));
    shifted_codes.insert(shifted_codes.end(), w.codes.begin(), w.codes.end());
    DeviceBuffer<int8_t> d_codes(shifted_codes);
    DeviceBuffer<float> d_scale(w.row_scale);
    DeviceBuffer<__half> d_x(x), d_bias(bias), d_y(size_t(out) * size_t(tokens));
    DeviceBuffer<unsigned char> workspace(fastvlm::gpu::int8_activation_workspace_bytes(in, tokens));
    const fastvlm::gpu::Int8Activation a = fastvlm::gpu::int8_activation(workspace.get(), in, tokens);
    fastvlm::gpu::quantize_activation_int8(d_x.get(), kThreshold, a, nullptr);
    const fastvlm::gpu::Int8Weight d_w{d_codes.get() + w_offset, d_scale.get(), out, in};
    if (tensor_cores) {
        REQUIRE(fastvlm::gpu::matmul_int8_supported(d_w));
        fastvlm::gpu::matmul_int8(d_w, with_bias ? d_bias.get() : nullptr, d_x.get(), a, d_y.get(), nullptr);
    } else {
        fastvlm::gpu::gemv_int8(d_w, with_bias ? d_bias.get() : nullptr, d_x.get(), a, d_y.get(), nullptr);
    }

    // Stage 1: the same codes (0 in the padding), scales and outlier columns.
    const Downloaded got_a = download(workspace, a);
    REQUIRE(got_a.padded >= size_t(in));
    for (int t = 0; t < tokens; ++t) {
        const auto row = got_a.codes.begin() + std::ptrdiff_t(size_t(t) * got_a.padded);
        const auto want_row = want_a.codes.begin() + std::ptrdiff_t(size_t(t) * size_t(in));
        CHECK_MESSAGE(std::equal(want_row, want_row + in, row), what << ": codes of token " << t);
        CHECK_MESSAGE(std::all_of(row + in, row + std::ptrdiff_t(got_a.padded), [](int8_t c) { return c == 0; }),
                      what << ": padding of token " << t);
        CHECK_MESSAGE(got_a.scales[size_t(t)] == want_a.scales[size_t(t)],
                      what << ": scale of token " << t << " " << got_a.scales[size_t(t)] << " vs " << want_a.scales[size_t(t)]);
    }
    CHECK_MESSAGE(got_a.outlier_columns == want_a.outlier_columns, what << ": outlier columns");
    if (kind == Input::Outliers && in > 6) CHECK(!want_a.outlier_columns.empty());  // the case is what it says

    // Stage 2: the same bits.
    check_close(d_y.download<uint16_t>(), want, std::vector<float>(want.size(), 0.0f), what);
}

TEST_CASE("kernel gemv_int8: several tokens share the outlier columns and keep their own scales") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_gemv_int8(272, 9, true, Input::Outliers, 0, 3);   // vector path
        check_gemv_int8(13, 5, false, Input::Outliers, 0, 4);   // scalar path
        check_gemv_int8(80, 6, true, Input::AllOutliers, 0, 2); // every column: both tokens all in fp16
        check_gemv_int8(48, 3, true, Input::Zero, 0, 2);        // a zero token beside a plain one
        check_gemv_int8(600, 4, true, Input::Plain, 0, 5);      // no outliers: several compaction steps
    });
}

TEST_CASE("kernel matmul_int8: tensor cores give the twin's bits, outlier columns included") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_gemv_int8(16, 1, true, Input::Plain, 0, 5, true);        // one k step, one output column
        check_gemv_int8(80, 70, true, Input::Outliers, 0, 9, true);    // partial tiles, two slices
        check_gemv_int8(128, 9, false, Input::AllOutliers, 0, 3, true);  // every column in fp16: codes all 0
        check_gemv_int8(64, 8, true, Input::Zero, 0, 6, true);         // a zero token beside plain ones
    });
    check_gemv_int8(896, 72, true, Input::Outliers, 0, 37, true);      // a Qwen2 row length over a short prompt
    fastvlm::gpu::Int8Weight w{nullptr, nullptr, 4, 24};
    CHECK_FALSE(fastvlm::gpu::matmul_int8_supported(w));
}

TEST_CASE("kernel gemv_int8: matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_gemv_int8(1, 1, true, Input::Plain);         // one element
        check_gemv_int8(7, 3, false, Input::Outliers);     // shorter than one load: scalar path
        check_gemv_int8(16, 1, true, Input::Plain);        // exactly one load, one row
        check_gemv_int8(13, 5, true, Input::Outliers);     // odd sizes
        check_gemv_int8(272, 33, true, Input::Outliers);   // 17 loads per row; 33 rows: a partial block
        check_gemv_int8(48, 6, true, Input::Zero);         // SCA 0: the bias alone
        check_gemv_int8(80, 5, false, Input::AllOutliers); // every column in the fp16 stream (> 32: two steps)
        check_gemv_int8(100, 9, true, Input::AllOutliers); // the same on the scalar path
        check_gemv_int8(64, 9, true, Input::Outliers, 3);  // unaligned weight: scalar path
    });
}

TEST_CASE("kernel gemv_int8: matches the CPU twin on the Qwen2 decode shapes") {
    REQUIRE_DEVICE();
    check_gemv_int8(896, 128, true, Input::Outliers);    // k_proj, v_proj
    check_gemv_int8(896, 896, true, Input::Plain);       // q_proj
    check_gemv_int8(4864, 96, false, Input::Outliers);   // down_proj's row length (fewer rows)
}

TEST_CASE("kernel gemv_int8: rejects bad shapes and workspaces") {
    REQUIRE_DEVICE();
    DeviceBuffer<unsigned char> workspace(fastvlm::gpu::int8_activation_workspace_bytes(64) + 16);
    CHECK(fastvlm::gpu::int8_activation_workspace_bytes(64) == 64 + 16 + 16 + 4 * 64 + 64);
    CHECK(fastvlm::gpu::int8_activation_workspace_bytes(64, 5) == 5 * 64 + 32 + 16 + 4 * 64 + 64);
    CHECK(test::error_of([&] { fastvlm::gpu::int8_activation(workspace.get(), 0); }) ==
          "gemv_int8: bad shape: in_features 0, tokens 1");
    CHECK(test::error_of([&] { fastvlm::gpu::int8_activation(workspace.get(), 64, 0); }) ==
          "gemv_int8: bad shape: in_features 64, tokens 0");
    CHECK(test::error_of([&] { fastvlm::gpu::int8_activation(workspace.get() + 4, 64); }) ==
          "gemv_int8: the activation workspace must be a 16-byte aligned device buffer of 416 bytes");
    CHECK(test::error_of([&] { fastvlm::gpu::int8_activation(nullptr, 64); }) ==
          "gemv_int8: the activation workspace must be a 16-byte aligned device buffer of 416 bytes");
    CHECK(test::error_of([] { fastvlm::gpu::quantize_activation_int8(nullptr, kThreshold, {}, nullptr); }) ==
          "quantize_activation_int8: the activation buffers are not set up");
    const fastvlm::gpu::Int8Activation a = fastvlm::gpu::int8_activation(workspace.get(), 64);
    CHECK(test::error_of([&] { fastvlm::gpu::quantize_activation_int8(nullptr, 0.0f, a, nullptr); }) ==
          "quantize_activation_int8: outlier threshold 0 is not positive (infinity means no outlier columns)");
    CHECK(test::error_of([&] { fastvlm::gpu::gemv_int8({nullptr, nullptr, 0, 64}, nullptr, nullptr, a, nullptr, nullptr); }) ==
          "gemv_int8: bad shape: in_features 64, out_features 0");
    CHECK(test::error_of([&] { fastvlm::gpu::gemv_int8({nullptr, nullptr, 8, 32}, nullptr, nullptr, a, nullptr, nullptr); }) ==
          "gemv_int8: the activation has 64 features, the weight 32");
}

}  // namespace int8_cases
}  // namespace kernel_test

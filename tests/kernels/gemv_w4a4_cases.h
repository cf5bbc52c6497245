// Tests of cuda/gemv_w4a4.cu against its CPU twin (runtime/cpu/gemv_w4a4.h), compiled into the
// SIMT suite (tests/test_kernel_gemv_w4a4.cpp) and the GPU suite (tests/gpu/test_kernel_gemv_w4a4.cu).
//
// Tolerances. Stage 1 (the activation codes, scales and half-group sums) uses the same
// functions on both sides and must match exactly. In stage 2 each group's integer sum is exact
// and is scaled with the same two fp32 multiplications as in the twin; only the order in which
// the fp32 group terms are added differs (the twin goes in group order, the kernel per lane and
// then across the warp). So an output may sit one fp16 ulp from the twin's, plus a few fp32
// ulps (2^-18 relative, as the fp16 GEMV test) of the sum of the absolute group terms where
// terms cancel.
#pragma once
#include <algorithm>
#include <cmath>

#include "cuda/gemv_w4a4.cuh"
#include "cuda/quant_int4.cuh"
#include "runtime/cpu/gemv_w4a4.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {
namespace w4a4_cases {

using fastvlm::quant::kInt4GroupSize;

// The spacing of fp16 values just above |v|.
inline float fp16_ulp(float v) {
    const uint16_t h = fastvlm::float_to_fp16(std::fabs(v));
    return fastvlm::fp16_to_float(uint16_t(h + 1)) - fastvlm::fp16_to_float(h);
}

// Where value k sits in Int4Activation::codes: each run of 8 is stored evens first, then odds.
inline size_t code_position(int k) { return size_t((k & ~7) | ((k & 1) << 2) | ((k & 7) >> 1)); }

struct HostWeight {
    int out = 0, in = 0, groups = 0;
    std::vector<int> values;        // [out, in] codes in [-7, 7] (for the tolerance)
    std::vector<uint8_t> codes;     // [(out * in + 1) / 2] packed
    std::vector<uint16_t> scales;   // [out, groups] fp16 bits
};

// Random codes over the whole range; group 0 of row 0 is a zero group (codes 0, scale 0).
inline HostWeight make_weight(int in, int out, Random& random) {
    HostWeight w;
    w.out = out;
    w.in = in;
    w.groups = fastvlm::quant::int4_groups_per_row(in);
    const size_t n = size_t(in) * size_t(out);
    w.values.resize(n);
    for (auto& v : w.values) v = int(std::lround(random.uniform(7.4f)));
    w.values[0] = 7;
    if (n > 1) w.values[1] = -7;
    w.scales.resize(size_t(out) * size_t(w.groups));
    for (auto& s : w.scales) s = fastvlm::float_to_fp16(0.03f + random.uniform(0.025f));
    if (out > 1) {
        std::fill(w.values.begin(), w.values.begin() + std::min(in, kInt4GroupSize), 0);
        w.scales[0] = 0;
    }
    w.codes.assign((n + 1) / 2, 0);
    for (size_t i = 0; i < n; ++i)
        w.codes[i / 2] |= uint8_t(fastvlm::quant::int4_to_nibble(w.values[i]) << (i % 2 ? 0 : 4));
    return w;
}

// Runs both stages on random data of the given shape and compares them with the twin.
// w_offset > 0 shifts the weight off its 16-byte alignment (the scalar path). zero_group zeroes
// the first group of the first token.
inline void check_gemv_w4a4(int in, int out, bool with_bias, bool zero_group = false, int w_offset = 0,
                            int tokens = 1) {
    const std::string what =
        "gemv_w4a4 in " + std::to_string(in) + " out " + std::to_string(out) + " tokens " + std::to_string(tokens);
    Random random(uint64_t(in) * 7919 + uint64_t(out) * 13 + uint64_t(zero_group));
    const HostWeight w = make_weight(in, out, random);
    std::vector<uint16_t> x = random.fp16(size_t(in) * size_t(tokens), 2.0f);  // [tokens, in]
    if (zero_group) std::fill(x.begin(), x.begin() + std::min(in, kInt4GroupSize), uint16_t(0));
    const std::vector<uint16_t> bias = random.fp16(size_t(out), 1.0f);  // [out]
    const std::vector<float> x_float = to_float(x), bias_float = to_float(bias);

    fastvlm::cpu::Int4Activations want_a;
    fastvlm::cpu::quantize_activations_int4(x_float.data(), tokens, in, want_a);
    REQUIRE(want_a.groups == w.groups);
    const size_t groups = size_t(w.groups);
    std::vector<float> want(size_t(out) * size_t(tokens)), tolerance(want.size());
    const fastvlm::cpu::Int4WeightView view{w.codes.data(), w.scales.data(), out, in};
    fastvlm::cpu::gemv_w4a4(view, with_bias ? bias_float.data() : nullptr, want_a, want.data(), 0, out);
    for (int t = 0; t < tokens; ++t)
        for (int r = 0; r < out; ++r) {
            float magnitude = with_bias ? std::fabs(bias_float[size_t(r)]) : 0.0f;
            for (int g = 0; g < w.groups; ++g) {
                int isum = 0;
                for (int k = g * kInt4GroupSize; k < std::min(in, (g + 1) * kInt4GroupSize); ++k)
                    isum += int(want_a.codes[size_t(t) * size_t(in) + size_t(k)]) *
                            w.values[size_t(r) * size_t(in) + size_t(k)];
                magnitude += std::fabs(float(isum) * want_a.scales[size_t(t) * groups + size_t(g)] *
                                       fastvlm::fp16_to_float(w.scales[size_t(r) * groups + size_t(g)]));
            }
            const size_t i = size_t(t) * size_t(out) + size_t(r);
            tolerance[i] = fp16_ulp(want[i]) + std::ldexp(magnitude, -18);
        }

    std::vector<uint8_t> shifted_codes(static_cast<size_t>(w_offset));
    shifted_codes.insert(shifted_codes.end(), w.codes.begin(), w.codes.end());
    DeviceBuffer<uint8_t> d_codes(shifted_codes);
    DeviceBuffer<__half> d_scales(w.scales), d_x(x), d_bias(bias), d_y(want.size());
    DeviceBuffer<unsigned char> workspace(fastvlm::gpu::int4_activation_workspace_bytes(in, tokens));
    const fastvlm::gpu::Int4Activation a = fastvlm::gpu::int4_activation(workspace.get(), in, tokens);
    fastvlm::gpu::quantize_activation_int4(d_x.get(), a, nullptr);
    const fastvlm::gpu::Int4Weight d_w{d_codes.get() + w_offset, d_scales.get(), out, in};
    fastvlm::gpu::gemv_w4a4(d_w, with_bias ? d_bias.get() : nullptr, a, d_y.get(), nullptr);

    // Stage 1: the twin's codes in the dp4a order (0 past K), its scales, and the half-group sums.
    const std::vector<unsigned char> bytes = workspace.download<unsigned char>();
    auto at = [&](const void* p) { return bytes.data() + (static_cast<const unsigned char*>(p) - workspace.get()); };
    const size_t padded = groups * kInt4GroupSize;
    std::vector<int8_t> want_codes(padded * size_t(tokens), 0);
    std::vector<int> want_sums(2 * groups * size_t(tokens), 0);
    for (int t = 0; t < tokens; ++t)
        for (int k = 0; k < in; ++k) {
            const int8_t code = want_a.codes[size_t(t) * size_t(in) + size_t(k)];
            want_codes[size_t(t) * padded + size_t(code_position(k))] = code;
            want_sums[size_t(t) * 2 * groups + size_t(k / 32)] += code;
        }
    std::vector<int8_t> got_codes(want_codes.size());
    std::vector<float> got_scales(groups * size_t(tokens));
    std::vector<int> got_sums(want_sums.size());
    std::memcpy(got_codes.data(), at(a.codes), got_codes.size());
    std::memcpy(got_scales.data(), at(a.scales), 4 * got_scales.size());
    std::memcpy(got_sums.data(), at(a.sums), 4 * got_sums.size());
    CHECK_MESSAGE(got_codes == want_codes, what << ": codes");
    CHECK_MESSAGE(got_scales == want_a.scales, what << ": scales");
    CHECK_MESSAGE(got_sums == want_sums, what << ": half-group sums");
    if (zero_group) CHECK(want_a.scales[0] == 0.0f);  // the case is what it says

    check_close(d_y.download<uint16_t>(), want, tolerance, what);
}

TEST_CASE("kernel gemv_w4a4: several tokens in one launch match the twin row by row") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_gemv_w4a4(96, 5, true, true, 0, 3);    // vector path; a zero group in the first token only
        check_gemv_w4a4(100, 7, false, false, 0, 4); // scalar path
    });
}

TEST_CASE("kernel gemv_w4a4: matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_gemv_w4a4(1, 1, true);           // one value, an odd-length stream
        check_gemv_w4a4(7, 3, false);          // scalar path, rows straddle bytes
        check_gemv_w4a4(32, 1, true);          // one load: a half group alone
        check_gemv_w4a4(96, 5, true, true);    // K % 64 = 32: the last group is one load; a zero activation group
        check_gemv_w4a4(100, 9, true, true);   // scalar path, short last group
        check_gemv_w4a4(2112, 33, true);       // 66 loads per row: two steps, a partial one; 33 rows
        check_gemv_w4a4(64, 9, false, false, 3);  // unaligned weight: scalar path
        check_gemv_w4a4(129, 2, true);         // a last group of one value
    });
}

TEST_CASE("kernel gemv_w4a4: matches the CPU twin on the Qwen2 decode shapes") {
    REQUIRE_DEVICE();
    check_gemv_w4a4(896, 128, true);    // k_proj, v_proj
    check_gemv_w4a4(896, 896, true);    // q_proj
    check_gemv_w4a4(4864, 64, false);   // down_proj's row length (fewer rows)
}

TEST_CASE("kernel gemv_w4a4: rejects bad shapes and workspaces") {
    REQUIRE_DEVICE();
    DeviceBuffer<unsigned char> workspace(fastvlm::gpu::int4_activation_workspace_bytes(64) + 16);
    CHECK(test::error_of([&] { fastvlm::gpu::int4_activation(workspace.get(), -3); }) ==
          "gemv_w4a4: bad shape: in_features -3, tokens 1");
    CHECK(test::error_of([&] { fastvlm::gpu::int4_activation(workspace.get(), 64, 0); }) ==
          "gemv_w4a4: bad shape: in_features 64, tokens 0");
    CHECK(fastvlm::gpu::int4_activation_workspace_bytes(64, 3) == 3 * 64 + 16 + 3 * 8);
    CHECK(test::error_of([&] { fastvlm::gpu::int4_activation(workspace.get() + 8, 64); }) ==
          "gemv_w4a4: the activation workspace must be a 16-byte aligned device buffer of 88 bytes");
    CHECK(test::error_of([] { fastvlm::gpu::quantize_activation_int4(nullptr, {}, nullptr); }) ==
          "quantize_activation_int4: the activation buffers are not set up");
    const fastvlm::gpu::Int4Activation a = fastvlm::gpu::int4_activation(workspace.get(), 64);
    CHECK(test::error_of([&] { fastvlm::gpu::gemv_w4a4({nullptr, nullptr, 0, 64}, nullptr, a, nullptr, nullptr); }) ==
          "gemv_w4a4: bad shape: in_features 64, out_features 0");
    CHECK(test::error_of([&] { fastvlm::gpu::gemv_w4a4({nullptr, nullptr, 4, 96}, nullptr, a, nullptr, nullptr); }) ==
          "gemv_w4a4: the activation has 64 features, the weight 96");
}

}  // namespace w4a4_cases
}  // namespace kernel_test

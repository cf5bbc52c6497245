// Tests of cuda/gemv_nf4.cu against its CPU twin (runtime/cpu/gemv_nf4.h), compiled into the
// SIMT suite (tests/test_kernel_gemv_nf4.cpp) and the GPU suite (tests/gpu/test_kernel_gemv_nf4.cu).
//
// Tolerances. The dequantized weights are the same bits on both sides (the one-hot test checks
// every code, nibble position and path exactly), so only the fp32 summation order differs:
// the kernel's fp16 output may sit one fp16 ulp away from the twin's (rounded, or unrounded in
// the F32 mode), plus a few fp32 ulps (2^-18 relative, as the fp16 GEMV test) of the sum of
// the absolute terms where terms cancel.
#pragma once
#include <cmath>

#include "cuda/gemv_nf4.cuh"
#include "cuda/quant_nf4.cuh"
#include "runtime/cpu/gemv_nf4.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {
namespace nf4_cases {

using fastvlm::gpu::NF4Compute;

// The spacing of fp16 values just above |v|.
inline float fp16_ulp(float v) {
    const uint16_t h = fastvlm::float_to_fp16(std::fabs(v));
    return fastvlm::fp16_to_float(uint16_t(h + 1)) - fastvlm::fp16_to_float(h);
}

inline fastvlm::cpu::NF4Compute twin_compute(NF4Compute c) {
    return c == NF4Compute::F16 ? fastvlm::cpu::NF4Compute::F16 : fastvlm::cpu::NF4Compute::F32;
}

// An NF4 weight with random codes and scales (any bytes are a valid weight).
struct HostWeight {
    int out = 0, in = 0;
    std::vector<uint8_t> codes;          // [(out * in + 1) / 2]
    std::vector<uint8_t> absmax_codes;   // [blocks]
    std::vector<float> nested_absmax;    // [ceil(blocks / 256)]
    std::vector<float> dynamic_map;      // [256]
    float offset = 0.0f;

    fastvlm::cpu::NF4WeightView view() const {
        return {codes.data(), absmax_codes.data(), nested_absmax.data(), dynamic_map.data(), offset, out, in};
    }
};

// zero_blocks: offset 0 and every third block's absmax code points at the map's 0.0, so those
// blocks dequantize to zeros.
inline HostWeight make_weight(int in, int out, bool zero_blocks, Random& random) {
    HostWeight w;
    w.out = out;
    w.in = in;
    const int64_t n = int64_t(in) * out;
    const int64_t blocks = (n + fastvlm::quant::kNF4BlockSize - 1) / fastvlm::quant::kNF4BlockSize;
    w.codes.resize(size_t((n + 1) / 2));
    for (auto& c : w.codes) c = uint8_t(uint32_t(random.uniform(128.0f) + 128.0f) & 0xffu);
    if (n % 2) w.codes.back() &= 0xf0u;  // the pad nibble
    w.dynamic_map.resize(256);
    for (int i = 0; i < 256; ++i) w.dynamic_map[size_t(i)] = i == 255 ? 1.0f : float(i - 127) / 128.0f;
    w.absmax_codes.resize(size_t(blocks));
    for (size_t b = 0; b < w.absmax_codes.size(); ++b)
        w.absmax_codes[b] = zero_blocks && b % 3 == 0 ? uint8_t(127) : uint8_t(uint32_t(random.uniform(128.0f) + 128.0f) & 0xffu);
    w.nested_absmax.resize(size_t((blocks + 255) / 256));
    for (auto& v : w.nested_absmax) v = 0.11f + random.uniform(0.09f);
    w.offset = zero_blocks ? 0.0f : 0.0517f;
    return w;
}

struct DeviceWeight {
    DeviceBuffer<uint8_t> codes, absmax_codes;
    DeviceBuffer<float> nested_absmax, dynamic_map;
    explicit DeviceWeight(const HostWeight& w)
        : codes(w.codes), absmax_codes(w.absmax_codes), nested_absmax(w.nested_absmax), dynamic_map(w.dynamic_map) {}
    fastvlm::gpu::NF4Weight view(const HostWeight& w) const {
        return {codes.get(), absmax_codes.get(), nested_absmax.get(), dynamic_map.get(), w.offset, w.out, w.in};
    }
};

// Runs the kernel on random data of the given shape and compares with the twin.
// x_offset > 0 shifts x off its 16-byte alignment (the scalar path).
inline void check_gemv_nf4(int in, int out, NF4Compute compute, bool with_bias, bool zero_blocks = false,
                           int x_offset = 0, bool zero_x = false) {
    const std::string what = std::string("gemv_nf4 ") + (compute == NF4Compute::F16 ? "f16" : "f32") + " in " +
                             std::to_string(in) + " out " + std::to_string(out);
    Random random(uint64_t(in) * 7919 + uint64_t(out) * 17 + uint64_t(zero_blocks));
    const HostWeight w = make_weight(in, out, zero_blocks, random);
    std::vector<uint16_t> x = random.fp16(size_t(in + x_offset), 1.0f);  // [in] after x_offset
    if (zero_x) std::fill(x.begin(), x.end(), uint16_t(0));
    const std::vector<uint16_t> bias = random.fp16(size_t(out), 1.0f);  // [out]
    const std::vector<float> x_all = to_float(x), bias_float = to_float(bias);
    const std::vector<float> x_float(x_all.begin() + x_offset, x_all.end());

    std::vector<float> want(static_cast<size_t>(out)), dequantized(size_t(in) * size_t(out));
    fastvlm::cpu::gemv_nf4(w.view(), twin_compute(compute), with_bias ? bias_float.data() : nullptr, x_float.data(),
                           want.data(), 1, 0, out);
    fastvlm::cpu::dequantize_nf4_rows(w.view(), twin_compute(compute), 0, out, dequantized.data());
    std::vector<float> tolerance(static_cast<size_t>(out));
    for (int r = 0; r < out; ++r) {
        float magnitude = with_bias ? std::fabs(bias_float[size_t(r)]) : 0.0f;
        for (int k = 0; k < in; ++k)
            magnitude += std::fabs(dequantized[size_t(r) * size_t(in) + size_t(k)] * x_float[size_t(k)]);
        tolerance[size_t(r)] = fp16_ulp(want[size_t(r)]) + std::ldexp(magnitude, -18);
    }

    const DeviceWeight d_w(w);
    DeviceBuffer<__half> d_x(x), d_bias(bias), d_y(static_cast<size_t>(out));
    fastvlm::gpu::gemv_nf4(d_w.view(w), compute, with_bias ? d_bias.get() : nullptr, d_x.get() + x_offset, d_y.get(),
                           nullptr);
    check_close(d_y.download<uint16_t>(), want, tolerance, what);
}

// x = e_k for every k: each output is one dequantized weight, so the kernel's dequantization
// (the shared-memory levels and __hmul2 on the vector path, the format functions on the scalar
// path) must give the twin's bits exactly, for every code in both nibble positions.
inline void check_one_hot(int in, int out, NF4Compute compute) {
    Random random(uint64_t(in) * 131 + uint64_t(out));
    const HostWeight w = make_weight(in, out, false, random);
    bool seen[2][16] = {};  // [low/high nibble][code]
    for (int64_t i = 0; i < int64_t(in) * out; ++i) seen[i % 2 == 0][fastvlm::quant::nf4_code_at(w.codes.data(), i)] = true;
    bool all_seen = true;
    for (const auto& position : seen)
        for (bool s : position) all_seen = all_seen && s;
    if (in * out >= 1024) REQUIRE(all_seen);  // the large case does cover every code in both positions
    const DeviceWeight d_w(w);
    DeviceBuffer<__half> d_y(static_cast<size_t>(out));
    for (int k = 0; k < in; ++k) {
        std::vector<float> x_float(size_t(in), 0.0f);
        x_float[size_t(k)] = 1.0f;
        std::vector<uint16_t> x(size_t(in), 0);
        x[size_t(k)] = fastvlm::float_to_fp16(1.0f);
        std::vector<float> want(static_cast<size_t>(out));
        fastvlm::cpu::gemv_nf4(w.view(), twin_compute(compute), nullptr, x_float.data(), want.data(), 1, 0, out);
        for (auto& v : want) v = fastvlm::fp16_to_float(fastvlm::float_to_fp16(v));  // the kernel writes fp16
        DeviceBuffer<__half> d_x(x);
        fastvlm::gpu::gemv_nf4(d_w.view(w), compute, nullptr, d_x.get(), d_y.get(), nullptr);
        check_close(d_y.download<uint16_t>(), want, std::vector<float>(size_t(out), 0.0f),
                    "gemv_nf4 one-hot k " + std::to_string(k) + " in " + std::to_string(in));
    }
}

TEST_CASE("kernel gemv_nf4: dequantizes every code exactly as the CPU twin") {
    REQUIRE_DEVICE();
    for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
        check_one_hot(64, 16, compute);  // vector path: 16 rows x 64 codes cover all 16 codes in both nibbles
        check_one_hot(37, 5, compute);   // scalar path, blocks straddling rows
    }
}

TEST_CASE("kernel gemv_nf4: matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
            check_gemv_nf4(1, 1, compute, true);              // one value, an odd-length stream
            check_gemv_nf4(7, 3, compute, false);             // scalar path, blocks straddle rows
            check_gemv_nf4(32, 1, compute, true);             // exactly one load, one row
            check_gemv_nf4(96, 5, compute, true);             // K % 64 = 32: loads alternate between block halves
            check_gemv_nf4(100, 9, compute, true, true);      // scalar path with all-zero blocks
            check_gemv_nf4(1056, 33, compute, true);          // 33 loads per row; 33 rows: a partial block
            check_gemv_nf4(160, 6, compute, false, true);     // vector path with all-zero blocks
            check_gemv_nf4(64, 9, compute, true, false, 3);   // x not 16-byte aligned: scalar path
            check_gemv_nf4(64, 4, compute, true, false, 0, true);  // x all zero: the bias alone
        }
    });
}

TEST_CASE("kernel gemv_nf4: matches the CPU twin on the Qwen2 decode shapes") {
    REQUIRE_DEVICE();
    for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
        check_gemv_nf4(896, 128, compute, true);    // k_proj, v_proj: 1792 blocks, 7 nested groups
        check_gemv_nf4(896, 896, compute, true);    // q_proj
        check_gemv_nf4(4864, 64, compute, false);   // down_proj's row length (fewer rows)
    }
}

TEST_CASE("kernel gemv_nf4: rejects bad shapes and missing tensors") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] { fastvlm::gpu::gemv_nf4({}, NF4Compute::F32, nullptr, nullptr, nullptr, nullptr); }) ==
          "gemv_nf4: bad shape: in_features 0, out_features 0");
    fastvlm::gpu::NF4Weight w;
    w.in_features = 64;
    w.out_features = 2;
    CHECK(test::error_of([&] { fastvlm::gpu::gemv_nf4(w, NF4Compute::F16, nullptr, nullptr, nullptr, nullptr); }) ==
          "gemv_nf4: the weight is missing its codes, absmax codes, nested absmax or dynamic map");
}

}  // namespace nf4_cases
}  // namespace kernel_test

// Tests of cuda/gemv_nf4.cu against its CPU twin (runtime/cpu/gemv_nf4.h), compiled into the
// SIMT suite (tests/test_kernel_gemv_nf4.cpp) and the GPU suite (tests/gpu/test_kernel_gemv_nf4.cu).
//
// Tolerances. The dequantized weights are the same bits on both sides (the one-hot test checks
// every code, nibble position and path exactly), so only the fp32 summation order differs: a few
// fp32 ulps (2^-18 relative, as the fp16 GEMV test) of the sum of the absolute terms where terms
// cancel, and in W4A16 one fp16 ulp where the two sums round to neighbouring fp16 values.
#pragma once
#include <cmath>
#include <tuple>

#include "cuda/gemv_nf4.cuh"
#include "cuda/quant_nf4.cuh"
#include "runtime/cpu/gemv_nf4.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {
namespace nf4_cases {

// The kernel's two modes, each with its activation precision: W4A32 (fp32 in and out) and W4A16.
enum class NF4Compute { F32, F16 };

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

// The kernel in `compute`'s mode on fp32 host data: x [tokens, in] (fp16 values in W4A16), the
// result widened to fp32.
inline std::vector<float> run_kernel(const DeviceWeight& d_w, const HostWeight& w, NF4Compute compute,
                                     const float* bias, const std::vector<float>& x, int tokens, int x_offset = 0) {
    const size_t out = size_t(w.out) * size_t(tokens);
    const fastvlm::gpu::NF4Weight view = d_w.view(w);
    if (compute == NF4Compute::F32) {
        std::vector<float> padded(size_t(x_offset), 0.0f);
        padded.insert(padded.end(), x.begin(), x.end());
        DeviceBuffer<float> d_x(padded), d_y(out);
        DeviceBuffer<float> d_bias(bias ? std::vector<float>(bias, bias + w.out) : std::vector<float>(1));
        fastvlm::gpu::gemv_nf4_w4a32(view, bias ? d_bias.get() : nullptr, d_x.get() + x_offset, d_y.get(), tokens,
                                     nullptr);
        return d_y.download<float>();
    }
    std::vector<uint16_t> x16(size_t(x_offset), 0), bias16;
    for (float v : x) x16.push_back(fastvlm::float_to_fp16(v));
    if (bias)
        for (int r = 0; r < w.out; ++r) bias16.push_back(fastvlm::float_to_fp16(bias[r]));
    else
        bias16.push_back(0);
    DeviceBuffer<__half> d_x(x16), d_bias(bias16), d_y(out);
    fastvlm::gpu::gemv_nf4_w4a16(view, bias ? d_bias.get() : nullptr, d_x.get() + x_offset, d_y.get(), tokens,
                                 nullptr);
    return to_float(d_y.download<uint16_t>());
}

// Runs the kernel on random data of the given shape and compares with the twin.
// x_offset > 0 shifts x off its 16-byte alignment (the scalar path).
inline void check_gemv_nf4(int in, int out, NF4Compute compute, bool with_bias, bool zero_blocks = false,
                           int x_offset = 0, bool zero_x = false, int tokens = 1) {
    const std::string what = std::string("gemv_nf4 ") + (compute == NF4Compute::F16 ? "w4a16" : "w4a32") + " in " +
                             std::to_string(in) + " out " + std::to_string(out) + " tokens " + std::to_string(tokens);
    Random random(uint64_t(in) * 7919 + uint64_t(out) * 17 + uint64_t(zero_blocks));
    const HostWeight w = make_weight(in, out, zero_blocks, random);
    // fp16 values (both modes can take them exactly); W4A32 also gets full fp32 ones.
    std::vector<float> x = to_float(random.fp16(size_t(in) * size_t(tokens), 1.0f));  // [tokens, in]
    if (compute == NF4Compute::F32)
        for (float& v : x) v += random.uniform(1e-3f);
    if (zero_x) std::fill(x.begin(), x.end(), 0.0f);
    const std::vector<float> bias = to_float(random.fp16(size_t(out), 1.0f));  // [out]

    std::vector<float> want(size_t(out) * size_t(tokens)), dequantized(size_t(in) * size_t(out));
    fastvlm::cpu::gemv_nf4(w.view(), twin_compute(compute), with_bias ? bias.data() : nullptr, x.data(), want.data(),
                           tokens, 0, out);
    fastvlm::cpu::dequantize_nf4_rows(w.view(), twin_compute(compute), 0, out, dequantized.data());
    std::vector<float> tolerance(want.size());
    for (int t = 0; t < tokens; ++t)
        for (int r = 0; r < out; ++r) {
            float magnitude = with_bias ? std::fabs(bias[size_t(r)]) : 0.0f;
            for (int k = 0; k < in; ++k)
                magnitude += std::fabs(dequantized[size_t(r) * size_t(in) + size_t(k)] * x[size_t(t) * size_t(in) + size_t(k)]);
            const float want_tr = want[size_t(t) * size_t(out) + size_t(r)];
            tolerance[size_t(t) * size_t(out) + size_t(r)] =
                (compute == NF4Compute::F16 ? fp16_ulp(want_tr) : 0.0f) + std::ldexp(magnitude, -18);
        }

    const DeviceWeight d_w(w);
    check_close_f32(run_kernel(d_w, w, compute, with_bias ? bias.data() : nullptr, x, tokens, x_offset), want, tolerance,
                 what);
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
    for (int k = 0; k < in; ++k) {
        std::vector<float> x(size_t(in), 0.0f);
        x[size_t(k)] = 1.0f;
        std::vector<float> want(static_cast<size_t>(out));
        fastvlm::cpu::gemv_nf4(w.view(), twin_compute(compute), nullptr, x.data(), want.data(), 1, 0, out);
        check_close_f32(run_kernel(d_w, w, compute, nullptr, x, 1), want, std::vector<float>(size_t(out), 0.0f),
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

TEST_CASE("kernel gemv_nf4: several tokens in one launch match the twin row by row") {
    REQUIRE_DEVICE();
    run_checked([] {
        for (NF4Compute compute : {NF4Compute::F32, NF4Compute::F16}) {
            check_gemv_nf4(96, 5, compute, true, false, 0, false, 3);   // vector path
            check_gemv_nf4(100, 7, compute, false, true, 0, false, 4);  // scalar path, rows straddling blocks
        }
    });
}

TEST_CASE("kernel dequantize_nf4_f16: every weight as the W4A16 twin sees it, bit for bit") {
    REQUIRE_DEVICE();
    run_checked([] {
        for (const auto& [in, out, zero] : {std::tuple{100, 9, true}, std::tuple{96, 5, false}, std::tuple{7, 3, false}}) {
            Random random(uint64_t(in) * 31 + uint64_t(out));
            const HostWeight w = make_weight(in, out, zero, random);
            std::vector<float> want(size_t(in) * size_t(out));
            fastvlm::cpu::dequantize_nf4_rows(w.view(), fastvlm::cpu::NF4Compute::F16, 0, out, want.data());
            const DeviceWeight d_w(w);
            // Rows [1, out - 1): a slab that starts and ends inside 64-value blocks.
            const int first = 1, last = out - 1;
            DeviceBuffer<__half> d_out(size_t(last - first) * size_t(in));
            fastvlm::gpu::dequantize_nf4_f16(d_w.view(w), first, last, d_out.get(), nullptr);
            const std::vector<float> got = to_float(d_out.download<uint16_t>());
            const std::vector<float> slab(want.begin() + std::ptrdiff_t(size_t(first) * in),
                                          want.begin() + std::ptrdiff_t(size_t(last) * in));
            check_close_f32(got, slab, std::vector<float>(slab.size(), 0.0f),
                            "dequantize_nf4_f16 in " + std::to_string(in) + " out " + std::to_string(out));
        }
    });
    fastvlm::gpu::NF4Weight w;
    w.in_features = 64;
    w.out_features = 2;
    CHECK(test::error_of([&] { fastvlm::gpu::dequantize_nf4_f16(w, 1, 3, nullptr, nullptr); }) ==
          "dequantize_nf4_f16: bad rows [1, 3) of 2 (in_features 64)");
}

TEST_CASE("kernel gemv_nf4: rejects bad shapes and missing tensors") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] { fastvlm::gpu::gemv_nf4_w4a32({}, nullptr, nullptr, nullptr, 1, nullptr); }) ==
          "gemv_nf4: bad shape: in_features 0, out_features 0, tokens 1");
    fastvlm::gpu::NF4Weight w;
    w.in_features = 64;
    w.out_features = 2;
    CHECK(test::error_of([&] { fastvlm::gpu::gemv_nf4_w4a16(w, nullptr, nullptr, nullptr, -1, nullptr); }) ==
          "gemv_nf4: bad shape: in_features 64, out_features 2, tokens -1");
    CHECK(test::error_of([&] { fastvlm::gpu::gemv_nf4_w4a16(w, nullptr, nullptr, nullptr, 1, nullptr); }) ==
          "gemv_nf4: the weight is missing its codes, absmax codes, nested absmax or dynamic map");
}

}  // namespace nf4_cases
}  // namespace kernel_test

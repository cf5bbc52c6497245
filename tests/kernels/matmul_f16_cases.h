// Tests of cuda/matmul_f16.cu (tensor cores) against its CPU twin, the CPU backend's GEMM
// (runtime/cpu/matmul.h, gemm_serial) on the same fp16 values, compiled into the SIMT suite
// (tests/test_kernel_matmul_f16.cpp) and the GPU suite (tests/gpu/test_kernel_matmul_f16.cu).
// Products of two fp16 values are exact in fp32: only the summation order differs.
#pragma once
// The CPU side first (see matmul_cases.h).
#include "runtime/cpu/matmul.h"

#include "tests/kernels/dense_kernel_test.h"

#include "cuda/matmul_f16.cuh"

namespace kernel_test {
namespace matmul_f16_cases {

using fastvlm::Activation;
using fastvlm::DType;

// Runs the kernel on random fp16 data and compares with the twin.
inline void check_matmul_f16(int m, int n, int k, bool with_bias, Activation act) {
    Random random(uint64_t(m) * 7001 + uint64_t(n) * 131 + uint64_t(k));
    const StoredWeights x = random_weights(random, size_t(m) * size_t(k), DType::F16, 1.0f);  // [m, k]
    const StoredWeights w = random_weights(random, size_t(n) * size_t(k), DType::F16, 1.0f);  // [n, k]
    const std::vector<float> bias = random_floats(random, size_t(n), 1.0f);
    const float* bias_ptr = with_bias ? bias.data() : nullptr;

    std::vector<float> want(size_t(m) * size_t(n));
    fastvlm::cpu::GemmArgs g;
    g.m = m, g.n = n, g.k = k;
    g.a = x.values.data(), g.lda = k;
    g.b = w.bytes.data(), g.b_dtype = DType::F16, g.ldb = k;
    g.bias = bias_ptr;
    g.c = want.data(), g.ldc = n;
    g.act = act;
    fastvlm::cpu::gemm_serial(g);
    std::vector<float> tolerance(want.size());
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double magnitude = with_bias ? std::fabs(double(bias[size_t(j)])) : 0.0;
            for (int t = 0; t < k; ++t)
                magnitude += std::fabs(double(x.values[size_t(i) * size_t(k) + size_t(t)]) *
                                       double(w.values[size_t(j) * size_t(k) + size_t(t)]));
            tolerance[size_t(i) * size_t(n) + size_t(j)] = dense_tolerance(magnitude);
        }

    DeviceBuffer<uint8_t> d_x(x.bytes), d_w(w.bytes);
    DeviceBuffer<float> d_bias(bias), d_y(want.size());
    const auto* xh = reinterpret_cast<const __half*>(d_x.get());
    const auto* wh = reinterpret_cast<const __half*>(d_w.get());
    REQUIRE(fastvlm::gpu::matmul_f16_supported(xh, wh, k));
    fastvlm::gpu::matmul_f16(xh, wh, with_bias ? d_bias.get() : nullptr, d_y.get(), m, n, k, act, nullptr);
    check_close_f32(d_y.download<float>(), want, tolerance,
                    "matmul_f16 m " + std::to_string(m) + " n " + std::to_string(n) + " k " + std::to_string(k) +
                        (with_bias ? " bias " : " ") + activation_name(act));
}

TEST_CASE("kernel matmul_f16: tensor-core GEMM matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_matmul_f16(1, 1, 8, true, Activation::None);        // one output: 63 rows and columns zero-filled
        check_matmul_f16(16, 8, 16, false, Activation::None);     // one mma tile
        check_matmul_f16(70, 72, 40, true, Activation::GELU);     // partial tiles; the last slice one chunk deep
        check_matmul_f16(64, 64, 96, false, Activation::ReLU);    // whole tiles, three slices (stages reused)
        check_matmul_f16(5, 130, 64, true, Activation::Sigmoid);  // a short prompt, three column blocks
        check_matmul_f16(9, 7, 0, true, Activation::GELU);        // k = 0: act(bias)
    });
}

TEST_CASE("kernel matmul_f16: a slab of weight rows fills a slab of output columns (ldy)") {
    REQUIRE_DEVICE();
    // y [m, 24] from two products of 16 and 8 weight rows; each must land in its own columns.
    const int m = 9, k = 16, n = 24;
    Random random(77);
    const StoredWeights x = random_weights(random, size_t(m) * k, DType::F16, 1.0f);
    const StoredWeights w = random_weights(random, size_t(n) * k, DType::F16, 1.0f);
    std::vector<float> want(size_t(m) * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int t = 0; t < k; ++t) sum += double(x.values[size_t(i) * k + t]) * double(w.values[size_t(j) * k + t]);
            want[size_t(i) * n + j] = float(sum);
        }
    DeviceBuffer<uint8_t> d_x(x.bytes), d_w(w.bytes);
    DeviceBuffer<float> d_y(want.size());
    const auto* xh = reinterpret_cast<const __half*>(d_x.get());
    const auto* wh = reinterpret_cast<const __half*>(d_w.get());
    fastvlm::gpu::matmul_f16(xh, wh, nullptr, d_y.get(), m, 16, k, Activation::None, nullptr, n);
    fastvlm::gpu::matmul_f16(xh, wh + 16 * k, nullptr, d_y.get() + 16, m, 8, k, Activation::None, nullptr, n);
    check_close_f32(d_y.download<float>(), want, std::vector<float>(want.size(), 1e-4f), "matmul_f16 slabs");
}

TEST_CASE("kernel matmul_f16: matches the CPU twin on a Qwen2 prefill shape") {
    REQUIRE_DEVICE();
    check_matmul_f16(37, 128, 896, true, Activation::None);  // k_proj over a 37-token prompt
}

TEST_CASE("kernel matmul_f16: rejects what it cannot take") {
    REQUIRE_DEVICE();
    DeviceBuffer<__half> buffer(64);
    const __half* p = buffer.get();
    CHECK_FALSE(fastvlm::gpu::matmul_f16_supported(p, p, 12));
    CHECK_FALSE(fastvlm::gpu::matmul_f16_supported(p + 1, p, 16));
    CHECK(test::error_of([&] { fastvlm::gpu::matmul_f16(p, p, nullptr, nullptr, 2, 2, 12, Activation::None, nullptr); }) ==
          "matmul_f16: needs k % 8 == 0 and 16-byte aligned x and w (k 12)");
    CHECK(test::error_of([&] { fastvlm::gpu::matmul_f16(p, p, nullptr, nullptr, -2, 2, 8, Activation::None, nullptr); }) ==
          "matmul_f16: bad shape: m -2, n 2, k 8, ldy 2");
    CHECK(test::error_of([&] { fastvlm::gpu::matmul_f16(p, p, nullptr, nullptr, 2, 4, 8, Activation::None, nullptr, 3); }) ==
          "matmul_f16: bad shape: m 2, n 4, k 8, ldy 3");
    CHECK(test::error_of([&] { fastvlm::gpu::matmul_f16(p, p, nullptr, nullptr, 0, 2, 8, Activation::None, nullptr); }) == "");
}

}  // namespace matmul_f16_cases
}  // namespace kernel_test

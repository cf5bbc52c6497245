// Tests of cuda/matmul.cu against its CPU twins (runtime/cpu/matmul.h: gemv_widen, as the CPU
// backend runs a token, for the GEMV path; gemm_serial for the tiled GEMM), compiled into the
// SIMT suite (tests/test_kernel_matmul.cpp) and the GPU suite (tests/gpu/test_kernel_matmul.cu).
#pragma once
// The CPU side first (twins, helpers): their standard headers (<thread>, <functional>) must not
// see the SIMT runtime's __noinline__ macro, which cuda/common.cuh brings in.
#include "runtime/cpu/matmul.h"
#include "runtime/cpu/vec_math.h"

#include "tests/kernels/dense_kernel_test.h"

#include "cuda/matmul.cuh"

namespace kernel_test {

using fastvlm::Activation;
using fastvlm::DType;

// The CPU backend's product: y [m, n] = act(x [m, k] w [n, k]^T + bias).
inline std::vector<float> matmul_twin(const std::vector<float>& x, const StoredWeights& w, DType dtype,
                                      const float* bias, int m, int n, int k, Activation act) {
    std::vector<float> y(size_t(m) * size_t(n));
    if (m <= 4) {
        for (int i = 0; i < m; ++i) {
            float* y_row = y.data() + size_t(i) * size_t(n);
            fastvlm::cpu::gemv_widen(w.bytes.data(), dtype, x.data() + size_t(i) * size_t(k), y_row, k, 0, n);
            for (int j = 0; j < n; ++j) y_row[j] = fastvlm::cpu::activate_scalar(y_row[j] + (bias ? bias[j] : 0.0f), act);
        }
        return y;
    }
    fastvlm::cpu::GemmArgs g;
    g.m = m, g.n = n, g.k = k;
    g.a = x.data(), g.lda = k;
    g.b = w.bytes.data(), g.b_dtype = dtype, g.ldb = k;
    g.bias = bias;
    g.c = y.data(), g.ldc = n;
    g.act = act;
    fastvlm::cpu::gemm_serial(g);
    return y;
}

// Runs the kernel on random data and compares with the twin. offset > 0 shifts x and y off
// their 16-byte alignment (the scalar loads and stores).
inline void check_matmul(int m, int n, int k, DType dtype, bool with_bias, Activation act, int offset = 0) {
    Random random(uint64_t(m) * 1000003 + uint64_t(n) * 1009 + uint64_t(k));
    const std::vector<float> x_all = random_floats(random, size_t(m) * size_t(k) + size_t(offset), 1.0f);  // [m, k] after offset
    const std::vector<float> x(x_all.begin() + offset, x_all.end());
    const StoredWeights w = random_weights(random, size_t(n) * size_t(k), dtype, 1.0f);  // [n, k]
    const std::vector<float> bias = random_floats(random, size_t(n), 1.0f);             // [n]
    const float* bias_ptr = with_bias ? bias.data() : nullptr;

    const std::vector<float> want = matmul_twin(x, w, dtype, bias_ptr, m, n, k, act);
    std::vector<float> tolerance(want.size());
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double magnitude = with_bias ? std::fabs(double(bias[size_t(j)])) : 0.0;
            for (int t = 0; t < k; ++t)
                magnitude += std::fabs(double(x[size_t(i) * size_t(k) + size_t(t)]) *
                                       double(w.values[size_t(j) * size_t(k) + size_t(t)]));
            tolerance[size_t(i) * size_t(n) + size_t(j)] = dense_tolerance(magnitude);
        }

    DeviceBuffer<float> d_x(x_all), d_bias(bias), d_y(want.size() + size_t(offset));
    DeviceBuffer<uint8_t> d_w(w.bytes);
    fastvlm::gpu::matmul(d_x.get() + offset, d_w.get(), dtype, with_bias ? d_bias.get() : nullptr,
                         d_y.get() + offset, m, n, k, act, nullptr);
    std::vector<float> got = d_y.download<float>();
    got.erase(got.begin(), got.begin() + offset);
    check_close_f32(got, want, tolerance,
                    "matmul m " + std::to_string(m) + " n " + std::to_string(n) + " k " + std::to_string(k) + " " +
                        fastvlm::dtype_name(dtype) + (with_bias ? " bias " : " ") + activation_name(act) +
                        (offset ? " offset " + std::to_string(offset) : std::string()));
}

TEST_CASE("kernel matmul: GEMV path (m <= 4) matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_matmul(1, 1, 1, DType::F32, true, Activation::None);       // one element
        check_matmul(1, 13, 7, DType::F16, false, Activation::GELU);     // k % 8 != 0: scalar loads
        check_matmul(2, 13, 16, DType::BF16, true, Activation::ReLU);    // 128-bit loads, two per row
        check_matmul(3, 130, 136, DType::F16, true, Activation::Sigmoid);  // 130 rows: a partial block
        check_matmul(4, 5, 264, DType::F32, false, Activation::GELU);    // 33 chunks: lane 0 takes two
        check_matmul(3, 9, 130, DType::BF16, true, Activation::None);    // long scalar rows
        check_matmul(2, 9, 64, DType::F32, true, Activation::ReLU, 1);   // x unaligned: scalar loads
        check_matmul(2, 5, 0, DType::F16, true, Activation::GELU);       // k = 0: act(bias)
    });
}

TEST_CASE("kernel matmul: tiled GEMM (m > 4) matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_matmul(5, 1, 1, DType::F32, true, Activation::None);         // one column, one k
        check_matmul(5, 13, 17, DType::F16, true, Activation::GELU);       // one partial tile; the last k slice one deep
        check_matmul(67, 130, 130, DType::BF16, true, Activation::ReLU);   // partial tiles on m and n, scalar loads
        check_matmul(67, 130, 132, DType::F16, false, Activation::Sigmoid);  // vector loads, a partial k slice, scalar stores
        check_matmul(70, 64, 64, DType::F32, true, Activation::GELU);      // vector loads and float4 stores
        check_matmul(66, 128, 20, DType::BF16, false, Activation::None);   // vector loads, k shorter than two slices
        check_matmul(6, 8, 8, DType::F32, false, Activation::ReLU, 2);     // x and y unaligned
        check_matmul(33, 65, 0, DType::BF16, true, Activation::Sigmoid);   // k = 0: act(bias)
    });
}

TEST_CASE("kernel matmul: matches the CPU twin on model-like shapes") {
    REQUIRE_DEVICE();
    check_matmul(1, 896, 896, DType::F16, true, Activation::None);    // Qwen2 q_proj, one token
    check_matmul(4, 128, 896, DType::BF16, true, Activation::None);   // k_proj, four tokens
    check_matmul(100, 192, 96, DType::F32, true, Activation::GELU);   // a ConvFFN fc1 of 100 vision tokens
}

TEST_CASE("kernel matmul: empty shapes do nothing") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] { fastvlm::gpu::matmul(nullptr, nullptr, DType::F32, nullptr, nullptr, 0, 5, 3, Activation::None, nullptr); }) == "");
    CHECK(test::error_of([] { fastvlm::gpu::matmul(nullptr, nullptr, DType::F16, nullptr, nullptr, 7, 0, 3, Activation::None, nullptr); }) == "");
}

TEST_CASE("kernel matmul: rejects bad arguments") {
    REQUIRE_DEVICE();
    DeviceBuffer<float> buffer(64);
    float* p = buffer.get();
    CHECK(test::error_of([&] { fastvlm::gpu::matmul(p, p, DType::F32, nullptr, p, -1, 2, 3, Activation::None, nullptr); }) ==
          "matmul: bad shape: m -1, n 2, k 3");
    CHECK(test::error_of([&] { fastvlm::gpu::matmul(p, p, DType::I8, nullptr, p + 8, 2, 2, 3, Activation::None, nullptr); }) ==
          "matmul: weight has dtype I8 (expected F32, F16 or BF16)");
    CHECK(test::error_of([&] { fastvlm::gpu::matmul(p, nullptr, DType::F16, nullptr, p + 8, 2, 2, 3, Activation::None, nullptr); }) ==
          "matmul: null pointer among x, w, y");
    CHECK(test::error_of([&] { fastvlm::gpu::matmul(p, p + 16, DType::F32, nullptr, p, 5, 2, 3, Activation::None, nullptr); }) ==
          "matmul: output aliases the input");
    CHECK(test::error_of([&] { fastvlm::gpu::matmul(p, p, DType::F32, nullptr, p + 8, 5000000, 1, 1, Activation::None, nullptr); }) ==
          "matmul: m 5000000 is more than the 4194240 rows one launch covers");
}

}  // namespace kernel_test

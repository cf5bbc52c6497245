// Tests of cuda/layernorm.cu against the CPU backend's layernorm, compiled into the SIMT suite
// (tests/test_kernel_layernorm.cpp) and the GPU suite (tests/gpu/test_kernel_layernorm.cu).
#pragma once
// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/layernorm.cuh"

namespace kernel_test {

// offset shifts the rows' mean away from zero, where the two-pass variance matters.
inline void check_layernorm(int rows, int cols, fastvlm::DType dtype, bool in_place, float offset = 0.0f) {
    Random random(uint64_t(rows) * 23 + uint64_t(cols) + uint64_t(dtype));
    const size_t n = size_t(rows) * size_t(cols);
    const float eps = 1e-5f;
    const std::vector<float> x = random_floats(random, n, 2.0f, offset);
    const std::vector<uint8_t> weight = encode(random_floats(random, size_t(cols), 1.0f, 1.0f), dtype);
    const std::vector<uint8_t> bias = encode(random_floats(random, size_t(cols), 0.5f), dtype);
    fastvlm::Tensor ref_weight = host_tensor(weight, dtype, {cols}), ref_bias = host_tensor(bias, dtype, {cols});
    fastvlm::Tensor ref_y = reference_backend().alloc(fastvlm::DType::F32, {rows, cols});
    reference_backend().layernorm(ref_y, host_tensor(x, {rows, cols}), ref_weight, ref_bias, eps);
    const std::vector<float> want = host_values(ref_y), w = host_values(ref_weight), b = host_values(ref_bias);

    // Both sides sum cols fp32 terms for the mean and for the variance, in different orders (the
    // CPU in sequence, the kernel in a tree): a sum is off by at most cols ulps of the sum of
    // magnitudes, which moves z = (x - mean) / std by cols 2^-24 (mean |x| / std + |z|); the
    // last products and the bias add a few ulps of the output.
    std::vector<float> tolerance(n);
    for (int r = 0; r < rows; ++r) {
        const float* xr = x.data() + size_t(r) * size_t(cols);
        double sum = 0.0, sum_abs = 0.0, sum_sq = 0.0;
        for (int c = 0; c < cols; ++c) sum += xr[c], sum_abs += std::fabs(xr[c]);
        const double mean = sum / cols;
        for (int c = 0; c < cols; ++c) sum_sq += (xr[c] - mean) * (xr[c] - mean);
        const double std_dev = std::sqrt(sum_sq / cols + eps);
        for (int c = 0; c < cols; ++c) {
            const size_t i = size_t(r) * size_t(cols) + size_t(c);
            const double z = (xr[c] - mean) / std_dev;
            tolerance[i] = float(std::ldexp(double(cols + 8), -24) * std::fabs(w[size_t(c)]) *
                                     (sum_abs / cols / std_dev + std::fabs(z)) +
                                 std::ldexp(std::fabs(want[i]) + std::fabs(b[size_t(c)]), -22));
        }
    }

    DeviceBuffer<float> d_x(x), d_y(n);
    DeviceBuffer<uint8_t> d_weight(weight), d_bias(bias);
    float* y = in_place ? d_x.get() : d_y.get();
    fastvlm::gpu::layernorm(d_x.get(), d_weight.get(), d_bias.get(), dtype, y, rows, cols, eps, nullptr);
    check_close_f32((in_place ? d_x : d_y).download<float>(), want, tolerance,
                    "layernorm " + shape_name(rows, cols) + " " + fastvlm::dtype_name(dtype));
}

TEST_CASE("kernel layernorm: matches the CPU backend on awkward shapes, in place too") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_layernorm(1, 1, fastvlm::DType::F32, false);          // one value: y = bias
        check_layernorm(2, 7, fastvlm::DType::F16, false);          // fewer values than a warp
        check_layernorm(3, 257, fastvlm::DType::BF16, true);        // one past a block's width, in place
        check_layernorm(2, 64, fastvlm::DType::F32, false, 30.0f);  // a large mean
    });
}

TEST_CASE("kernel layernorm: matches the CPU backend on FastViTHD widths") {
    REQUIRE_DEVICE();
    check_layernorm(16, 768, fastvlm::DType::F16, false, 1.0f);
    check_layernorm(4, 3072, fastvlm::DType::F32, true);
    check_layernorm(1025, 3, fastvlm::DType::BF16, false);  // more rows than the capped grid
}

TEST_CASE("kernel layernorm: rejects bad shapes, eps and dtypes") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] {
              fastvlm::gpu::layernorm(nullptr, nullptr, nullptr, fastvlm::DType::F32, nullptr, 2, 0, 1e-5f, nullptr);
          }) == "layernorm: bad shape: rows 2, cols 0");
    CHECK(test::error_of([] {
              fastvlm::gpu::layernorm(nullptr, nullptr, nullptr, fastvlm::DType::F32, nullptr, 2, 4, -1.0f, nullptr);
          }) == "layernorm: eps -1 is not a non-negative number");
    CHECK(test::error_of([] {
              fastvlm::gpu::layernorm(nullptr, nullptr, nullptr, fastvlm::DType::I32, nullptr, 2, 4, 1e-5f, nullptr);
          }) == "layernorm: weight has dtype I32 (expected F32, F16 or BF16)");
}

}  // namespace kernel_test

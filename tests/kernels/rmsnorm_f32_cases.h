// Tests of rmsnorm_f32 (cuda/rmsnorm.cu) against the CPU backend's rmsnorm, compiled into the
// SIMT suite (tests/test_kernel_rmsnorm_f32.cpp) and the GPU suite (tests/gpu/test_kernel_rmsnorm_f32.cu).
#pragma once
// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/rmsnorm.cuh"

namespace kernel_test {

inline void check_rmsnorm_f32(int rows, int dim, fastvlm::DType w_dtype, bool in_place) {
    Random random(uint64_t(rows) * 37 + uint64_t(dim) + uint64_t(w_dtype));
    const size_t n = size_t(rows) * size_t(dim);
    const float eps = 1e-6f;
    const std::vector<float> x = random_floats(random, n, 4.0f);
    const std::vector<uint8_t> weight = encode(random_floats(random, size_t(dim), 2.0f), w_dtype);
    fastvlm::Tensor ref_y = reference_backend().alloc(fastvlm::DType::F32, {rows, dim});
    reference_backend().rmsnorm(ref_y, host_tensor(x, {rows, dim}), host_tensor(weight, w_dtype, {dim}), eps);
    const std::vector<float> want = host_values(ref_y);
    // The CPU sums the squares in double; the kernel in fp32, ceil(dim / 256) terms per thread
    // then a tree of 8 levels: dim / 256 + 8 ulps of the sum, half of that in 1 / rms, plus the
    // root, the division and two products.
    const std::vector<float> tolerance = relative_tolerance(want, -24, 0.0f);
    std::vector<float> scaled(n);
    for (size_t i = 0; i < n; ++i) scaled[i] = tolerance[i] * float(dim / 256 + 16);

    DeviceBuffer<float> d_x(x), d_y(n);
    DeviceBuffer<uint8_t> d_weight(weight);
    float* y = in_place ? d_x.get() : d_y.get();
    fastvlm::gpu::rmsnorm_f32(d_x.get(), d_weight.get(), w_dtype, y, rows, dim, eps, nullptr);
    check_close_f32((in_place ? d_x : d_y).download<float>(), want, scaled,
                    "rmsnorm_f32 " + shape_name(rows, dim) + " " + fastvlm::dtype_name(w_dtype));
}

TEST_CASE("kernel rmsnorm_f32: matches the CPU backend for F32, F16 and BF16 weights, in place too") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_rmsnorm_f32(1, 1, fastvlm::DType::F32, false);
        check_rmsnorm_f32(2, 7, fastvlm::DType::F16, true);
        check_rmsnorm_f32(3, 257, fastvlm::DType::BF16, false);
    });
    check_rmsnorm_f32(5, 896, fastvlm::DType::F16, true);  // Qwen2 hidden size, prefill rows
    check_rmsnorm_f32(1, 896, fastvlm::DType::BF16, false);
    check_rmsnorm_f32(2, 4864, fastvlm::DType::F32, false);  // many values per thread
    check_rmsnorm_f32(1025, 2, fastvlm::DType::F16, true);   // more rows than the capped grid
}

TEST_CASE("kernel rmsnorm_f32: rejects bad shapes, eps and dtypes") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] {
              fastvlm::gpu::rmsnorm_f32(nullptr, nullptr, fastvlm::DType::F16, nullptr, -1, 8, 1e-6f, nullptr);
          }) == "rmsnorm_f32: bad shape: rows -1, dim 8");
    CHECK(test::error_of([] {
              fastvlm::gpu::rmsnorm_f32(nullptr, nullptr, fastvlm::DType::F16, nullptr, 1, 8, -1.0f, nullptr);
          }) == "rmsnorm_f32: eps -1 is not a non-negative number");
    CHECK(test::error_of([] {
              fastvlm::gpu::rmsnorm_f32(nullptr, nullptr, fastvlm::DType::U8, nullptr, 1, 8, 1e-6f, nullptr);
          }) == "rmsnorm_f32: weight has dtype U8 (expected F32, F16 or BF16)");
}

}  // namespace kernel_test

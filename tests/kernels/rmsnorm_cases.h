// Tests of cuda/rmsnorm.cu against its CPU twin (runtime/cpu/rmsnorm.h), compiled into the
// SIMT suite (tests/test_kernel_rmsnorm.cpp) and the GPU suite (tests/gpu/test_kernels.cu).
#pragma once
#include "cuda/rmsnorm.cuh"
#include "runtime/cpu/rmsnorm.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {

// offset > 0 shifts x and y off their 16-byte alignment (the scalar path).
inline void check_rmsnorm(int n_tokens, int dim, bool in_place, int offset = 0) {
    Random random(uint64_t(n_tokens) * 131 + uint64_t(dim));
    const size_t n = size_t(n_tokens) * size_t(dim);
    const std::vector<uint16_t> x = random.fp16(n + size_t(offset), 4.0f);  // [n_tokens, dim] after offset
    const std::vector<uint16_t> weight = random.fp16(size_t(dim), 2.0f);      // [dim]
    const std::vector<float> x_all = to_float(x);
    const std::vector<float> x_float(x_all.begin() + offset, x_all.end());
    std::vector<float> want(n), tolerance(n);
    fastvlm::cpu::rmsnorm(x_float.data(), weight.data(), want.data(), n_tokens, dim, 1e-6f);
    // fp16 output of an fp32 product: 2^-11 from the rounding, a little for the sum of squares.
    for (size_t i = 0; i < n; ++i) tolerance[i] = std::ldexp(std::fabs(want[i]), -10) + 1e-7f;

    DeviceBuffer<__half> d_x(x), d_weight(weight), d_y(n + size_t(offset));
    __half* y = in_place ? d_x.get() + offset : d_y.get() + offset;
    fastvlm::gpu::rmsnorm(d_x.get() + offset, d_weight.get(), y, n_tokens, dim, 1e-6f, nullptr);
    std::vector<uint16_t> got = (in_place ? d_x : d_y).download<uint16_t>();
    got.erase(got.begin(), got.begin() + offset);
    check_close(got, want, tolerance, "rmsnorm " + std::to_string(n_tokens) + " x " + std::to_string(dim));
}

TEST_CASE("kernel rmsnorm: matches the CPU twin on awkward shapes, in place too") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_rmsnorm(1, 1, false);      // one element
        check_rmsnorm(2, 7, false);      // shorter than one 128-bit load
        check_rmsnorm(1, 8, true);       // one load, in place
        check_rmsnorm(3, 13, false);     // odd
        check_rmsnorm(2, 1032, false);   // 129 loads: more than one per thread
        check_rmsnorm(2, 64, true, 1);   // unaligned: scalar path, in place
    });
}

TEST_CASE("kernel rmsnorm: matches the CPU twin on the Qwen2 hidden size") {
    REQUIRE_DEVICE();
    check_rmsnorm(1, 896, false);
    check_rmsnorm(5, 896, true);
}

TEST_CASE("kernel rmsnorm: rejects bad shapes") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] { fastvlm::gpu::rmsnorm(nullptr, nullptr, nullptr, 1, 0, 1e-6f, nullptr); }) ==
          "rmsnorm: bad shape: n_tokens 1, dim 0");
    CHECK(test::error_of([] { fastvlm::gpu::rmsnorm(nullptr, nullptr, nullptr, 1, 8, -1.0f, nullptr); }) ==
          "rmsnorm: eps -1 is not a non-negative number");
}

}  // namespace kernel_test

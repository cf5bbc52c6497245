// Tests of cuda/gemv_fp16.cu against its CPU twin (runtime/cpu/gemv_fp16.h), compiled into the
// SIMT suite (tests/test_kernel_gemv_fp16.cpp) and the GPU suite (tests/gpu/test_kernels.cu).
#pragma once
#include "cuda/gemv_fp16.cuh"
#include "runtime/cpu/gemv_fp16.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {

// Runs the kernel on random data of the given shape and compares with the twin.
// x_offset > 0 shifts x off its 16-byte alignment (the scalar path).
inline void check_gemv_fp16(int in, int out, bool with_bias, int x_offset = 0) {
    Random random(uint64_t(in) * 7919 + uint64_t(out));
    const std::vector<uint16_t> w = random.fp16(size_t(in) * size_t(out), 1.0f);  // [out, in]
    std::vector<uint16_t> x = random.fp16(size_t(in + x_offset), 1.0f);           // [in] after x_offset
    const std::vector<uint16_t> bias = random.fp16(size_t(out), 1.0f);            // [out]

    const std::vector<float> x_all = to_float(x);
    const std::vector<float> x_float(x_all.begin() + x_offset, x_all.end());
    const size_t rows = static_cast<size_t>(out);
    std::vector<float> want(rows), magnitude(rows), tolerance(rows);
    fastvlm::cpu::gemv_fp16(w.data(), with_bias ? bias.data() : nullptr, x_float.data(), want.data(), 1, in, out, 0,
                            out);
    for (int r = 0; r < out; ++r) {
        float m = with_bias ? std::fabs(fastvlm::fp16_to_float(bias[size_t(r)])) : 0.0f;
        for (int k = 0; k < in; ++k)
            m += std::fabs(fastvlm::fp16_to_float(w[size_t(r) * size_t(in) + size_t(k)]) * x_float[size_t(k)]);
        magnitude[size_t(r)] = m;
    }
    for (size_t r = 0; r < tolerance.size(); ++r) tolerance[r] = fp16_output_tolerance(want[r], magnitude[r]);

    DeviceBuffer<__half> d_w(w), d_x(x), d_bias(bias), d_y(rows);
    fastvlm::gpu::gemv_fp16(d_w.get(), with_bias ? d_bias.get() : nullptr, d_x.get() + x_offset, d_y.get(), in, out,
                            nullptr);
    check_close(d_y.download<uint16_t>(), want, tolerance,
                "gemv_fp16 in " + std::to_string(in) + " out " + std::to_string(out));
}

TEST_CASE("kernel gemv_fp16: matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_gemv_fp16(1, 1, true);      // one element
        check_gemv_fp16(7, 3, false);     // shorter than one 128-bit load: scalar path
        check_gemv_fp16(8, 1, true);      // exactly one load, one row
        check_gemv_fp16(13, 5, true);     // odd sizes
        check_gemv_fp16(264, 33, true);   // 33 loads per row: one lane takes two; 33 rows: a partial block
        check_gemv_fp16(905, 6, false);   // long odd row
        check_gemv_fp16(64, 9, true, 3);  // x not 16-byte aligned: scalar path
    });
}

TEST_CASE("kernel gemv_fp16: matches the CPU twin on the Qwen2 decode shapes") {
    REQUIRE_DEVICE();
    check_gemv_fp16(896, 128, true);   // k_proj, v_proj
    check_gemv_fp16(896, 896, true);   // q_proj
    check_gemv_fp16(4864, 896, false);  // down_proj
}

TEST_CASE("kernel gemv_fp16: rejects empty shapes") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] { fastvlm::gpu::gemv_fp16(nullptr, nullptr, nullptr, nullptr, 0, 5, nullptr); }) ==
          "gemv_fp16: bad shape: in_features 0, out_features 5");
}

}  // namespace kernel_test

// Tests of cuda/attention_decode.cu against its CPU twin (runtime/cpu/attention_decode.h),
// compiled into the SIMT suite (tests/test_kernel_attention_decode.cpp) and the GPU suite
// (tests/gpu/test_kernels.cu).
#pragma once
#include "cuda/attention_decode.cuh"
#include "runtime/cpu/attention_decode.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {

inline void check_attention_decode(int kv_len, int n_heads, int n_kv_heads, float q_scale = 1.0f) {
    const int head_dim = 64;
    const int capacity = kv_len + 3;  // cache rows past kv_len hold NaN: reading them would show
    Random random(uint64_t(kv_len) * 101 + uint64_t(n_heads) * 7 + uint64_t(n_kv_heads));
    const size_t row = size_t(n_kv_heads) * head_dim;
    const std::vector<uint16_t> q = random.fp16(size_t(n_heads) * head_dim, q_scale);  // [n_heads, 64]
    std::vector<uint16_t> k = random.fp16(size_t(capacity) * row, 1.0f);              // [capacity, n_kv_heads, 64]
    std::vector<uint16_t> v = random.fp16(size_t(capacity) * row, 1.0f);
    for (size_t i = size_t(kv_len) * row; i < k.size(); ++i) k[i] = v[i] = 0x7e00;
    const float scale = 0.125f;  // 1 / sqrt(64)

    const std::vector<float> q_float = to_float(q);
    const size_t n_out = size_t(n_heads) * head_dim;
    std::vector<float> want(n_out), tolerance(n_out);
    fastvlm::cpu::attention_decode(q_float.data(), k.data(), v.data(), want.data(), kv_len, n_heads, n_kv_heads,
                                   head_dim, scale, 0, n_heads);
    // fp16 rounding of the output, and fp32 softmax weights computed in another order and with
    // exp2: relative errors near 1e-6 of values at most 1 in magnitude.
    for (size_t i = 0; i < n_out; ++i) tolerance[i] = std::ldexp(std::fabs(want[i]), -10) + std::ldexp(1.0f, -16);

    DeviceBuffer<__half> d_q(q), d_k(k), d_v(v), d_out(n_out);
    DeviceBuffer<float> d_workspace(fastvlm::gpu::attention_decode_workspace_floats(n_heads, head_dim));
    fastvlm::gpu::attention_decode(d_q.get(), d_k.get(), d_v.get(), d_out.get(), d_workspace.get(), kv_len, n_heads,
                                   n_kv_heads, head_dim, scale, nullptr);
    check_close(d_out.download<uint16_t>(), want, tolerance,
                "attention_decode kv_len " + std::to_string(kv_len) + ", heads " + std::to_string(n_heads) + "/" +
                    std::to_string(n_kv_heads));
}

TEST_CASE("kernel attention_decode: matches the CPU twin on awkward shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_attention_decode(1, 14, 2);         // one cached token: the output is its value
        check_attention_decode(3, 14, 2);         // fewer positions than one block step
        check_attention_decode(17, 2, 2);         // group 1, one position past a step
        check_attention_decode(129, 8, 1, 4.0f);  // group 8, three splits, peaked softmax
    });
}

TEST_CASE("kernel attention_decode: matches the CPU twin on the Qwen2 heads over long caches") {
    REQUIRE_DEVICE();
    check_attention_decode(1000, 14, 2);
    check_attention_decode(3001, 14, 2, 3.0f);  // every split in use, a ragged last one
}

TEST_CASE("kernel attention_decode: rejects unsupported shapes and a missing workspace") {
    REQUIRE_DEVICE();
    DeviceBuffer<__half> d(size_t(1) << 14);
    __half* p = d.get();
    CHECK(test::error_of([&] { fastvlm::gpu::attention_decode(p, p, p, p, nullptr, 0, 14, 2, 64, 1.0f, nullptr); }) ==
          "attention_decode: bad shape: kv_len 0, n_heads 14, n_kv_heads 2");
    CHECK(test::error_of([&] { fastvlm::gpu::attention_decode(p, p, p, p, nullptr, 5, 14, 2, 128, 1.0f, nullptr); }) ==
          "attention_decode: head_dim 128 is not supported (only 64)");
    CHECK(test::error_of([&] { fastvlm::gpu::attention_decode(p, p, p, p, nullptr, 5, 18, 2, 64, 1.0f, nullptr); }) ==
          "attention_decode: 18 query heads over 2 kv heads: the group must be a whole number from 1 to 8");
    CHECK(test::error_of([&] { fastvlm::gpu::attention_decode(p + 1, p, p, p, nullptr, 5, 14, 2, 64, 1.0f, nullptr); }) ==
          "attention_decode: q, k_cache, v_cache and out must be 16-byte aligned");
    CHECK(test::error_of([&] { fastvlm::gpu::attention_decode(p, p, p, p, nullptr, 65, 14, 2, 64, 1.0f, nullptr); }) ==
          "attention_decode: kv_len 65 needs a workspace");
}

}  // namespace kernel_test

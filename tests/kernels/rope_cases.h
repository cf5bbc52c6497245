// Tests of cuda/rope.cu against its CPU twin (runtime/cpu/rope.h), compiled into the SIMT
// suite (tests/test_kernel_rope.cpp) and the GPU suite (tests/gpu/test_kernels.cu).
#pragma once
#include <algorithm>

#include "cuda/rope.cuh"
#include "runtime/cpu/rope.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {

inline void check_rope(const std::vector<int>& positions, int n_heads, int n_kv_heads, int head_dim, float theta) {
    const int n_tokens = int(positions.size());
    Random random(uint64_t(n_heads) * 31 + uint64_t(head_dim) + uint64_t(n_tokens) * 7);
    const size_t nq = size_t(n_tokens) * size_t(n_heads) * size_t(head_dim);
    const size_t nk = size_t(n_tokens) * size_t(n_kv_heads) * size_t(head_dim);
    const std::vector<uint16_t> q = random.fp16(nq, 2.0f), k = random.fp16(nk, 2.0f);  // [n_tokens, heads, head_dim]
    std::vector<float> want_q = to_float(q), want_k = to_float(k);
    fastvlm::cpu::rope(want_q.data(), positions.data(), n_tokens, n_heads, head_dim, theta);
    if (n_kv_heads > 0) fastvlm::cpu::rope(want_k.data(), positions.data(), n_tokens, n_kv_heads, head_dim, theta);
    // fp16 rounding of the rotated values, plus the angle: the device's powf may differ from
    // the host's by an ulp of the inverse frequency, i.e. position * 2^-23 radians per ulp.
    const int max_position = *std::max_element(positions.begin(), positions.end());
    auto tolerances = [&](const std::vector<uint16_t>& in, const std::vector<float>& want) {
        std::vector<float> t(want.size());
        const int half = head_dim / 2;
        for (size_t i = 0; i < t.size(); ++i) {
            const size_t head_start = i / size_t(head_dim) * size_t(head_dim);
            const size_t pair = (i - head_start) % size_t(half);
            const float a = fastvlm::fp16_to_float(in[head_start + pair]);
            const float b = fastvlm::fp16_to_float(in[head_start + pair + size_t(half)]);
            t[i] = std::ldexp(std::fabs(want[i]), -10) + (std::fabs(a) + std::fabs(b)) * float(max_position) *
                                                                std::ldexp(1.0f, -21) + 1e-6f;
        }
        return t;
    };

    DeviceBuffer<__half> d_q(q), d_k(k);
    DeviceBuffer<int> d_positions(positions);
    fastvlm::gpu::rope(d_q.get(), d_k.get(), d_positions.get(), n_tokens, n_heads, n_kv_heads, head_dim, theta, nullptr);
    const std::string shape = std::to_string(n_tokens) + " tokens, heads " + std::to_string(n_heads) + "/" +
                              std::to_string(n_kv_heads) + " x " + std::to_string(head_dim);
    check_close(d_q.download<uint16_t>(), want_q, tolerances(q, want_q), "rope q, " + shape);
    check_close(d_k.download<uint16_t>(), want_k, tolerances(k, want_k), "rope k, " + shape);
}

TEST_CASE("kernel rope: matches the CPU twin on awkward shapes and positions") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_rope({0}, 1, 1, 2, 1e6f);              // one pair, position 0: the identity
        check_rope({5}, 3, 0, 6, 10000.0f);          // no kv heads, odd pair count
        check_rope({1, 2, 1000}, 2, 1, 64, 1e6f);    // several tokens, a large position
    });
}

TEST_CASE("kernel rope: matches the CPU twin on the Qwen2 heads at long positions") {
    REQUIRE_DEVICE();
    check_rope({4095}, 14, 2, 64, 1e6f);
    check_rope({0, 31, 32767}, 14, 2, 64, 1e6f);
}

TEST_CASE("kernel rope: rejects bad shapes") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] { fastvlm::gpu::rope(nullptr, nullptr, nullptr, 1, 14, 2, 63, 1e6f, nullptr); }) ==
          "rope: bad shape: n_tokens 1, n_heads 14, n_kv_heads 2, head_dim 63 (head_dim must be even)");
    CHECK(test::error_of([] { fastvlm::gpu::rope(nullptr, nullptr, nullptr, 1, 14, 2, 64, 0.0f, nullptr); }) ==
          "rope: theta 0 is not positive");
}

}  // namespace kernel_test

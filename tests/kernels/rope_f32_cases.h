// Tests of rope_f32 (cuda/rope.cu) against the CPU backend's rope, compiled into the SIMT suite
// (tests/test_kernel_rope_f32.cpp) and the GPU suite (tests/gpu/test_kernel_rope_f32.cu).
#pragma once
#include <algorithm>

// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/rope.cuh"

namespace kernel_test {

// consecutive: positions are first, first + 1, ... and go to rope_f32_consecutive (no upload).
inline void check_rope_f32(const std::vector<int>& positions, int heads, int head_dim, float theta,
                           bool consecutive = false) {
    const int rows = int(positions.size()), width = heads * head_dim;
    Random random(uint64_t(heads) * 41 + uint64_t(head_dim) + uint64_t(rows) * 5);
    const std::vector<float> x = random_floats(random, size_t(rows) * size_t(width), 2.0f);
    fastvlm::Tensor ref = host_tensor(x, {rows, width});
    reference_backend().rope(ref, heads, head_dim, positions, theta);
    const std::vector<float> want = host_values(ref);
    // A few ulps of the rotated value, plus the angle: the device's powf may differ from the
    // host's by an ulp of the inverse frequency, i.e. position * 2^-23 radians, and its sincosf
    // by an ulp; both scale with |a| + |b| of the pair.
    const float max_position = float(*std::max_element(positions.begin(), positions.end()));
    std::vector<float> tolerance(want.size());
    const int half = head_dim / 2;
    for (size_t i = 0; i < want.size(); ++i) {
        const size_t head_start = i / size_t(head_dim) * size_t(head_dim), pair = (i - head_start) % size_t(half);
        const float pair_size = std::fabs(x[head_start + pair]) + std::fabs(x[head_start + pair + size_t(half)]);
        tolerance[i] = std::ldexp(std::fabs(want[i]), -21) + pair_size * (max_position + 2.0f) * std::ldexp(1.0f, -21);
    }

    DeviceBuffer<float> d_x(x);
    DeviceBuffer<int> d_positions(positions);
    if (consecutive) {
        for (size_t i = 1; i < positions.size(); ++i) REQUIRE(positions[i] == positions[0] + int(i));
        fastvlm::gpu::rope_f32_consecutive(d_x.get(), positions[0], rows, heads, head_dim, theta, nullptr);
    } else {
        fastvlm::gpu::rope_f32(d_x.get(), d_positions.get(), rows, heads, head_dim, theta, nullptr);
    }
    check_close_f32(d_x.download<float>(), want, tolerance,
                    "rope_f32 " + std::to_string(rows) + " rows, " + std::to_string(heads) + " heads of " +
                        std::to_string(head_dim));
}

TEST_CASE("kernel rope_f32: matches the CPU backend on awkward shapes and positions") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_rope_f32({0}, 1, 2, 1e6f);            // one pair at position 0: the identity
        check_rope_f32({5}, 3, 6, 10000.0f);        // an odd pair count
        check_rope_f32({1, 2, 1000}, 2, 64, 1e6f);  // several rows, a large position
        check_rope_f32({7, 3}, 5, 130, 10000.0f);   // more pairs than a block's threads
    });
}

TEST_CASE("kernel rope_f32: matches the CPU backend on the Qwen2 heads at long positions") {
    REQUIRE_DEVICE();
    check_rope_f32({4095}, 14, 64, 1e6f);         // q of one decoded token
    check_rope_f32({0, 31, 32767}, 2, 64, 1e6f);  // k of three
    std::vector<int> many(1025);                  // more rows than the capped grid
    for (size_t i = 0; i < many.size(); ++i) many[i] = int(i * 7 % 1000);
    check_rope_f32(many, 1, 4, 10000.0f);
}

TEST_CASE("kernel rope_f32: consecutive positions without an uploaded array") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_rope_f32({0, 1, 2, 3}, 2, 64, 1e6f, true);  // a prompt from position 0
        check_rope_f32({300}, 14, 64, 1e6f, true);        // one decode step
    });
    std::vector<int> prompt(1100);  // more rows than the capped grid
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 40 + int(i);
    check_rope_f32(prompt, 2, 8, 10000.0f, true);
}

TEST_CASE("kernel rope_f32: rejects bad shapes and theta") {
    REQUIRE_DEVICE();
    int position = 0;
    CHECK(test::error_of([] { fastvlm::gpu::rope_f32(nullptr, nullptr, 1, 14, 64, 1e6f, nullptr); }) ==
          "rope_f32: no positions");
    CHECK(test::error_of([&] { fastvlm::gpu::rope_f32(nullptr, &position, 1, 14, 63, 1e6f, nullptr); }) ==
          "rope_f32: bad shape: rows 1, heads 14, head_dim 63 (head_dim must be even and at most 8192)");
    CHECK(test::error_of([&] { fastvlm::gpu::rope_f32(nullptr, &position, 1, 0, 64, 1e6f, nullptr); }) ==
          "rope_f32: bad shape: rows 1, heads 0, head_dim 64 (head_dim must be even and at most 8192)");
    CHECK(test::error_of([&] { fastvlm::gpu::rope_f32(nullptr, &position, 1, 14, 64, -2.0f, nullptr); }) ==
          "rope_f32: theta -2 is not positive");
    CHECK(test::error_of([] { fastvlm::gpu::rope_f32_consecutive(nullptr, -1, 1, 14, 64, 1e6f, nullptr); }) ==
          "rope_f32: position -1 is negative");
}

}  // namespace kernel_test

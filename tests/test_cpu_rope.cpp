// The CPU twin of the rotary embedding: rotate_half pairs, angles from explicit positions.
#include "tests/test_util.h"

#include <cmath>
#include <vector>

#include "runtime/cpu/rope.h"

TEST_CASE("cpu rope: rotates pair (i, i + half) by position * theta^(-2i / head_dim)") {
    // Two tokens at positions 0 and 7, one head of dim 4: pairs (0, 2) and (1, 3).
    std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f, 1.0f, 2.0f, 3.0f, 4.0f};
    const int positions[2] = {0, 7};
    fastvlm::cpu::rope(x.data(), positions, 2, 1, 4, 1e6f);
    CHECK(x[0] == 1.0f);  // position 0: unchanged
    CHECK(x[3] == 4.0f);
    for (int i = 0; i < 2; ++i) {
        const double angle = 7.0 * std::pow(1e6, -2.0 * i / 4.0);
        const double a = 1.0 + i, b = 3.0 + i;
        CHECK(x[size_t(4 + i)] == doctest::Approx(a * std::cos(angle) - b * std::sin(angle)).epsilon(1e-5));
        CHECK(x[size_t(6 + i)] == doctest::Approx(b * std::cos(angle) + a * std::sin(angle)).epsilon(1e-5));
    }
    CHECK(fastvlm::cpu::rope_inv_freq(0, 64, 1e6f) == 1.0f);
    CHECK(fastvlm::cpu::rope_inv_freq(16, 64, 1e6f) == doctest::Approx(1e-3).epsilon(1e-6));
}

TEST_CASE("cpu rope: rejects odd head_dim, bad theta and negative positions") {
    float x[4] = {};
    const int position = 0, negative = -3;
    CHECK(test::error_of([&] { fastvlm::cpu::rope(x, &position, 1, 1, 3, 1e6f); }) ==
          "rope: bad shape: n_tokens 1, n_heads 1, head_dim 3 (head_dim must be even)");
    CHECK(test::error_of([&] { fastvlm::cpu::rope(x, &position, 1, 1, 4, -1.0f); }) == "rope: theta -1 is not positive");
    CHECK(test::error_of([&] { fastvlm::cpu::rope(x, &negative, 1, 1, 4, 1e6f); }) ==
          "rope: token 0 has negative position -3");
}

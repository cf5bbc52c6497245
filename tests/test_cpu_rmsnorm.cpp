// The CPU twin of RMSNorm: hand-computed rows, in-place use and bad shapes.
#include "tests/test_util.h"

#include <cmath>
#include <vector>

#include "runtime/cpu/rmsnorm.h"
#include "runtime/half.h"

using fastvlm::float_to_fp16;

TEST_CASE("cpu rmsnorm: scales each row by its inverse root mean square and the weight") {
    // Row 0: mean square (9 + 16) / 2 = 12.5; row 1: all zeros stay zero (eps keeps it finite).
    std::vector<float> x = {3.0f, -4.0f, 0.0f, 0.0f};
    const std::vector<uint16_t> w = {float_to_fp16(1.0f), float_to_fp16(0.5f)};
    std::vector<float> y(4);
    fastvlm::cpu::rmsnorm(x.data(), w.data(), y.data(), 2, 2, 1e-6f);
    const double inv = 1.0 / std::sqrt(12.5 + 1e-6);
    CHECK(y[0] == doctest::Approx(3.0 * inv).epsilon(1e-6));
    CHECK(y[1] == doctest::Approx(-4.0 * inv * 0.5).epsilon(1e-6));
    CHECK(y[2] == 0.0f);
    CHECK(y[3] == 0.0f);
    fastvlm::cpu::rmsnorm(x.data(), w.data(), x.data(), 2, 2, 1e-6f);  // in place
    CHECK(x == y);
}

TEST_CASE("cpu rmsnorm: rejects bad shapes and eps") {
    float v = 1.0f;
    const uint16_t w = float_to_fp16(1.0f);
    CHECK(test::error_of([&] { fastvlm::cpu::rmsnorm(&v, &w, &v, 1, 0, 1e-6f); }) == "rmsnorm: bad shape: n_tokens 1, dim 0");
    CHECK(test::error_of([&] { fastvlm::cpu::rmsnorm(&v, &w, &v, 1, 1, NAN); }) ==
          "rmsnorm: eps nan is not a non-negative number");
}

// The CPU twin of the SwiGLU gate.
#include "tests/test_util.h"

#include <cmath>
#include <vector>

#include "runtime/cpu/silu_gate.h"

TEST_CASE("cpu silu_gate: multiplies silu(gate) by up, also in place") {
    std::vector<float> gate = {0.0f, 1.0f, -2.0f, 30.0f, -100.0f}, up = {5.0f, 2.0f, 3.0f, 0.5f, 7.0f};
    std::vector<float> out(5);
    fastvlm::cpu::silu_gate(gate.data(), up.data(), out.data(), gate.size());
    for (size_t i = 0; i < gate.size(); ++i) {
        const double g = gate[i];
        CHECK(out[i] == doctest::Approx(g / (1.0 + std::exp(-g)) * up[i]).epsilon(1e-6));
    }
    CHECK(out[4] == doctest::Approx(0.0).epsilon(1e-30));  // silu of a large negative: a tiny negative
    fastvlm::cpu::silu_gate(gate.data(), up.data(), gate.data(), gate.size());
    CHECK(gate == out);
}

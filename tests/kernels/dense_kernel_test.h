// Helpers shared by the tests of the dense kernels with widened weights (matmul, conv), on top
// of the fp32 kernel test helpers (random_floats, encode, check_close_f32).
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "runtime/activation.h"
#include "runtime/cpu/matmul.h"
#include "tests/kernels/backend_ops_f32_test.h"

namespace kernel_test {

// Random values in [-scale, scale] stored as dtype (F32, F16 or BF16), and the fp32 values the
// stored ones widen to (through the CPU backend's widen_to_f32).
struct StoredWeights {
    std::vector<uint8_t> bytes;
    std::vector<float> values;
};

inline StoredWeights random_weights(Random& random, size_t n, fastvlm::DType dtype, float scale) {
    StoredWeights w;
    w.bytes = encode(random_floats(random, n, scale), dtype);
    w.values.resize(n);
    fastvlm::cpu::widen_to_f32(w.bytes.data(), dtype, w.values.data(), int64_t(n));
    return w;
}

inline const char* activation_name(fastvlm::Activation act) {
    switch (act) {
        case fastvlm::Activation::None: return "none";
        case fastvlm::Activation::GELU: return "gelu";
        case fastvlm::Activation::ReLU: return "relu";
        case fastvlm::Activation::Sigmoid: return "sigmoid";
    }
    return "?";
}

// Tolerance for an fp32 output act(sum of terms) computed by a kernel and by its CPU twin, with
// `magnitude` the sum of |terms| (bias included).
// - The two sum the same terms in different orders (warp trees, k slices, FMA or not). Each
//   rounding errs by at most 2^-24 of a partial sum, itself at most `magnitude`; over k terms
//   the worst case is k * 2^-24 * magnitude, but the errors have random signs and grow like
//   sqrt(k) * 2^-24 * magnitude: for the k <= ~900 of these tests about 2^-19 * magnitude.
//   2^-16 * magnitude (1.5e-5) leaves a margin of 8 and still catches a single missing or
//   wrong term, which is of the order of magnitude / k.
// - The activations (slope at most 1.13, GELU) carry that error over; the twin's GELU and
//   sigmoid are polynomial approximations (erf to 4.3e-7 absolute, exp to 2 ulp) while the
//   kernels call erff and expf: at most ~2.2e-7 * |x| (inside the first term) plus 2^-20.
inline float dense_tolerance(double magnitude) { return float(std::ldexp(magnitude, -16) + std::ldexp(1.0, -20)); }

}  // namespace kernel_test

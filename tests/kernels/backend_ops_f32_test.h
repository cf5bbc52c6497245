// Helpers for the tests of the fp32 backend kernels (elementwise, layernorm, embedding,
// kv_cache, attention and the fp32 forms of rmsnorm, rope and silu_gate). Their reference is
// the CPU backend itself: each case builds the same inputs as CPU tensors, runs the CpuBackend
// operation and compares what the kernel wrote, bit for bit where the math allows it.
#pragma once
#include <cstring>

#include "runtime/cpu/backend_cpu.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {

// One thread: the tests compare results, they do not time them.
inline fastvlm::cpu::CpuBackend& reference_backend() {
    static fastvlm::cpu::CpuBackend backend(1);
    return backend;
}

// Deterministic values uniform in [offset - scale, offset + scale].
inline std::vector<float> random_floats(Random& random, size_t n, float scale, float offset = 0.0f) {
    std::vector<float> v(n);
    for (auto& x : v) x = offset + random.uniform(scale);
    return v;
}

// The bytes of `values` stored as dtype (F32, F16 or BF16, rounded to nearest even).
inline std::vector<uint8_t> encode(const std::vector<float>& values, fastvlm::DType dtype) {
    std::vector<uint8_t> bytes(values.size() * fastvlm::dtype_size(dtype));
    for (size_t i = 0; i < values.size(); ++i) {
        if (dtype == fastvlm::DType::F32) {
            std::memcpy(bytes.data() + 4 * i, &values[i], 4);
        } else {
            const uint16_t h =
                dtype == fastvlm::DType::F16 ? fastvlm::float_to_fp16(values[i]) : fastvlm::float_to_bf16(values[i]);
            std::memcpy(bytes.data() + 2 * i, &h, 2);
        }
    }
    return bytes;
}

// A CPU backend tensor holding raw bytes of any dtype.
inline fastvlm::Tensor host_tensor(const std::vector<uint8_t>& bytes, fastvlm::DType dtype,
                                   const fastvlm::Shape& shape) {
    fastvlm::Tensor t = reference_backend().alloc(dtype, shape);
    REQUIRE(t.nbytes() == bytes.size());
    if (!bytes.empty()) std::memcpy(t.data(), bytes.data(), bytes.size());
    return t;
}

inline fastvlm::Tensor host_tensor(const std::vector<float>& values, const fastvlm::Shape& shape) {
    return reference_backend().upload(values, shape);
}

inline std::vector<float> host_values(const fastvlm::Tensor& t) { return reference_backend().read(t); }

inline std::string shape_name(int rows, int cols) { return std::to_string(rows) + " x " + std::to_string(cols); }

inline bool same_bits(float a, float b) {
    uint32_t x, y;
    std::memcpy(&x, &a, 4);
    std::memcpy(&y, &b, 4);
    return x == y || (std::isnan(a) && std::isnan(b));
}

// got == want bit for bit (any NaN matches any NaN); reports the first few mismatches.
inline void check_exact(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
    REQUIRE(got.size() == want.size());
    int reported = 0;
    for (size_t i = 0; i < got.size() && reported < 4; ++i) {
        if (same_bits(got[i], want[i])) continue;
        ++reported;
        FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected exactly " << want[i]);
    }
}

// Tolerances relative to the reference: |want| * 2^exponent plus an absolute floor.
inline std::vector<float> relative_tolerance(const std::vector<float>& want, int exponent, float floor = 0.0f) {
    std::vector<float> t(want.size());
    for (size_t i = 0; i < want.size(); ++i) t[i] = std::ldexp(std::fabs(want[i]), exponent) + floor;
    return t;
}

}  // namespace kernel_test

// Tests of cuda/silu_gate.cu against its CPU twin (runtime/cpu/silu_gate.h), compiled into
// the SIMT suite (tests/test_kernel_silu_gate.cpp) and the GPU suite (tests/gpu/test_kernels.cu).
#pragma once
#include "cuda/silu_gate.cuh"
#include "runtime/cpu/silu_gate.h"
#include "tests/kernels/kernel_test.h"

namespace kernel_test {

// offset > 0 shifts all pointers off their 16-byte alignment (the scalar path).
inline void check_silu_gate(size_t n, bool in_place, size_t offset = 0) {
    Random random(n * 17 + offset);
    const std::vector<uint16_t> gate = random.fp16(n + offset, 8.0f), up = random.fp16(n + offset, 4.0f);  // [n]
    const std::vector<float> gate_all = to_float(gate), up_all = to_float(up);
    std::vector<float> want(n), tolerance(n);
    fastvlm::cpu::silu_gate(gate_all.data() + offset, up_all.data() + offset, want.data(), n);
    // fp16 rounding, and the device's __expf (a few ulps of fp32).
    for (size_t i = 0; i < n; ++i) tolerance[i] = std::ldexp(std::fabs(want[i]), -10) + 1e-6f;

    DeviceBuffer<__half> d_gate(gate), d_up(up), d_out(n + offset);
    __half* out = (in_place ? d_gate.get() : d_out.get()) + offset;
    fastvlm::gpu::silu_gate(d_gate.get() + offset, d_up.get() + offset, out, n, nullptr);
    std::vector<uint16_t> got = (in_place ? d_gate : d_out).download<uint16_t>();
    got.erase(got.begin(), got.begin() + std::ptrdiff_t(offset));
    check_close(got, want, tolerance, "silu_gate n " + std::to_string(n));
}

TEST_CASE("kernel silu_gate: matches the CPU twin on awkward sizes, in place too") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_silu_gate(1, false);        // one element: all tail
        check_silu_gate(7, true);         // shorter than one 128-bit load
        check_silu_gate(8, false);        // exactly one load
        check_silu_gate(4107, false);     // loads plus a tail of 3
        check_silu_gate(100, true, 3);    // unaligned: scalar path, in place
    });
}

TEST_CASE("kernel silu_gate: matches the CPU twin on the Qwen2 intermediate size") {
    REQUIRE_DEVICE();
    check_silu_gate(4864, false);
    check_silu_gate(4864 * 3, true);  // three tokens of prefill
}

TEST_CASE("kernel silu_gate: an empty input launches nothing") {
    REQUIRE_DEVICE();
    fastvlm::gpu::silu_gate(nullptr, nullptr, nullptr, 0, nullptr);
    CHECK(cudaGetLastError() == cudaSuccess);
}

}  // namespace kernel_test

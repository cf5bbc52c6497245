// Tests of silu_gate_f32 (cuda/silu_gate.cu) against the CPU backend's silu_gate, compiled into
// the SIMT suite (tests/test_kernel_silu_gate_f32.cpp) and the GPU suite
// (tests/gpu/test_kernel_silu_gate_f32.cu).
#pragma once
// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/silu_gate.cuh"

namespace kernel_test {

// out_is: 0 a separate buffer, 1 the gate, 2 the up projection.
inline void check_silu_gate_f32(size_t n, int out_is) {
    Random random(n * 43 + size_t(out_is));
    std::vector<float> gate = random_floats(random, n, 10.0f);
    const std::vector<float> up = random_floats(random, n, 4.0f);
    if (n >= 2) {
        gate[0] = -200.0f;  // exp(200) overflows: the result is -0
        gate[1] = 90.0f;
    }
    fastvlm::Tensor ref_out = reference_backend().alloc(fastvlm::DType::F32, {int64_t(n)});
    reference_backend().silu_gate(ref_out, host_tensor(gate, {int64_t(n)}), host_tensor(up, {int64_t(n)}));
    const std::vector<float> want = host_values(ref_out);

    DeviceBuffer<float> d_gate(gate), d_up(up), d_out(n);
    DeviceBuffer<float>& out = out_is == 1 ? d_gate : out_is == 2 ? d_up : d_out;
    fastvlm::gpu::silu_gate_f32(d_gate.get(), d_up.get(), out.get(), n, nullptr);
    // The same formula; the device's expf is within 2 ulps of the host's.
    check_close_f32(out.download<float>(), want, relative_tolerance(want, -21),
                    "silu_gate_f32 n " + std::to_string(n) + ", output " + std::to_string(out_is));
}

TEST_CASE("kernel silu_gate_f32: matches the CPU backend, in place over gate or up too") {
    REQUIRE_DEVICE();
    check_silu_gate_f32(1, 0);
    check_silu_gate_f32(7, 1);
    check_silu_gate_f32(4864, 2);            // one Qwen2 token
    check_silu_gate_f32(4864 * 3, 0);        // three tokens of prefill
    check_silu_gate_f32(1024 * 256 + 5, 1);  // more than the capped grid: a second grid step
    fastvlm::gpu::silu_gate_f32(nullptr, nullptr, nullptr, 0, nullptr);
}

}  // namespace kernel_test

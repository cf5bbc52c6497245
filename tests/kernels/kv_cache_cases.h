// Tests of cuda/kv_cache.cu against the CPU backend's kv_store, compiled into the SIMT suite
// (tests/test_kernel_kv_cache.cpp) and the GPU suite (tests/gpu/test_kernel_kv_cache.cu).
#pragma once
// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/kv_cache.cuh"

namespace kernel_test {

// Stores `tokens` rows at `pos` into caches already holding other values, which must survive.
inline void check_kv_store(int capacity, int width, int tokens, int pos, fastvlm::DType dtype) {
    Random random(uint64_t(capacity) * 31 + uint64_t(width) * 3 + uint64_t(pos) + uint64_t(dtype));
    const size_t cache_n = size_t(capacity) * size_t(width), n = size_t(tokens) * size_t(width);
    const std::vector<uint8_t> k_before = encode(random_floats(random, cache_n, 1.0f), dtype);
    const std::vector<uint8_t> v_before = encode(random_floats(random, cache_n, 1.0f), dtype);
    // Values of every magnitude fp16 meets: normal, subnormal, past its largest value.
    std::vector<float> k = random_floats(random, n, 4.0f), v = random_floats(random, n, 4.0f);
    if (n >= 3) {
        k[0] = 70000.0f;
        k[1] = 3e-6f;
        v[2] = -1e-8f;
    }
    fastvlm::Tensor ref_k = host_tensor(k_before, dtype, {capacity, width});
    fastvlm::Tensor ref_v = host_tensor(v_before, dtype, {capacity, width});
    reference_backend().kv_store(ref_k, ref_v, host_tensor(k, {tokens, width}), host_tensor(v, {tokens, width}), pos);

    DeviceBuffer<uint8_t> d_k_cache(k_before), d_v_cache(v_before);
    DeviceBuffer<float> d_k(k), d_v(v);
    fastvlm::gpu::kv_store(d_k_cache.get(), d_v_cache.get(), dtype, d_k.get(), d_v.get(), tokens, width, pos, nullptr);
    // Copies, or one rounding to nearest even: the same bits as the CPU backend.
    const std::string what = "kv_store " + std::to_string(tokens) + " tokens at " + std::to_string(pos) + " of " +
                             shape_name(capacity, width) + " " + fastvlm::dtype_name(dtype);
    INFO(what);
    CHECK(d_k_cache.download<uint8_t>() ==
          std::vector<uint8_t>(ref_k.as<uint8_t>(), ref_k.as<uint8_t>() + ref_k.nbytes()));
    CHECK(d_v_cache.download<uint8_t>() ==
          std::vector<uint8_t>(ref_v.as<uint8_t>(), ref_v.as<uint8_t>() + ref_v.nbytes()));
}

TEST_CASE("kernel kv_store: writes the rows the CPU backend writes, F32 and F16 caches") {
    REQUIRE_DEVICE();
    for (fastvlm::DType dtype : {fastvlm::DType::F32, fastvlm::DType::F16}) {
        check_kv_store(1, 1, 1, 0, dtype);      // the whole cache
        check_kv_store(9, 7, 3, 0, dtype);      // a prompt from the start
        check_kv_store(9, 7, 1, 8, dtype);      // a decoded token into the last row
        check_kv_store(40, 128, 5, 20, dtype);  // the Qwen2-0.5B width (2 kv heads of 64)
    }
    check_kv_store(2051, 128, 2049, 1, fastvlm::DType::F16);  // more values than the capped grid has threads
    fastvlm::gpu::kv_store(nullptr, nullptr, fastvlm::DType::F16, nullptr, nullptr, 0, 8, 3, nullptr);
}

TEST_CASE("kernel kv_store: rejects bad shapes and cache dtypes") {
    REQUIRE_DEVICE();
    CHECK(test::error_of([] {
              fastvlm::gpu::kv_store(nullptr, nullptr, fastvlm::DType::F16, nullptr, nullptr, 1, 8, -1, nullptr);
          }) == "kv_store: bad shape: tokens 1, width 8, pos -1");
    CHECK(test::error_of([] {
              fastvlm::gpu::kv_store(nullptr, nullptr, fastvlm::DType::BF16, nullptr, nullptr, 1, 8, 0, nullptr);
          }) == "kv_store: cache dtype BF16 (expected F32 or F16)");
}

}  // namespace kernel_test

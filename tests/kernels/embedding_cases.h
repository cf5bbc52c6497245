// Tests of cuda/embedding.cu against the CPU backend's embedding, compiled into the SIMT suite
// (tests/test_kernel_embedding.cpp) and the GPU suite (tests/gpu/test_kernel_embedding.cu).
#pragma once
// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/embedding.cuh"

namespace kernel_test {

inline void check_embedding(int vocab, int dim, const std::vector<int>& ids, fastvlm::DType dtype) {
    Random random(uint64_t(vocab) * 29 + uint64_t(dim) + uint64_t(dtype));
    const std::vector<uint8_t> table = encode(random_floats(random, size_t(vocab) * size_t(dim), 3.0f), dtype);
    const int n_ids = int(ids.size());
    fastvlm::Tensor ref_y = reference_backend().alloc(fastvlm::DType::F32, {n_ids, dim});
    reference_backend().embedding(ref_y, host_tensor(table, dtype, {vocab, dim}), ids);

    DeviceBuffer<uint8_t> d_table(table);
    DeviceBuffer<int> d_ids(ids);
    DeviceBuffer<float> d_y(size_t(n_ids) * size_t(dim));
    fastvlm::gpu::embedding(d_table.get(), dtype, d_ids.get(), d_y.get(), n_ids, dim, nullptr);
    // A gather and an exact widening.
    check_exact(d_y.download<float>(), host_values(ref_y),
                "embedding " + shape_name(vocab, dim) + " " + fastvlm::dtype_name(dtype));
}

TEST_CASE("kernel embedding: gathers the rows the CPU backend gathers, for every float dtype") {
    REQUIRE_DEVICE();
    for (fastvlm::DType dtype : {fastvlm::DType::F32, fastvlm::DType::F16, fastvlm::DType::BF16}) {
        check_embedding(1, 1, {0}, dtype);
        check_embedding(50, 7, {49, 0, 3, 3, 17}, dtype);  // last and first rows, a repeat
        check_embedding(40, 300, {5, 39}, dtype);          // rows longer than a block
    }
    check_embedding(10, 896, {1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}, fastvlm::DType::BF16);  // the Qwen2 width
    std::vector<int> many(1025);                                                        // more ids than the capped grid
    for (size_t i = 0; i < many.size(); ++i) many[i] = int(i * 13 % 97);
    check_embedding(97, 3, many, fastvlm::DType::F16);
}

TEST_CASE("kernel embedding: no ids launch nothing; bad shapes and dtypes are rejected") {
    REQUIRE_DEVICE();
    fastvlm::gpu::embedding(nullptr, fastvlm::DType::F16, nullptr, nullptr, 0, 8, nullptr);
    CHECK(test::error_of([] {
              fastvlm::gpu::embedding(nullptr, fastvlm::DType::F16, nullptr, nullptr, 3, 0, nullptr);
          }) == "embedding: bad shape: n_ids 3, dim 0");
    CHECK(test::error_of([] {
              fastvlm::gpu::embedding(nullptr, fastvlm::DType::I8, nullptr, nullptr, 3, 8, nullptr);
          }) == "embedding: table has dtype I8 (expected F32, F16 or BF16)");
}

}  // namespace kernel_test

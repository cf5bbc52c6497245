// Tests of cuda/attention.cu against the CPU backend: its self_attention (vision, all keys), its
// attention_cached (causal prefill over F32 and F16 caches, and single tokens, which take the
// CPU's decode path), and strided rows over more keys than queries. Compiled into the SIMT
// suite (tests/test_kernel_attention.cpp) and the GPU suite (tests/gpu/test_kernel_attention.cu).
#pragma once
#include <algorithm>
#include <limits>

// First: it brings in the standard headers before cuda/simt/simt.h defines its qualifier macros.
#include "tests/kernels/backend_ops_f32_test.h"

#include "cuda/attention.cuh"

namespace kernel_test {

struct AttentionShape {
    int n_queries, n_keys, heads, kv_heads, head_dim;
};

// Tolerance of an attention output, a weighted mean of values: the two sides round the scores
// differently by a few ulps of the largest score magnitude S = scale |q|_1 max |k|, and the
// exponentials (the CPU's polynomial, the device's exp2f) and the normalising sums by a few
// ulps each; each moves the weights relatively, so the output by 2^-20 (1 + S) max |v|.
inline std::vector<float> attention_tolerance(const std::vector<float>& q, int q_stride, int n_queries, int heads,
                                              int head_dim, float scale, float max_k, float max_v, int out_stride) {
    std::vector<float> tolerance(size_t(n_queries) * size_t(out_stride), 0.0f);
    for (int t = 0; t < n_queries; ++t)
        for (int h = 0; h < heads; ++h) {
            float q_norm = 0.0f;
            for (int d = 0; d < head_dim; ++d) q_norm += std::fabs(q[size_t(t) * q_stride + size_t(h * head_dim + d)]);
            const float bound = std::ldexp(1.0f + scale * q_norm * max_k, -20) * max_v;
            for (int d = 0; d < head_dim; ++d) tolerance[size_t(t) * out_stride + size_t(h * head_dim + d)] = bound;
        }
    return tolerance;
}

// Vision: qkv [n, 3 heads head_dim] through Backend::self_attention's mapping onto the kernel.
inline void check_self_attention(int n, int heads, int head_dim, float q_range = 1.0f) {
    Random random(uint64_t(n) * 47 + uint64_t(heads) * 5 + uint64_t(head_dim));
    const int width = heads * head_dim, stride = 3 * width;
    std::vector<float> qkv = random_floats(random, size_t(n) * size_t(stride), 1.0f);  // [n, q | k | v]
    for (int t = 0; t < n; ++t)
        for (int i = 0; i < width; ++i) qkv[size_t(t) * stride + size_t(i)] *= q_range;
    const float scale = 1.0f / std::sqrt(float(head_dim));
    fastvlm::Tensor ref_out = reference_backend().alloc(fastvlm::DType::F32, {n, width});
    reference_backend().self_attention(ref_out, host_tensor(qkv, {n, stride}), heads, head_dim);
    const std::vector<float> want = host_values(ref_out);

    DeviceBuffer<float> d_qkv(qkv), d_out(size_t(n) * size_t(width));
    const float* q = d_qkv.get();
    fastvlm::gpu::attention(q, stride, q + width, q + 2 * width, stride, fastvlm::DType::F32, d_out.get(), width, n, n,
                            heads, heads, head_dim, -1, scale, nullptr);
    check_close_f32(d_out.download<float>(), want,
                    attention_tolerance(qkv, stride, n, heads, head_dim, scale, 1.0f, 1.0f, width),
                    "self_attention " + std::to_string(n) + " tokens, " + std::to_string(heads) + " heads of " +
                        std::to_string(head_dim));
}

// Causal attention of t tokens at positions [pos, pos + t) over a cache of `dtype`, as
// Backend::attention_cached maps onto the kernel. Cache rows past pos + t hold NaN.
inline void check_attention_cached(int t, int pos, int heads, int kv_heads, int head_dim, fastvlm::DType dtype,
                                   float q_range = 1.0f) {
    Random random(uint64_t(t) * 53 + uint64_t(pos) * 3 + uint64_t(heads) + uint64_t(head_dim) + uint64_t(dtype));
    const int width = heads * head_dim, kv_width = kv_heads * head_dim, n_keys = pos + t, capacity = n_keys + 2;
    const std::vector<float> q = random_floats(random, size_t(t) * size_t(width), q_range);   // [t, width]
    std::vector<float> k = random_floats(random, size_t(capacity) * size_t(kv_width), 1.0f);  // [capacity, kv_width]
    std::vector<float> v = random_floats(random, size_t(capacity) * size_t(kv_width), 1.0f);
    std::fill(k.begin() + ptrdiff_t(n_keys) * kv_width, k.end(), std::numeric_limits<float>::quiet_NaN());
    std::fill(v.begin() + ptrdiff_t(n_keys) * kv_width, v.end(), std::numeric_limits<float>::quiet_NaN());
    const std::vector<uint8_t> k_bytes = encode(k, dtype), v_bytes = encode(v, dtype);
    const float scale = 1.0f / std::sqrt(float(head_dim));
    fastvlm::Tensor ref_out = reference_backend().alloc(fastvlm::DType::F32, {t, width});
    reference_backend().attention_cached(
        ref_out, host_tensor(q, {t, width}), host_tensor(k_bytes, dtype, {capacity, kv_width}),
        host_tensor(v_bytes, dtype, {capacity, kv_width}), pos, heads, kv_heads, head_dim);
    const std::vector<float> want = host_values(ref_out);

    DeviceBuffer<float> d_q(q), d_out(size_t(t) * size_t(width));
    DeviceBuffer<uint8_t> d_k(k_bytes), d_v(v_bytes);
    fastvlm::gpu::attention(d_q.get(), width, d_k.get(), d_v.get(), kv_width, dtype, d_out.get(), width, t, n_keys,
                            heads, kv_heads, head_dim, pos, scale, nullptr);
    check_close_f32(d_out.download<float>(), want,
                    attention_tolerance(q, width, t, heads, head_dim, scale, 1.0f, 1.0f, width),
                    "attention_cached " + std::to_string(t) + " tokens at " + std::to_string(pos) + ", heads " +
                        std::to_string(heads) + "/" + std::to_string(kv_heads) + " of " + std::to_string(head_dim) +
                        " " + fastvlm::dtype_name(dtype));
}

// Every query over all n_keys keys, rows padded: q, k, v and out each have a longer stride than
// their heads fill. The padding of k and v holds NaN (never read); out's padding must survive.
// Reference: the CPU backend's attention_cached of each query alone as the token at
// position n_keys - 1, which attends every key.
inline void check_attention_strided(const AttentionShape& s, fastvlm::DType dtype) {
    Random random(uint64_t(s.n_queries) * 59 + uint64_t(s.n_keys) + uint64_t(s.heads) * 3 + uint64_t(dtype));
    const int width = s.heads * s.head_dim, kv_width = s.kv_heads * s.head_dim;
    const int q_stride = width + 5, kv_stride = kv_width + 7, out_stride = width + 3;
    const float nan = std::numeric_limits<float>::quiet_NaN(), sentinel = 12345.0f;
    const std::vector<float> q = random_floats(random, size_t(s.n_queries) * size_t(q_stride), 2.0f);
    std::vector<float> k = random_floats(random, size_t(s.n_keys) * size_t(kv_stride), 1.0f);
    std::vector<float> v = random_floats(random, size_t(s.n_keys) * size_t(kv_stride), 1.0f);
    for (int p = 0; p < s.n_keys; ++p)
        for (int i = kv_width; i < kv_stride; ++i)
            k[size_t(p) * kv_stride + size_t(i)] = v[size_t(p) * kv_stride + size_t(i)] = nan;
    const std::vector<uint8_t> k_bytes = encode(k, dtype), v_bytes = encode(v, dtype);

    // The reference: compact caches, one query at a time.
    std::vector<float> k_rows, v_rows;
    for (int p = 0; p < s.n_keys; ++p) {
        k_rows.insert(k_rows.end(), k.begin() + ptrdiff_t(p) * kv_stride,
                      k.begin() + ptrdiff_t(p) * kv_stride + kv_width);
        v_rows.insert(v_rows.end(), v.begin() + ptrdiff_t(p) * kv_stride,
                      v.begin() + ptrdiff_t(p) * kv_stride + kv_width);
    }
    fastvlm::Tensor k_cache = host_tensor(encode(k_rows, dtype), dtype, {s.n_keys, kv_width});
    fastvlm::Tensor v_cache = host_tensor(encode(v_rows, dtype), dtype, {s.n_keys, kv_width});
    std::vector<float> want(size_t(s.n_queries) * size_t(out_stride), sentinel);
    for (int t = 0; t < s.n_queries; ++t) {
        const std::vector<float> q_row(q.begin() + ptrdiff_t(t) * q_stride,
                                       q.begin() + ptrdiff_t(t) * q_stride + width);
        fastvlm::Tensor out_row = reference_backend().alloc(fastvlm::DType::F32, {1, width});
        reference_backend().attention_cached(out_row, host_tensor(q_row, {1, width}), k_cache, v_cache, s.n_keys - 1,
                                             s.heads, s.kv_heads, s.head_dim);
        const std::vector<float> o = host_values(out_row);
        std::copy(o.begin(), o.end(), want.begin() + ptrdiff_t(t) * out_stride);
    }

    const float scale = 1.0f / std::sqrt(float(s.head_dim));
    DeviceBuffer<float> d_q(q), d_out(want.size());
    const std::vector<float> sentinels(want.size(), sentinel);
    FASTVLM_CUDA_CHECK(cudaMemcpy(d_out.get(), sentinels.data(), d_out.bytes(), cudaMemcpyHostToDevice));
    DeviceBuffer<uint8_t> d_k(k_bytes), d_v(v_bytes);
    fastvlm::gpu::attention(d_q.get(), q_stride, d_k.get(), d_v.get(), kv_stride, dtype, d_out.get(), out_stride,
                            s.n_queries, s.n_keys, s.heads, s.kv_heads, s.head_dim, -1, scale, nullptr);
    std::vector<float> tolerance =
        attention_tolerance(q, q_stride, s.n_queries, s.heads, s.head_dim, scale, 1.0f, 1.0f, out_stride);
    check_close_f32(d_out.download<float>(), want, tolerance,
                    "attention strided, " + std::to_string(s.n_queries) + " queries over " + std::to_string(s.n_keys) +
                        " keys, heads " + std::to_string(s.heads) + "/" + std::to_string(s.kv_heads) + " of " +
                        std::to_string(s.head_dim) + " " + fastvlm::dtype_name(dtype));
}

TEST_CASE("kernel attention: matches the CPU self_attention on vision shapes") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_self_attention(1, 1, 32);         // one token: the output is its value
        check_self_attention(37, 3, 32);        // a ragged last key chunk and row tile
        check_self_attention(20, 2, 20);        // head_dim under a warp
        check_self_attention(9, 1, 128, 3.0f);  // the largest head_dim, peaked scores
    });
    check_self_attention(70, 2, 64);
    check_self_attention(150, 1, 32);  // many key chunks and row tiles
}

TEST_CASE("kernel attention: matches the CPU attention_cached, causal, F32 and F16 caches") {
    REQUIRE_DEVICE();
    run_checked([] {
        for (fastvlm::DType dtype : {fastvlm::DType::F32, fastvlm::DType::F16}) {
            check_attention_cached(1, 0, 2, 2, 64, dtype);          // the first token: its own value
            check_attention_cached(5, 0, 2, 2, 64, dtype);          // a prompt, group 1
            check_attention_cached(7, 33, 14, 2, 64, dtype);        // after a cached prefix, group 7 (Qwen2)
            check_attention_cached(1, 40, 14, 2, 64, dtype, 4.0f);  // one decoded token, peaked scores
        }
        check_attention_cached(3, 2, 6, 3, 48, fastvlm::DType::F16);  // group 2, head_dim between warps
    });
    check_attention_cached(20, 45, 14, 2, 64, fastvlm::DType::F16);  // several key chunks, rows in many tiles
}

TEST_CASE("kernel attention: strided rows over more keys than queries") {
    REQUIRE_DEVICE();
    run_checked([] {
        check_attention_strided({3, 45, 4, 2, 32}, fastvlm::DType::F32);
        check_attention_strided({1, 33, 7, 1, 64}, fastvlm::DType::F16);  // group 7 over one kv head
        check_attention_strided({2, 5, 2, 2, 96}, fastvlm::DType::F32);
    });
    // The keys of the third FastViTHD stage at 1024 x 1024 input: 32 chunks of online softmax.
    check_attention_strided({8, 1024, 2, 1, 32}, fastvlm::DType::F32);
}

TEST_CASE("kernel attention: no queries launch nothing; bad shapes are rejected") {
    REQUIRE_DEVICE();
    using fastvlm::DType;
    DeviceBuffer<float> d(64);
    const float* p = d.get();
    float* out = d.get();
    fastvlm::gpu::attention(p, 64, p, p, 64, DType::F32, out, 64, 0, 4, 1, 1, 64, -1, 0.125f, nullptr);
    CHECK(test::error_of([&] {
              fastvlm::gpu::attention(p, 64, p, p, 64, DType::F32, out, 64, 1, 0, 1, 1, 64, -1, 0.125f, nullptr);
          }) == "attention: bad shape: 1 queries, 0 keys, 1 heads over 1 kv heads of 64");
    CHECK(test::error_of([&] {
              fastvlm::gpu::attention(p, 896, p, p, 128, DType::F32, out, 896, 1, 4, 14, 3, 64, -1, 0.125f, nullptr);
          }) == "attention: 14 query heads cannot share 3 kv heads");
    CHECK(test::error_of([&] {
              fastvlm::gpu::attention(p, 256, p, p, 256, DType::F32, out, 256, 1, 4, 1, 1, 256, -1, 0.125f, nullptr);
          }) == "attention: head_dim 256 is not supported (at most 128)");
    CHECK(test::error_of([&] {
              fastvlm::gpu::attention(p, 896, p, p, 64, DType::F32, out, 896, 1, 4, 14, 2, 64, -1, 0.125f, nullptr);
          }) ==
          "attention: row strides q 896, kv 64, out 896 are shorter than the rows of 14 heads and 2 kv heads of 64");
    CHECK(test::error_of([&] {
              fastvlm::gpu::attention(p, 64, p, p, 64, DType::F32, out, 64, 3, 4, 1, 1, 64, 2, 0.125f, nullptr);
          }) == "attention: causal queries at positions [2, 5) need more than the 4 keys given");
    CHECK(test::error_of([&] {
              fastvlm::gpu::attention(p, 64, p, p, 64, DType::F32, out, 64, 1, 4, 1, 1, 64, -1,
                                      std::numeric_limits<float>::infinity(), nullptr);
          }) == "attention: scale inf is not a finite number");
    CHECK(test::error_of([&] {
              fastvlm::gpu::attention(p, 64, p, p, 64, DType::BF16, out, 64, 1, 4, 1, 1, 64, -1, 0.125f, nullptr);
          }) == "attention: kv dtype BF16 (expected F32 or F16)");
}

}  // namespace kernel_test

// The CUDA backend against the CPU backend, operation by operation and on the whole tiny golden
// model (test-backend-ops style). Compiled twice: under the SIMT runtime (tests/test_backend_cuda.cpp,
// `make test`) and with nvcc for the device (tests/gpu/test_backend_cuda.cu, `make test-gpu`).
#pragma once
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "loader/model_files.h"
#include "model/fastvlm.h"
#include "model/linear.h"
#include "runtime/cpu/backend_cpu.h"
#include "runtime/cuda/backend_cuda.h"
#include "runtime/generate.h"
#include "runtime/half.h"
#include "tests/golden_compare.h"
#include "tests/kernels/kernel_test.h"
#include "tokenizer/prompt.h"
#include "tokenizer/tokenizer.h"

namespace backend_cuda_test {

using namespace fastvlm;

// Deterministic values in [-scale, scale).
inline std::vector<float> values(size_t n, uint32_t seed, float scale = 1.0f) {
    std::vector<float> v(n);
    uint32_t s = seed * 2654435761u + 12345u;
    for (float& x : v) {
        s = s * 1664525u + 1013904223u;
        x = scale * (float(s >> 8) * (2.0f / 16777216.0f) - 1.0f);
    }
    return v;
}

// The same tensor on both backends.
struct Pair {
    Tensor cpu, gpu;
};

struct Backends {
    cpu::CpuBackend cpu{1};
    gpu::CudaBackend gpu;

    Pair f32(const Shape& shape, uint32_t seed, float scale = 1.0f) {
        const std::vector<float> v = values(size_t(shape_numel(shape)), seed, scale);
        return {cpu.upload(v, shape), gpu.upload(v, shape)};
    }
    // A weight stored in `dtype` (the values rounded to it first).
    Pair stored(const Shape& shape, uint32_t seed, DType dtype, float scale = 1.0f) {
        std::vector<float> v = values(size_t(shape_numel(shape)), seed, scale);
        std::vector<uint16_t> bits(v.size());
        for (size_t i = 0; i < v.size(); ++i) bits[i] = dtype == DType::BF16 ? float_to_bf16(v[i]) : float_to_fp16(v[i]);
        if (dtype == DType::F32) return {cpu.upload(v, shape), gpu.upload(v, shape)};
        return {cpu.upload_bytes(dtype, shape, bits.data()), gpu.upload_bytes(dtype, shape, bits.data())};
    }
    Pair empty(DType dtype, const Shape& shape) { return {cpu.alloc(dtype, shape), gpu.alloc(dtype, shape)}; }

    // max |cpu - gpu| <= tolerance * max(1, max |cpu|)
    void check_close(const Pair& p, double tolerance, const std::string& what) {
        const std::vector<float> a = cpu.read(p.cpu), b = gpu.read(p.gpu);
        REQUIRE(a.size() == b.size());
        double worst = 0, scale = 1;
        for (size_t i = 0; i < a.size(); ++i) {
            scale = std::max(scale, double(std::fabs(a[i])));
            worst = std::max(worst, double(std::fabs(a[i] - b[i])));
            if (!std::isfinite(b[i])) FAIL(what << ": non-finite value at " << i);
        }
        CAPTURE(what);
        CHECK(worst <= tolerance * scale);
    }
};

// The tiny golden model (llava layout), its reference tensors and the default prompt's ids.
struct TinyModel {
    test::Reference ref{"tests/golden/fastvlm_tiny/reference.safetensors"};
    ModelFiles files{"tests/golden/fastvlm_tiny/llava"};
    std::vector<int32_t> ids =
        fastvlm_prompt_ids(Tokenizer::from_file("tests/golden/tokenizer/tiny_tokenizer.json"), kDefaultQuestion).ids;
};

// fp32 sums in a different order: a few ulps of the magnitude of the largest terms.
constexpr double kTolerance = 2e-5;

TEST_CASE("cuda backend: matmul and linear in every weight mode match the CPU backend") {
    REQUIRE_DEVICE();
    Backends b;
    for (const int m : {1, 3, 37})
        for (const DType dtype : {DType::F32, DType::F16, DType::BF16}) {
            CAPTURE(m);
            const int n = 45, k = 70;
            Pair x = b.f32({m, k}, 1), w = b.stored({n, k}, 2, dtype, 0.2f), bias = b.f32({n}, 3);
            Pair y = b.empty(DType::F32, {m, n});
            b.cpu.matmul(y.cpu, x.cpu, w.cpu, bias.cpu, Activation::GELU);
            b.gpu.matmul(y.gpu, x.gpu, w.gpu, bias.gpu, Activation::GELU);
            b.check_close(y, kTolerance, std::string("matmul ") + dtype_name(dtype));
        }
    // The weight modes: the same quantized weights on both; int8/w4a4 quantize activations, whose
    // codes can differ by one where the CPU's and the GPU's fp16 inputs round a tie differently:
    // their outputs are compared at the 16-bit modes' precision. The others multiply the same
    // values (fp16 weights or dequantized NF4 times fp16-rounded inputs: exact products), so only
    // the summation order and the final fp16 rounding differ.
    const int n = 40, k = 128;
    std::vector<float> wv = values(size_t(n) * k, 4, 0.3f), bv = values(n, 5, 0.1f);
    TensorView wview{"w", "memory", DType::F32, {n, k}, reinterpret_cast<const uint8_t*>(wv.data()), wv.size() * 4};
    TensorView bview{"b", "memory", DType::F32, {n}, reinterpret_cast<const uint8_t*>(bv.data()), bv.size() * 4};
    for (const WeightMode mode : {WeightMode::Reference, WeightMode::F16, WeightMode::Int8, WeightMode::NF4F32,
                                  WeightMode::NF4F16, WeightMode::W4A4})
        for (const int m : {1, 4, 13}) {  // 13: the CPU's NF4 prefill path; the GPU's tensor cores in fp16
            CAPTURE(weight_mode_name(mode));
            CAPTURE(m);
            const LinearWeight wc = load_linear(b.cpu, wview, &bview, mode);
            const LinearWeight wg = load_linear(b.gpu, wview, &bview, mode);
            Pair x = b.f32({m, k}, 6), y = b.empty(DType::F32, {m, n});
            b.cpu.linear(y.cpu, x.cpu, wc);
            b.gpu.linear(y.gpu, x.gpu, wg);
            // W4A32 keeps fp32 activations in and out on both: only the summation order differs.
            const bool exact_inputs =
                mode == WeightMode::Reference || mode == WeightMode::F16 || mode == WeightMode::NF4F16;
            const double tolerance = mode == WeightMode::NF4F32 ? kTolerance : exact_inputs ? 1e-3 : 2e-2;
            b.check_close(y, tolerance, std::string("linear ") + weight_mode_name(mode));
        }
}

TEST_CASE("cuda backend: int8 prefill keeps a column in fp16 for every token when one token needs it") {
    REQUIRE_DEVICE();
    Backends b;
    const int n = 24, k = 64, m = 5;
    std::vector<float> wv = values(size_t(n) * k, 21, 0.3f), xv = values(size_t(m) * k, 22);
    xv[size_t(3) * k + 10] = 9.5f;   // token 3 pushes column 10 past the threshold (6) ...
    xv[size_t(1) * k + 10] = 0.75f;  // ... so token 1's small value there goes the fp16 way too
    TensorView wview{"w", "memory", DType::F32, {n, k}, reinterpret_cast<const uint8_t*>(wv.data()), wv.size() * 4};
    const LinearWeight wc = load_linear(b.cpu, wview, nullptr, WeightMode::Int8);
    const LinearWeight wg = load_linear(b.gpu, wview, nullptr, WeightMode::Int8);
    Pair x{b.cpu.upload(xv, {m, k}), b.gpu.upload(xv, {m, k})}, y = b.empty(DType::F32, {m, n});
    b.cpu.linear(y.cpu, x.cpu, wc);
    b.gpu.linear(y.gpu, x.gpu, wg);
    b.check_close(y, 1e-6, "int8 prefill with an outlier column");  // the same bits on both sides
}

TEST_CASE("cuda backend: vision operations match the CPU backend") {
    REQUIRE_DEVICE();
    Backends b;
    // Stem-like dense conv (stride 2, pad 1) and depthwise convs (7x7, multiplier 2, stride 2).
    {
        Pair x = b.f32({13, 11, 3}, 10), w = b.stored({6, 3, 3, 3}, 11, DType::F16), bias = b.f32({6}, 12);
        Pair y = b.empty(DType::F32, {7, 6, 6});
        b.cpu.conv2d(y.cpu, x.cpu, w.cpu, bias.cpu, 2, 1, Activation::GELU);
        b.gpu.conv2d(y.gpu, x.gpu, w.gpu, bias.gpu, 2, 1, Activation::GELU);
        b.check_close(y, kTolerance, "conv2d");
    }
    {
        Pair x = b.f32({9, 10, 4}, 13), w = b.stored({8, 1, 7, 7}, 14, DType::F32), bias = b.f32({8}, 15);
        Pair y = b.empty(DType::F32, {5, 5, 8});
        b.cpu.depthwise_conv2d(y.cpu, x.cpu, w.cpu, bias.cpu, 2, 3, Activation::None);
        b.gpu.depthwise_conv2d(y.gpu, x.gpu, w.gpu, bias.gpu, 2, 3, Activation::None);
        b.check_close(y, kTolerance, "depthwise_conv2d");
    }
    {
        Pair x = b.f32({9, 10, 5}, 16), w = b.stored({5, 1, 3, 3}, 17, DType::BF16);
        Pair y = b.empty(DType::F32, {9, 10, 5});
        b.cpu.depthwise_conv2d(y.cpu, x.cpu, w.cpu, Tensor(), 1, 1, Activation::ReLU);
        b.gpu.depthwise_conv2d(y.gpu, x.gpu, w.gpu, Tensor(), 1, 1, Activation::ReLU);
        b.check_close(y, kTolerance, "depthwise_conv2d without bias");
    }
    {
        Pair x = b.f32({7, 33}, 18), w = b.stored({33}, 19, DType::F16), bias = b.stored({33}, 20, DType::F16);
        Pair y = b.empty(DType::F32, {7, 33});
        b.cpu.layernorm(y.cpu, x.cpu, w.cpu, bias.cpu, 1e-6f);
        b.gpu.layernorm(y.gpu, x.gpu, w.gpu, bias.gpu, 1e-6f);
        b.check_close(y, kTolerance, "layernorm");
    }
    {
        Pair y = b.f32({6, 17}, 21), x = b.f32({6, 17}, 22), s = b.stored({17}, 23, DType::F16);
        b.cpu.add_scaled(y.cpu, x.cpu, s.cpu);
        b.gpu.add_scaled(y.gpu, x.gpu, s.gpu);
        b.check_close(y, kTolerance, "add_scaled");
        Pair mean = b.empty(DType::F32, {1, 17});
        b.cpu.mean_rows(mean.cpu, x.cpu);
        b.gpu.mean_rows(mean.gpu, x.gpu);
        b.check_close(mean, kTolerance, "mean_rows");
        b.cpu.scale_channels(x.cpu, mean.cpu);
        b.gpu.scale_channels(x.gpu, mean.gpu);
        b.check_close(x, kTolerance, "scale_channels");
        Pair t = b.empty(DType::F32, {17, 6});
        b.cpu.transpose(t.cpu, y.cpu);
        b.gpu.transpose(t.gpu, y.gpu);
        b.check_close(t, 0.0, "transpose");
        b.cpu.activate(t.cpu, Activation::Sigmoid);
        b.gpu.activate(t.gpu, Activation::Sigmoid);
        b.check_close(t, 1e-6, "activate");
    }
    for (const int tokens : {1, 19}) {
        const int heads = 2, head_dim = 32;
        Pair qkv = b.f32({tokens, 3 * heads * head_dim}, 24), out = b.empty(DType::F32, {tokens, heads * head_dim});
        b.cpu.self_attention(out.cpu, qkv.cpu, heads, head_dim);
        b.gpu.self_attention(out.gpu, qkv.gpu, heads, head_dim);
        b.check_close(out, kTolerance, "self_attention");
    }
}

TEST_CASE("cuda backend: language-model operations match the CPU backend") {
    REQUIRE_DEVICE();
    Backends b;
    Pair table = b.stored({50, 24}, 30, DType::BF16), y = b.empty(DType::F32, {3, 24});
    b.cpu.embedding(y.cpu, table.cpu, {7, 0, 49});
    b.gpu.embedding(y.gpu, table.gpu, {7, 0, 49});
    b.check_close(y, 0.0, "embedding");
    CHECK(test::error_of([&] { b.gpu.embedding(y.gpu, table.gpu, {7, 50, 1}); }).find("token id 50") !=
          std::string::npos);

    Pair x = b.f32({3, 24}, 31), w = b.stored({24}, 32, DType::F16), n = b.empty(DType::F32, {3, 24});
    b.cpu.rmsnorm(n.cpu, x.cpu, w.cpu, 1e-6f);
    b.gpu.rmsnorm(n.gpu, x.gpu, w.gpu, 1e-6f);
    b.check_close(n, kTolerance, "rmsnorm");
    b.cpu.rope(n.cpu, 3, 8, {4, 5, 900}, 1e6f);
    b.gpu.rope(n.gpu, 3, 8, {4, 5, 900}, 1e6f);
    b.check_close(n, kTolerance, "rope");
    Pair up = b.f32({3, 24}, 33);
    b.cpu.silu_gate(x.cpu, x.cpu, up.cpu);
    b.gpu.silu_gate(x.gpu, x.gpu, up.gpu);
    b.check_close(x, kTolerance, "silu_gate");

    // Prefill of 5 tokens then 2 decode steps over F32 and F16 caches, GQA 14 -> 2 heads.
    for (const DType cache_dtype : {DType::F32, DType::F16}) {
        const int heads = 14, kv_heads = 2, head_dim = 64, capacity = 9;
        Pair kc = b.empty(cache_dtype, {capacity, kv_heads * head_dim}), vc = b.empty(cache_dtype, {capacity, kv_heads * head_dim});
        int pos = 0;
        for (const int tokens : {5, 1, 1}) {
            CAPTURE(tokens);
            Pair q = b.f32({tokens, heads * head_dim}, 40 + uint32_t(pos)), k = b.f32({tokens, kv_heads * head_dim}, 50 + uint32_t(pos)),
                 v = b.f32({tokens, kv_heads * head_dim}, 60 + uint32_t(pos)), out = b.empty(DType::F32, {tokens, heads * head_dim});
            b.cpu.kv_store(kc.cpu, vc.cpu, k.cpu, v.cpu, pos);
            b.gpu.kv_store(kc.gpu, vc.gpu, k.gpu, v.gpu, pos);
            b.cpu.attention_cached(out.cpu, q.cpu, kc.cpu, vc.cpu, pos, heads, kv_heads, head_dim);
            b.gpu.attention_cached(out.gpu, q.gpu, kc.gpu, vc.gpu, pos, heads, kv_heads, head_dim);
            b.check_close(out, kTolerance, std::string("attention_cached ") + dtype_name(cache_dtype));
            pos += tokens;
        }
        CHECK(test::error_of([&] {
                  Pair k = b.f32({2, kv_heads * head_dim}, 1);
                  b.gpu.kv_store(kc.gpu, vc.gpu, k.gpu, k.gpu, capacity - 1);
              }).find("outside the cache") != std::string::npos);
    }
}

TEST_CASE("cuda backend: the tiny golden model generates what the CPU backend generates") {
    REQUIRE_DEVICE();
    const TinyModel tiny;
    const test::Reference& ref = tiny.ref;
    const ModelFiles& files = tiny.files;
    const std::vector<int32_t>& ids = tiny.ids;
    for (const WeightMode mode : {WeightMode::Reference, WeightMode::F16, WeightMode::NF4F16}) {  // F16: tensor cores
        CAPTURE(weight_mode_name(mode));
        std::vector<std::vector<float>> logits[2];
        std::vector<int32_t> tokens[2];
        for (int which = 0; which < 2; ++which) {
            std::unique_ptr<Backend> backend;
            if (which == 0) backend = std::make_unique<cpu::CpuBackend>(1);
            else backend = std::make_unique<gpu::CudaBackend>();
            FastVLM model(*backend, files, ModelModes::for_mode(mode));
            const Tensor image = model.encode_image(ref.floats("pixel_values"));
            const Tensor prompt = model.embed_prompt(ids, kImagePlaceholderId, &image);
            GenerateOptions options;
            options.max_new_tokens = 8;
            if (which == 1) options.forced_ids = tokens[0];  // compare logits position by position
            options.on_logits = [&](int, const std::vector<float>& l) { logits[which].push_back(l); };
            tokens[which] = generate(*backend, model.language_model(), prompt, options).ids;
        }
        REQUIRE(logits[0].size() == logits[1].size());
        double worst = 0, scale = 0;
        int same_top1 = 0;
        for (size_t p = 0; p < logits[0].size(); ++p) {
            size_t a = 0, c = 0;
            for (size_t i = 0; i < logits[0][p].size(); ++i) {
                worst = std::max(worst, double(std::fabs(logits[0][p][i] - logits[1][p][i])));
                scale = std::max(scale, double(std::fabs(logits[0][p][i])));
                if (logits[0][p][i] > logits[0][p][a]) a = i;
                if (logits[1][p][i] > logits[1][p][c]) c = i;
            }
            same_top1 += a == c;
        }
        // The reference mode differs only in summation order; fp16 and nf4-fp16 also in where fp16
        // rounding ties fall, which the next layers amplify a little.
        CHECK(worst <= (mode == WeightMode::Reference ? 1e-4 : 2e-2) * scale);
        CHECK(same_top1 == int(logits[0].size()));
    }
}

#if defined(FASTVLM_SIMT)
TEST_CASE("cuda backend: cuBLASLt GEMMs are refused under the SIMT runtime, with the reason") {
    BackendOptions options;
    options.gemm = GemmEngine::CublasLt;
    CHECK(test::error_of([&] { gpu::CudaBackend backend(options); }) ==
          "cuda backend: cuBLASLt GEMMs need a GPU: under the SIMT fiber runtime only our own kernels run");
}
#else
// --gemm cublaslt: cuBLASLt against our kernels on the same device. The inputs are rounded to the
// weight's dtype first, so both compute on identical operands and differ only in summation order.
TEST_CASE("cuda backend: cuBLASLt GEMMs match our kernels (fp32, fp16, bf16 weights; bias, activation)") {
    REQUIRE_DEVICE();
    BackendOptions lt_options;
    lt_options.gemm = GemmEngine::CublasLt;
    gpu::CudaBackend own, lt(lt_options);
    struct Shape {
        int m, n, k;
    };
    for (const Shape shape : {Shape{1, 896, 896}, Shape{1, 45, 70}, Shape{7, 33, 65}, Shape{296, 4864, 896},
                              Shape{4096, 96, 384}})
        for (const DType dtype : {DType::F32, DType::F16, DType::BF16})
            for (const Activation act : {Activation::None, Activation::GELU}) {
                const int m = shape.m, n = shape.n, k = shape.k;
                CAPTURE(m);
                CAPTURE(n);
                CAPTURE(k);
                CAPTURE(dtype_name(dtype));
                std::vector<float> xv = values(size_t(m) * k, 11, 1.0f), wv = values(size_t(n) * k, 12, 0.2f);
                const std::vector<float> bv = values(size_t(n), 13, 0.5f);
                std::vector<uint16_t> bits(wv.size());
                for (float& x : xv)
                    x = dtype == DType::F16 ? fp16_to_float(float_to_fp16(x))
                        : dtype == DType::BF16 ? bf16_to_float(float_to_bf16(x)) : x;
                for (size_t i = 0; i < wv.size(); ++i)
                    bits[i] = dtype == DType::BF16 ? float_to_bf16(wv[i]) : float_to_fp16(wv[i]);
                auto weight = [&](Backend& b) {
                    return dtype == DType::F32 ? b.upload(wv, {n, k}) : b.upload_bytes(dtype, {n, k}, bits.data());
                };
                const Tensor w_own = weight(own), w_lt = weight(lt);
                const Tensor x_own = own.upload(xv, {m, k}), x_lt = lt.upload(xv, {m, k});
                const Tensor b_own = own.upload(bv, {n}), b_lt = lt.upload(bv, {n});
                const Tensor y_own = own.alloc(DType::F32, {m, n}), y_lt = lt.alloc(DType::F32, {m, n});
                own.matmul(y_own, x_own, w_own, b_own, act);
                lt.matmul(y_lt, x_lt, w_lt, b_lt, act);
                const std::vector<float> a = own.read(y_own), c = lt.read(y_lt);
                double worst = 0, scale = 1;
                for (size_t i = 0; i < a.size(); ++i) {
                    REQUIRE(std::isfinite(c[i]));
                    scale = std::max(scale, double(std::fabs(a[i])));
                    worst = std::max(worst, double(std::fabs(a[i] - c[i])));
                }
                CHECK(worst <= kTolerance * scale);
            }
}

TEST_CASE("cuda backend: the tiny golden model on cuBLASLt generates what it generates on our kernels") {
    REQUIRE_DEVICE();
    const TinyModel tiny;
    const test::Reference& ref = tiny.ref;
    const ModelFiles& files = tiny.files;
    const std::vector<int32_t>& ids = tiny.ids;
    std::vector<int32_t> tokens[2];
    std::vector<std::vector<float>> logits[2];
    for (int which = 0; which < 2; ++which) {
        BackendOptions options;
        options.gemm = which == 0 ? GemmEngine::Own : GemmEngine::CublasLt;
        gpu::CudaBackend backend(options);
        FastVLM model(backend, files, ModelModes::for_mode(WeightMode::F16));
        const Tensor image = model.encode_image(ref.floats("pixel_values"));
        const Tensor prompt = model.embed_prompt(ids, kImagePlaceholderId, &image);
        GenerateOptions generate_options;
        generate_options.max_new_tokens = 8;
        generate_options.on_logits = [&](int, const std::vector<float>& l) { logits[which].push_back(l); };
        tokens[which] = generate(backend, model.language_model(), prompt, generate_options).ids;
    }
    CHECK(tokens[0] == tokens[1]);
    REQUIRE(logits[0].size() == logits[1].size());
    double worst = 0, scale = 0;
    for (size_t p = 0; p < logits[0].size(); ++p)
        for (size_t i = 0; i < logits[0][p].size(); ++i) {
            worst = std::max(worst, double(std::fabs(logits[0][p][i] - logits[1][p][i])));
            scale = std::max(scale, double(std::fabs(logits[0][p][i])));
        }
    // The vision tower's activations are narrowed to fp16 for cuBLASLt (fp32 on our kernels).
    CHECK(worst <= 2e-2 * scale);
}
#endif

}  // namespace backend_cuda_test

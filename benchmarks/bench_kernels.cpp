// ./bench kernels [--threads N] [--repeats N]
//
// Two tables. First, the compute-bound kernels (prefill GEMMs, the vision 1x1 and depthwise
// convolutions, vision self-attention, prefill attention) on the model's shapes, as GFLOP/s and
// % of the FMA peak measured on the spot. Then the decode kernels of Qwen2-0.5B (the linear layers in every weight mode, RMSNorm, rotary,
// SiLU-gate, decode attention) read against the memory bandwidth measured on the spot, as GB/s
// and % of it:
//   bandwidth  streaming read of a 512 MiB buffer, one thread and all threads, best of 3
//   CPU        the CPU twins (runtime/cpu/), one thread and the rows split over all threads
//   GPU        the CUDA kernels and cuBLASLt (benchmarks/bench_kernels_gpu.cu), only in a bench
//              built with nvcc; otherwise a line says the GPU part was skipped.
// Bytes per call count every operand read or written once (weights dominate).
//
// The linear layers: every GEMV shape of the model (one token) in fp16, int8, nf4-fp32,
// nf4-fp16 and w4a4. The int8 and w4a4 times include the activation quantization each layer
// call pays (on the calling thread, before the rows are split). Weights rotate through as many
// copies as span 64 MiB (twice the L3 cache of the build machine), so every call streams them
// from memory as a decode step does instead of hitting a warm cache. The random weights and
// activations (two int8 outlier columns, as Qwen2's hidden states have a few) time the same
// work as real ones. A closing table adds the shapes up per decoded token (24 layers and the
// lm_head) and compares each mode with fp16.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bandwidth.h"
#include "benchmarks/bench.h"
#include "runtime/cpu/attention_decode.h"
#include "runtime/cpu/attention_prefill.h"
#include "runtime/cpu/conv.h"
#include "runtime/cpu/gemv_fp16.h"
#include "runtime/cpu/gemv_int8.h"
#include "runtime/cpu/gemv_nf4.h"
#include "runtime/cpu/gemv_w4a4.h"
#include "runtime/cpu/matmul.h"
#include "runtime/cpu/rmsnorm.h"
#include "runtime/cpu/rope.h"
#include "runtime/cpu/self_attention.h"
#include "runtime/cpu/silu_gate.h"
#include "runtime/cpu/thread_pool.h"
#include "runtime/error.h"
#include "runtime/half.h"

#if defined(FASTVLM_BENCH_GPU)
#include "benchmarks/bench_kernels_gpu.h"
#endif

namespace {

using Clock = std::chrono::steady_clock;

// Best time in seconds of `repeats` runs of `run` (after one warm-up run).
double best_seconds(int repeats, const std::function<void()>& run) {
    run();
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        run();
        best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    }
    return best;
}

std::vector<uint16_t> fp16_values(size_t n, float scale) {
    std::vector<uint16_t> v(n);
    uint32_t state = 1;
    for (auto& h : v) {
        state = state * 1664525u + 1013904223u;
        h = fastvlm::float_to_fp16(scale * (float(state >> 8) / float(1u << 24) - 0.5f));
    }
    return v;
}

struct Row {
    std::string kernel, shape;
    double bytes;
    int items;                                 // rows, heads or elements: what threads split
    std::function<void(int begin, int end)> run;  // the items [begin, end)
    std::function<void()> prepare;             // once per call before the split (may be empty)
};

struct Timing {
    double one_thread, all_threads;  // seconds per call
};

Timing print_row(const Row& row, fastvlm::cpu::ThreadPool& pool, int repeats, double bandwidth_1, double bandwidth_n) {
    const double t1 = best_seconds(repeats, [&] {
        if (row.prepare) row.prepare();
        row.run(0, row.items);
    });
    const double tn = best_seconds(repeats, [&] {
        if (row.prepare) row.prepare();
        pool.split(row.items, [&](int64_t begin, int64_t end, int) { row.run(int(begin), int(end)); });
    });
    std::printf("%-28s %-16s %9.1f %7.1f %5.0f%% %9.1f %7.1f %5.0f%%\n", row.kernel.c_str(), row.shape.c_str(),
                t1 * 1e6, row.bytes / t1 / 1e9, 100.0 * row.bytes / t1 / 1e9 / bandwidth_1, tn * 1e6,
                row.bytes / tn / 1e9, 100.0 * row.bytes / tn / 1e9 / bandwidth_n);
    return {t1, tn};
}

// ------------------------------------------------------------------ the linear layers

struct LinearShape {
    const char* name;
    int out, in;
    bool bias;
    int per_token;  // calls per decoded token: 24 layers (k/v and gate/up twice), the lm_head once
};

const LinearShape kLinearShapes[] = {
    {"q_proj", 896, 896, true, 24},       {"k_proj/v_proj", 128, 896, true, 48}, {"o_proj", 896, 896, false, 24},
    {"gate/up_proj", 4864, 896, false, 48}, {"down_proj", 896, 4864, false, 24}, {"lm_head", 151936, 896, false, 1},
};
constexpr size_t kRotationBytes = size_t(64) << 20;  // weights per shape and mode: twice the L3 cache

uint32_t next_random(uint32_t& state) {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
}

// The weights of every mode, sized for the largest shape or the rotation span; smaller shapes
// take consecutive copies from the same buffers.
struct LinearWeights {
    std::vector<uint16_t> fp16;          // fp16 bits
    std::vector<int8_t> int8;            // int8 codes
    std::vector<float> row_scale;        // [largest out] SCB, shared by the copies
    std::vector<uint8_t> nibbles;        // NF4 and W4A4 codes, two per byte
    std::vector<uint8_t> absmax_codes;   // NF4: one per 64 values
    std::vector<float> nested_absmax;    // NF4: one per 256 blocks
    std::vector<float> dynamic_map;      // NF4: 256 sorted values
    std::vector<uint16_t> int4_scales;   // W4A4: fp16 bits, one per 64 values
    std::vector<uint16_t> bias16;
    std::vector<float> bias32;

    explicit LinearWeights(size_t largest_values, int largest_out) {
        const size_t values = std::max(largest_values, kRotationBytes / 2);
        uint32_t state = 7;
        fp16 = fp16_values(values, 0.1f);
        int8.resize(std::max(largest_values, kRotationBytes));
        for (int8_t& c : int8) c = int8_t(int(next_random(state) % 255u) - 127);
        row_scale.resize(size_t(largest_out));
        for (float& s : row_scale) s = 0.05f + float(next_random(state) % 1000u) * 1e-4f;
        nibbles.resize(std::max(largest_values, 2 * kRotationBytes) / 2);
        for (uint8_t& b : nibbles) {  // codes in [-7, 7] (W4A4); any nibble is an NF4 code
            const uint32_t r = next_random(state);
            b = uint8_t((((r % 15u) - 7u) & 15u) << 4 | (((r / 15u % 15u) - 7u) & 15u));
        }
        absmax_codes.resize(nibbles.size() * 2 / 64 + 1);
        for (uint8_t& c : absmax_codes) c = uint8_t(128u + next_random(state) % 128u);
        nested_absmax.assign(absmax_codes.size() / 256 + 1, 0.1f);
        dynamic_map.resize(256);
        for (int i = 0; i < 256; ++i) dynamic_map[size_t(i)] = float(i - 127) / 128.0f;
        int4_scales.resize(nibbles.size() * 2 / 64 + 1);
        for (uint16_t& h : int4_scales) h = fastvlm::float_to_fp16(0.001f + float(next_random(state) % 1000u) * 1e-5f);
        bias16 = fp16_values(size_t(largest_out), 0.1f);
        bias32.resize(bias16.size());
        for (size_t i = 0; i < bias16.size(); ++i) bias32[i] = fastvlm::fp16_to_float(bias16[i]);
    }
};

// Adds one row per shape and mode; `times` receives the rows' indices per mode for the summary.
void add_linear_rows(std::vector<Row>& rows, const LinearWeights& w, const std::vector<float>& x,
                     std::vector<float>& y, std::vector<std::vector<size_t>>& mode_rows) {
    using namespace fastvlm::cpu;
    static Int8Activations int8_activations;
    static Int4Activations int4_activations;
    static int copy = 0;  // the weight copy of the call in progress
    const char* const modes[] = {"fp16", "int8", "nf4-fp32", "nf4-fp16", "w4a4"};
    mode_rows.assign(5, {});
    for (int mode = 0; mode < 5; ++mode)
        for (const LinearShape& s : kLinearShapes) {
            const size_t values = size_t(s.out) * size_t(s.in);
            // Weight bytes of one copy, in the buffer that rotates for this mode.
            const double weight_bytes = mode == 0 ? 2.0 * values : mode == 1 ? double(values) : values / 2.0;
            const size_t buffer_bytes = mode == 0 ? w.fp16.size() * 2 : mode == 1 ? w.int8.size() : w.nibbles.size();
            const int copies = std::max(1, int(double(buffer_bytes) / weight_bytes));
            const double in = s.in, out = s.out, blocks = double(values) / 64.0;
            const double io = 4.0 * in + 4.0 * out;  // fp32 activations in and out
            double bytes = 0;
            Row row;
            row.kernel = std::string("gemv_") + modes[mode] + " " + s.name;
            row.shape = std::to_string(s.out) + "x" + std::to_string(s.in);
            row.items = s.out;
            switch (mode) {
                case 0:
                    bytes = 2.0 * values + io + (s.bias ? 2.0 * out : 0.0);
                    row.prepare = [copies] { copy = (copy + 1) % copies; };
                    row.run = [&w, &x, &y, s, values](int begin, int end) {
                        gemv_fp16(w.fp16.data() + size_t(copy) * values, s.bias ? w.bias16.data() : nullptr, x.data(),
                                  y.data(), 1, s.in, s.out, begin, end);
                    };
                    break;
                case 1:
                    bytes = double(values) + 4.0 * out + in + io + (s.bias ? 4.0 * out : 0.0);
                    row.prepare = [&x, copies, s] {
                        copy = (copy + 1) % copies;
                        quantize_activations_int8(x.data(), 1, s.in, 6.0f, int8_activations);
                    };
                    row.run = [&w, &y, s, values](int begin, int end) {
                        const Int8WeightView view{w.int8.data() + size_t(copy) * values, w.row_scale.data(), s.out, s.in};
                        gemv_int8(view, s.bias ? w.bias32.data() : nullptr, int8_activations, y.data(), begin, end);
                    };
                    break;
                case 2:
                case 3: {
                    bytes = values / 2.0 + blocks + io + (s.bias ? 4.0 * out : 0.0);
                    const NF4Compute compute = mode == 2 ? NF4Compute::F32 : NF4Compute::F16;
                    row.prepare = [copies] { copy = (copy + 1) % copies; };
                    row.run = [&w, &x, &y, s, values, compute](int begin, int end) {
                        const size_t first_block = size_t(copy) * values / 64;
                        const NF4WeightView view{w.nibbles.data() + size_t(copy) * values / 2,
                                                 w.absmax_codes.data() + first_block,
                                                 w.nested_absmax.data() + first_block / 256,
                                                 w.dynamic_map.data(), 0.01f, s.out, s.in};
                        gemv_nf4(view, compute, s.bias ? w.bias32.data() : nullptr, x.data(), y.data(), 1, begin, end);
                    };
                    break;
                }
                default:
                    bytes = values / 2.0 + 2.0 * blocks + in + io + (s.bias ? 4.0 * out : 0.0);
                    row.prepare = [&x, copies, s] {
                        copy = (copy + 1) % copies;
                        quantize_activations_int4(x.data(), 1, s.in, int4_activations);
                    };
                    row.run = [&w, &y, s, values](int begin, int end) {
                        const Int4WeightView view{w.nibbles.data() + size_t(copy) * values / 2,
                                                  w.int4_scales.data() + size_t(copy) * values / 64, s.out, s.in};
                        gemv_w4a4(view, s.bias ? w.bias32.data() : nullptr, int4_activations, y.data(), begin, end);
                    };
            }
            row.bytes = bytes;
            mode_rows[size_t(mode)].push_back(rows.size());
            rows.push_back(row);
        }
}

// Per decoded token: the layers' GEMVs, then with the lm_head in fp16 (the default) and in the
// mode itself (--lm-head quantized), each against fp16.
void print_linear_summary(const std::vector<Timing>& times, const std::vector<std::vector<size_t>>& mode_rows, int threads) {
    const char* const modes[] = {"fp16", "int8", "nf4-fp32", "nf4-fp16", "w4a4"};
    const size_t lm_head = std::size(kLinearShapes) - 1;
    auto layers = [&](size_t mode) {
        double total = 0;
        for (size_t i = 0; i < lm_head; ++i) total += kLinearShapes[i].per_token * times[mode_rows[mode][i]].all_threads;
        return total;
    };
    const double fp16_layers = layers(0), fp16_head = times[mode_rows[0][lm_head]].all_threads;
    const double fp16_total = fp16_layers + fp16_head;
    std::printf("linear layers per decoded token, %d threads (ms, and time / fp16 time):\n", threads);
    std::printf("%-10s %10s %10s %8s %10s %8s\n", "mode", "24 layers", "+fp16 head", "vs fp16", "+own head", "vs fp16");
    for (size_t mode = 0; mode < mode_rows.size(); ++mode) {
        const double l = layers(mode), own = l + times[mode_rows[mode][lm_head]].all_threads;
        std::printf("%-10s %10.2f %10.2f %7.2fx %10.2f %7.2fx\n", modes[mode], l * 1e3, (l + fp16_head) * 1e3,
                    (l + fp16_head) / fp16_total, own * 1e3, own / fp16_total);
    }
}

// ------------------------------------------------------------------ GEMM and vision kernels

// Eight fp32 lanes: one AVX2 register where the target has it.
typedef float Float8 __attribute__((vector_size(32)));

// Peak fp32 multiply-add rate (GFLOP/s) of the pool's threads: twelve independent FMA chains
// per thread, enough to cover the FMA latency on both ports. The spec's figure for the build
// machine is about 100 GFLOP/s for both cores.
double measure_fma_peak(fastvlm::cpu::ThreadPool& pool) {
    constexpr int kChains = 12;
    constexpr int64_t kIterations = int64_t(1) << 22;
    volatile float multiplier_seed = 0.9999999f, addend_seed = 1e-7f;
    const float multiplier = multiplier_seed, addend = addend_seed;
    std::vector<float> sums(static_cast<size_t>(pool.size()));
    const double seconds = best_seconds(5, [&] {  // best of five: other processes share the cores
        pool.split(pool.size(), [&](int64_t, int64_t, int thread) {
            // Named accumulators, not an array, so that they stay in registers.
            const Float8 m = Float8{} + multiplier, a = Float8{} + addend;
            // Distinct starting values, or the compiler folds the identical chains into one.
            Float8 c0 = a * 1.0f, c1 = a * 2.0f, c2 = a * 3.0f, c3 = a * 4.0f, c4 = a * 5.0f, c5 = a * 6.0f,
                   c6 = a * 7.0f, c7 = a * 8.0f, c8 = a * 9.0f, c9 = a * 10.0f, c10 = a * 11.0f, c11 = a * 12.0f;
            for (int64_t i = 0; i < kIterations; ++i) {
                c0 = c0 * m + a; c1 = c1 * m + a; c2 = c2 * m + a; c3 = c3 * m + a;
                c4 = c4 * m + a; c5 = c5 * m + a; c6 = c6 * m + a; c7 = c7 * m + a;
                c8 = c8 * m + a; c9 = c9 * m + a; c10 = c10 * m + a; c11 = c11 * m + a;
            }
            const Float8 total = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
            float s = 0;
            for (int lane = 0; lane < 8; ++lane) s += total[lane];
            sums[static_cast<size_t>(thread)] = s;
        });
    });
    volatile float sink = 0;
    for (float s : sums) sink = sink + s;
    return 2.0 * 8.0 * kChains * double(kIterations) * pool.size() / seconds / 1e9;
}

struct ComputeRow {
    std::string kernel, shape;
    double flops;  // per call, multiply-adds counted as two
    std::function<void(fastvlm::cpu::ThreadPool&)> run;
};

std::vector<float> float_values(size_t n, float scale, uint32_t seed) {
    std::vector<float> v(n);
    for (float& x : v) x = scale * (float(next_random(seed)) / float(1u << 24) - 0.5f);
    return v;
}

// The compute-bound kernels on the model's shapes: one thread, then all threads, each against
// the FMA peak of as many threads. Best of `repeats` calls after a warm-up.
void run_compute_table(fastvlm::cpu::ThreadPool& one, fastvlm::cpu::ThreadPool& pool, int repeats) {
    using namespace fastvlm::cpu;
    using fastvlm::DType;
    const double peak_1 = measure_fma_peak(one), peak_n = measure_fma_peak(pool);
    std::printf("GEMM and vision kernels (CPU): fp32 FMA peak %.1f GFLOP/s with 1 thread, %.1f GFLOP/s with %d threads "
                "(measured FMA loop; the spec states ~100 for both cores of the build machine)\n",
                peak_1, peak_n, pool.size());
    std::printf("%-30s %-30s %8s %9s %7s %6s %9s %7s %6s\n", "kernel", "shape", "GFLOP", "ms 1thr", "GFLOP/s", "%peak",
                "ms Nthr", "GFLOP/s", "%peak");

    std::vector<ComputeRow> rows;
    // Prefill linear layers of Qwen2-0.5B at 296 tokens (a 256-token image and a short prompt),
    // fp16 weights in the nn.Linear layout [out, in].
    const int tokens = 296, hidden = 896, inter = 4864;
    const std::vector<float> activations = float_values(size_t(tokens) * inter, 2.0f, 5);   // [296, <= 4864]
    const std::vector<uint16_t> weights16 = fp16_values(size_t(inter) * hidden, 0.1f);      // [<= 4864, <= 4864]
    const std::vector<float> bias = float_values(size_t(6144), 0.1f, 6);                    // [<= 6144]
    std::vector<float> output(size_t(4096) * 1536);                                          // largest c below
    struct GemmShape {
        const char* name;
        int m, n, k;
        bool bias;
        fastvlm::Activation act;
    };
    const GemmShape gemms[] = {{"gemm fp16 q_proj", tokens, hidden, hidden, true, fastvlm::Activation::None},
                               {"gemm fp16 gate_proj", tokens, inter, hidden, false, fastvlm::Activation::None},
                               {"gemm fp16 down_proj", tokens, hidden, inter, false, fastvlm::Activation::None}};
    for (const GemmShape& g : gemms)
        rows.push_back({g.name, std::to_string(g.m) + "x" + std::to_string(g.n) + "x" + std::to_string(g.k) + " (MxNxK)",
                        2.0 * g.m * g.n * g.k, [&, g](ThreadPool& p) {
                            GemmArgs a;
                            a.m = g.m; a.n = g.n; a.k = g.k;
                            a.a = activations.data(); a.lda = g.k;
                            a.b = weights16.data(); a.b_dtype = DType::F16; a.ldb = g.k;
                            a.bias = g.bias ? bias.data() : nullptr;
                            a.c = output.data(); a.ldc = g.n;
                            a.act = g.act;
                            gemm(p, a);
                        }});

    // FastViTHD stage 2 (384 channels at 64x64 = 4096 tokens): the ConvFFN's fc1, a 1x1 conv
    // 384 -> 1536 with GELU (a GEMM over the tokens), and its depthwise 7x7 conv.
    const int side = 64, channels = 384, expanded = 4 * channels, map_tokens = side * side;
    const std::vector<float> feature_map = float_values(size_t(map_tokens) * channels, 2.0f, 7);  // [64, 64, 384]
    const std::vector<uint16_t> fc1_weight = fp16_values(size_t(expanded) * channels, 0.1f);   // [1536, 384]
    rows.push_back({"conv1x1 fp16 s2 ConvFFN fc1", "4096 tok, 384->1536, GELU", 2.0 * map_tokens * expanded * channels,
                    [&](ThreadPool& p) {
                        GemmArgs a;
                        a.m = map_tokens; a.n = expanded; a.k = channels;
                        a.a = feature_map.data(); a.lda = channels;
                        a.b = fc1_weight.data(); a.b_dtype = DType::F16; a.ldb = channels;
                        a.bias = bias.data();
                        a.c = output.data(); a.ldc = expanded;
                        a.act = fastvlm::Activation::GELU;
                        gemm(p, a);
                    }});
    const std::vector<float> dw_weight = float_values(size_t(channels) * 49, 0.2f, 8);  // [384, 1, 7, 7]
    ConvShape dw;
    dw.in_h = dw.out_h = side; dw.in_w = dw.out_w = side; dw.in_c = dw.out_c = channels;
    dw.kernel = 7; dw.stride = 1; dw.pad = 3;
    rows.push_back({"depthwise 7x7 s2 ConvFFN", "64x64x384, pad 3", 2.0 * 49 * map_tokens * channels,
                    [&](ThreadPool& p) {
                        depthwise_conv2d_hwc(p, dw, feature_map.data(), dw_weight.data(), nullptr, output.data(),
                                             fastvlm::Activation::None);
                    }});

    // The stem's dense 3x3 stride-2 conv: 1024x1024x3 -> 512x512x96, GELU.
    const std::vector<float> image = float_values(size_t(1024) * 1024 * 3, 2.0f, 11);   // [1024, 1024, 3]
    const std::vector<float> stem_weight = float_values(size_t(96) * 3 * 9, 0.4f, 12);  // [96, 3, 3, 3]
    std::vector<float> stem_output(size_t(512) * 512 * 96);                             // [512, 512, 96]
    ConvShape stem;
    stem.in_h = stem.in_w = 1024; stem.in_c = 3;
    stem.out_h = stem.out_w = 512; stem.out_c = 96;
    stem.kernel = 3; stem.stride = 2; stem.pad = 1;
    rows.push_back({"conv2d 3x3 s2 stem", "1024x1024x3 -> 512x512x96", 2.0 * 512 * 512 * 96 * 27, [&](ThreadPool& p) {
                        conv2d_hwc(p, stem, image.data(), stem_weight.data(), bias.data(), stem_output.data(),
                                   fastvlm::Activation::GELU);
                    }});

    // FastViTHD stage 3 attention: 1024 tokens, 24 heads x 32; q k^T and scores . v.
    const int vit_tokens = 1024, vit_heads = 24, vit_head_dim = 32;
    const std::vector<float> qkv = float_values(size_t(vit_tokens) * 3 * vit_heads * vit_head_dim, 2.0f, 9);  // [1024, 2304]
    rows.push_back({"self_attention s3", "1024 tok, 24 heads x 32", 4.0 * vit_tokens * vit_tokens * vit_heads * vit_head_dim,
                    [&](ThreadPool& p) {
                        self_attention(p, qkv.data(), output.data(), vit_tokens, vit_heads, vit_head_dim,
                                       1.0f / std::sqrt(float(vit_head_dim)));
                    }});

    // Prefill attention of Qwen2-0.5B: 296 new tokens from position 0, 14 heads over 2 KV heads
    // of 64, fp16 cache; causal, so query i reads i + 1 keys.
    const int heads = 14, kv_heads = 2, head_dim = 64;
    const std::vector<float> q = float_values(size_t(tokens) * heads * head_dim, 2.0f, 10);          // [296, 896]
    const std::vector<uint16_t> k_cache = fp16_values(size_t(tokens) * kv_heads * head_dim, 2.0f);  // [296, 128]
    const std::vector<uint16_t> v_cache = fp16_values(size_t(tokens) * kv_heads * head_dim, 1.0f);  // [296, 128]
    rows.push_back({"attention_prefill fp16 cache", "296 tok, 14/2 heads x 64, causal",
                    4.0 * heads * head_dim * (double(tokens) * (tokens + 1) / 2.0), [&](ThreadPool& p) {
                        attention_prefill(p, q.data(), k_cache.data(), v_cache.data(), DType::F16, output.data(), tokens,
                                          0, heads, kv_heads, head_dim, 0.125f);
                    }});

    for (const ComputeRow& row : rows) {
        const double t1 = best_seconds(repeats, [&] { row.run(one); });
        const double tn = best_seconds(repeats, [&] { row.run(pool); });
        const double g1 = row.flops / t1 / 1e9, gn = row.flops / tn / 1e9;
        std::printf("%-30s %-30s %8.3f %9.2f %7.1f %5.0f%% %9.2f %7.1f %5.0f%%\n", row.kernel.c_str(),
                    row.shape.c_str(), row.flops / 1e9, t1 * 1e3, g1, 100.0 * g1 / peak_1, tn * 1e3, gn,
                    100.0 * gn / peak_n);
    }
    std::printf("(attention counts q k^T and scores . v, not the softmax; the causal count is the keys each query reads)\n\n");
}

int run_kernels(const std::vector<std::string>& args) {
    int threads = int(std::max(1u, std::thread::hardware_concurrency())), repeats = 20;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--threads" && i + 1 < args.size()) threads = std::max(1, std::atoi(args[++i].c_str()));
        else if (args[i] == "--repeats" && i + 1 < args.size()) repeats = std::max(1, std::atoi(args[++i].c_str()));
        else fastvlm::fail("bench kernels", "unknown argument '", args[i], "' (--threads N, --repeats N)");
    }
    fastvlm::cpu::ThreadPool one(1), pool(threads);
    run_compute_table(one, pool, std::min(repeats, 3));

    const double bandwidth_1 = bench::measure_bandwidth(one, size_t(512) << 20),
                 bandwidth_n = bench::measure_bandwidth(pool, size_t(512) << 20);
    std::printf("kernels (CPU twins): read bandwidth %.1f GB/s with 1 thread, %.1f GB/s with %d threads\n",
                bandwidth_1, bandwidth_n, threads);
    std::printf("%-28s %-16s %9s %7s %6s %9s %7s %6s\n", "kernel", "shape", "us 1thr", "GB/s", "%bw", "us Nthr",
                "GB/s", "%bw");

    const int hidden = 896, inter = 4864, heads = 14, kv_heads = 2, head_dim = 64;
    const int largest_in = inter, largest_out = 151936;  // down_proj input, lm_head rows
    const LinearWeights linear(static_cast<size_t>(largest_out) * hidden, largest_out);
    const std::vector<uint16_t>& weights = linear.fp16;  // rmsnorm reads its gain from here
    std::vector<float> x(static_cast<size_t>(largest_in)), y(static_cast<size_t>(largest_out));
    uint32_t state = 3;
    for (float& v : x) v = float(next_random(state) % 2001u) * 1e-3f - 1.0f;
    x[100] = 20.0f;  // outlier columns of the int8 mode
    x[500] = -12.0f;
    std::vector<Row> rows;
    std::vector<std::vector<size_t>> mode_rows;
    add_linear_rows(rows, linear, x, y, mode_rows);
    const size_t linear_rows = rows.size();

    std::vector<float> norm_in(static_cast<size_t>(hidden), 1.5f), norm_out(static_cast<size_t>(hidden));
    rows.push_back({"rmsnorm", "1x896", 4.0 * hidden * 2 + 2.0 * hidden, 1, [&](int begin, int end) {
                        fastvlm::cpu::rmsnorm(norm_in.data(), weights.data(), norm_out.data(), end - begin, hidden, 1e-6f);
                    },
                    {}});
    std::vector<float> q(static_cast<size_t>(heads * head_dim), 0.25f), k(static_cast<size_t>(kv_heads * head_dim), 0.25f);
    const int position = 1000;
    rows.push_back({"rope", "q 14x64, k 2x64", 8.0 * (heads + kv_heads) * head_dim, 1, [&](int, int) {
                        fastvlm::cpu::rope(q.data(), &position, 1, heads, head_dim, 1e6f);
                        fastvlm::cpu::rope(k.data(), &position, 1, kv_heads, head_dim, 1e6f);
                    },
                    {}});
    std::vector<float> gate(static_cast<size_t>(inter), 0.3f), up(static_cast<size_t>(inter), 0.7f), gated(static_cast<size_t>(inter));
    rows.push_back({"silu_gate", "4864", 12.0 * inter, inter, [&](int begin, int end) {
                        fastvlm::cpu::silu_gate(gate.data() + begin, up.data() + begin, gated.data() + begin,
                                                static_cast<size_t>(end - begin));
                    },
                    {}});
    const int max_kv = 4096;
    const std::vector<uint16_t> k_cache = fp16_values(static_cast<size_t>(max_kv) * kv_heads * head_dim, 1.0f);
    const std::vector<uint16_t> v_cache = fp16_values(static_cast<size_t>(max_kv) * kv_heads * head_dim, 1.0f);
    std::vector<float> attn_out(static_cast<size_t>(heads * head_dim));
    for (int kv_len : {256, 4096})
        rows.push_back({"attention_decode", "kv " + std::to_string(kv_len) + ", 14/2 heads",
                        2.0 * 2.0 * kv_len * kv_heads * head_dim + 8.0 * heads * head_dim, heads,
                        [&, kv_len](int begin, int end) {
                            fastvlm::cpu::attention_decode(q.data(), k_cache.data(), v_cache.data(), attn_out.data(),
                                                           kv_len, heads, kv_heads, head_dim, 0.125f, begin, end);
                        },
                        {}});
    std::vector<Timing> times;
    for (size_t i = 0; i < rows.size(); ++i) {
        if (i == linear_rows) std::printf("\n");
        times.push_back(print_row(rows[i], pool, repeats, bandwidth_1, bandwidth_n));
    }
    std::printf("(rmsnorm and rope of one token are not split: the N-thread column adds only the pool's dispatch)\n\n");
    print_linear_summary(times, mode_rows, threads);

#if defined(FASTVLM_BENCH_GPU)
    return bench::run_gpu_kernels(repeats);
#else
    std::printf("kernels (GPU): skipped: this bench was built without nvcc (CUDA=0 or nvcc not found)\n");
    return 0;
#endif
}

}  // namespace

BENCH_COMMAND("kernels", "GEMM/vision kernels vs FMA peak, decode kernels vs measured bandwidth (CPU; CUDA and cuBLASLt when built with nvcc)",
              run_kernels, false);

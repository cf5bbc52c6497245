// ./bench kernels [--threads N] [--repeats N]
//
// The decode kernels of Qwen2-0.5B (fp16 GEMV, RMSNorm, rotary, SiLU-gate, decode attention)
// read against the memory bandwidth measured on the spot, as GB/s and % of it:
//   bandwidth  streaming read of a 512 MiB buffer, one thread and all threads, best of 3
//   CPU        the CPU twins (runtime/cpu/), one thread and the rows split over all threads
//   GPU        the CUDA kernels and cuBLASLt (benchmarks/bench_kernels_gpu.cu), only in a bench
//              built with nvcc; otherwise a line says the GPU part was skipped.
// Bytes per call count every operand read or written once (weights dominate).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench.h"
#include "runtime/cpu/attention_decode.h"
#include "runtime/cpu/gemv_fp16.h"
#include "runtime/cpu/rmsnorm.h"
#include "runtime/cpu/rope.h"
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

double measure_read_bandwidth(fastvlm::cpu::ThreadPool& pool) {
    const size_t n = static_cast<size_t>(1) << 27;  // 512 MiB of floats
    std::vector<float> buffer(n, 1.0f);
    std::vector<double> sums(static_cast<size_t>(pool.size()));
    const double seconds = best_seconds(3, [&] {
        pool.split(int64_t(n), [&](int64_t b, int64_t e, int thread) {
            const size_t begin = static_cast<size_t>(b), end = static_cast<size_t>(e);
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
            size_t i = begin;
            for (; i + 8 <= end; i += 8) {
                s0 += buffer[i]; s1 += buffer[i + 1]; s2 += buffer[i + 2]; s3 += buffer[i + 3];
                s4 += buffer[i + 4]; s5 += buffer[i + 5]; s6 += buffer[i + 6]; s7 += buffer[i + 7];
            }
            for (; i < end; ++i) s0 += buffer[i];
            sums[static_cast<size_t>(thread)] = double(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7);
        });
    });
    volatile double sink = 0;
    for (double s : sums) sink = sink + s;
    return double(n * sizeof(float)) / seconds / 1e9;
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
};

void print_row(const Row& row, fastvlm::cpu::ThreadPool& pool, int repeats, double bandwidth_1, double bandwidth_n) {
    const double t1 = best_seconds(repeats, [&] { row.run(0, row.items); });
    const double tn = best_seconds(repeats, [&] {
        pool.split(row.items, [&](int64_t begin, int64_t end, int) { row.run(int(begin), int(end)); });
    });
    std::printf("%-18s %-24s %9.1f %7.1f %5.0f%% %9.1f %7.1f %5.0f%%\n", row.kernel.c_str(), row.shape.c_str(),
                t1 * 1e6, row.bytes / t1 / 1e9, 100.0 * row.bytes / t1 / 1e9 / bandwidth_1, tn * 1e6,
                row.bytes / tn / 1e9, 100.0 * row.bytes / tn / 1e9 / bandwidth_n);
}

int run_kernels(const std::vector<std::string>& args) {
    int threads = int(std::max(1u, std::thread::hardware_concurrency())), repeats = 20;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--threads" && i + 1 < args.size()) threads = std::max(1, std::atoi(args[++i].c_str()));
        else if (args[i] == "--repeats" && i + 1 < args.size()) repeats = std::max(1, std::atoi(args[++i].c_str()));
        else fastvlm::fail("bench kernels", "unknown argument '", args[i], "' (--threads N, --repeats N)");
    }
    fastvlm::cpu::ThreadPool one(1), pool(threads);
    const double bandwidth_1 = measure_read_bandwidth(one), bandwidth_n = measure_read_bandwidth(pool);
    std::printf("kernels (CPU twins): read bandwidth %.1f GB/s with 1 thread, %.1f GB/s with %d threads\n",
                bandwidth_1, bandwidth_n, threads);
    std::printf("%-18s %-24s %9s %7s %6s %9s %7s %6s\n", "kernel", "shape", "us 1thr", "GB/s", "%bw", "us Nthr",
                "GB/s", "%bw");

    const int hidden = 896, inter = 4864, heads = 14, kv_heads = 2, head_dim = 64;
    const int largest_in = inter, largest_out = 151936;  // down_proj input, lm_head rows
    const std::vector<uint16_t> weights = fp16_values(static_cast<size_t>(largest_out) * hidden, 0.1f);  // shared by all GEMVs
    const std::vector<uint16_t> bias = fp16_values(static_cast<size_t>(largest_out), 0.1f);
    std::vector<float> x(static_cast<size_t>(largest_in), 0.5f), y(static_cast<size_t>(largest_out));
    std::vector<Row> rows;
    struct Gemv {
        const char* name;
        int in, out;
        bool bias;
    };
    for (const Gemv g : {Gemv{"q_proj", hidden, hidden, true}, Gemv{"k_proj/v_proj", hidden, kv_heads * head_dim, true},
                         Gemv{"gate/up_proj", hidden, inter, false}, Gemv{"down_proj", inter, hidden, false},
                         Gemv{"lm_head", hidden, largest_out, false}})
        rows.push_back({std::string("gemv_fp16 ") + g.name, std::to_string(g.out) + "x" + std::to_string(g.in),
                        2.0 * g.in * g.out + 4.0 * g.in + 4.0 * g.out + (g.bias ? 2.0 * g.out : 0.0), g.out,
                        [&, g](int begin, int end) {
                            fastvlm::cpu::gemv_fp16(weights.data(), g.bias ? bias.data() : nullptr, x.data(), y.data(),
                                                    1, g.in, g.out, begin, end);
                        }});

    std::vector<float> norm_in(static_cast<size_t>(hidden), 1.5f), norm_out(static_cast<size_t>(hidden));
    rows.push_back({"rmsnorm", "1x896", 4.0 * hidden * 2 + 2.0 * hidden, 1, [&](int begin, int end) {
                        fastvlm::cpu::rmsnorm(norm_in.data(), weights.data(), norm_out.data(), end - begin, hidden, 1e-6f);
                    }});
    std::vector<float> q(static_cast<size_t>(heads * head_dim), 0.25f), k(static_cast<size_t>(kv_heads * head_dim), 0.25f);
    const int position = 1000;
    rows.push_back({"rope", "q 14x64, k 2x64", 8.0 * (heads + kv_heads) * head_dim, 1, [&](int, int) {
                        fastvlm::cpu::rope(q.data(), &position, 1, heads, head_dim, 1e6f);
                        fastvlm::cpu::rope(k.data(), &position, 1, kv_heads, head_dim, 1e6f);
                    }});
    std::vector<float> gate(static_cast<size_t>(inter), 0.3f), up(static_cast<size_t>(inter), 0.7f), gated(static_cast<size_t>(inter));
    rows.push_back({"silu_gate", "4864", 12.0 * inter, inter, [&](int begin, int end) {
                        fastvlm::cpu::silu_gate(gate.data() + begin, up.data() + begin, gated.data() + begin,
                                                static_cast<size_t>(end - begin));
                    }});
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
                        }});
    for (const Row& row : rows) print_row(row, pool, repeats, bandwidth_1, bandwidth_n);
    std::printf("(rmsnorm and rope of one token are not split: the N-thread column adds only the pool's dispatch)\n");

#if defined(FASTVLM_BENCH_GPU)
    return bench::run_gpu_kernels(repeats);
#else
    std::printf("kernels (GPU): skipped: this bench was built without nvcc (CUDA=0 or nvcc not found)\n");
    return 0;
#endif
}

}  // namespace

BENCH_COMMAND("kernels", "decode kernels (CPU twins; CUDA and cuBLASLt when built with nvcc) vs measured bandwidth",
              run_kernels, false);

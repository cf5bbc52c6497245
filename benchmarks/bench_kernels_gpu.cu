// The GPU half of `./bench kernels`: first the compute-bound kernels on the model's shapes
// (prefill GEMMs and the vision 1x1 conv beside cuBLASLt fp16, the convolutions, vision and
// prefill attention) in TFLOP/s; then each CUDA decode kernel, and cuBLASLt where it has
// an equivalent (the GEMVs, as an m x 1 matmul with the bias epilogue), against the read
// bandwidth of the device measured on the spot with a streaming-read kernel.
//
// Each measurement captures `repeats` back-to-back calls in a CUDA graph and reports the best
// of five replays divided by `repeats`, so launch overhead (which a decode loop also removes
// with graphs) does not hide kernel time. GB/s counts every operand byte once.
//
// The linear layers (every GEMV shape of Qwen2-0.5B in every weight mode) get their own table:
// our kernel, the roofline (its bytes at the measured bandwidth), cuBLASLt fp16 on the same
// shape (the baseline every mode has to beat) and, for int8, cuBLASLt's int8 matmul (int32
// out: the integer product alone, no quantization or dequantization, where it supports an
// n = 1 matmul). The int8 and w4a4 times include their activation-quantization kernel, as each
// layer call pays it. Weights rotate through as many copies as span twice the L2 cache, so
// every call streams them from DRAM as a decode step does instead of hitting a warm L2.
#include "benchmarks/bench_kernels_gpu.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/attention_decode.cuh"
#include "cuda/conv.cuh"
#include "cuda/gemv_fp16.cuh"
#include "cuda/gemv_int8.cuh"
#include "cuda/gemv_nf4.cuh"
#include "cuda/gemv_w4a4.cuh"
#include "cuda/matmul.cuh"
#include "cuda/matmul_f16.cuh"
#include "cuda/rmsnorm.cuh"
#include "cuda/rope.cuh"
#include "cuda/silu_gate.cuh"
#include "runtime/cuda/cublaslt_matmul.h"
#include "runtime/half.h"

namespace bench {
namespace {

using fastvlm::fail;

template <typename T>
class DeviceArray {
public:
    explicit DeviceArray(size_t count) : count_(count) {
        FASTVLM_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
    }
    ~DeviceArray() { cudaFree(data_); }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    T* get() const { return data_; }
    size_t count() const { return count_; }

private:
    T* data_ = nullptr;
    size_t count_;
};

// Fills fp16 device memory with small deterministic values.
void fill_fp16(__half* device, size_t n, float scale) {
    std::vector<uint16_t> host(n);
    uint32_t state = 7;
    for (auto& h : host) {
        state = state * 1664525u + 1013904223u;
        h = fastvlm::float_to_fp16(scale * (float(state >> 8) / float(1u << 24) - 0.5f));
    }
    FASTVLM_CUDA_CHECK(cudaMemcpy(device, host.data(), n * 2, cudaMemcpyHostToDevice));
}

__global__ void read_kernel(const uint4* __restrict__ p, size_t n, unsigned* sink) {
    unsigned acc = 0;
    for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
        const uint4 v = __ldg(p + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x9e3779b9u) *sink = acc;  // keeps the loads alive
}

// Microseconds per call of f(stream): `repeats` calls captured in a graph, best of five replays.
double time_us(cudaStream_t stream, int repeats, const std::function<void(cudaStream_t)>& f) {
    for (int i = 0; i < 3; ++i) f(stream);  // warm-up, and the launch errors surface here
    FASTVLM_CUDA_CHECK(cudaStreamSynchronize(stream));
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    FASTVLM_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < repeats; ++i) f(stream);
    FASTVLM_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    FASTVLM_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
    cudaEvent_t start, stop;
    FASTVLM_CUDA_CHECK(cudaEventCreate(&start));
    FASTVLM_CUDA_CHECK(cudaEventCreate(&stop));
    float best_ms = 1e30f;
    for (int replay = 0; replay < 6; ++replay) {
        FASTVLM_CUDA_CHECK(cudaEventRecord(start, stream));
        FASTVLM_CUDA_CHECK(cudaGraphLaunch(exec, stream));
        FASTVLM_CUDA_CHECK(cudaEventRecord(stop, stream));
        FASTVLM_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0.0f;
        FASTVLM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        if (replay > 0) best_ms = std::min(best_ms, ms);  // the first replay uploads the graph
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    return 1000.0 * double(best_ms) / repeats;
}

double measure_bandwidth(cudaStream_t stream, int sms) {
    const size_t bytes = static_cast<size_t>(1) << 30;
    DeviceArray<uint4> buffer(bytes / sizeof(uint4));
    DeviceArray<unsigned> sink(1);
    FASTVLM_CUDA_CHECK(cudaMemset(buffer.get(), 1, bytes));
    const double us = time_us(stream, 5, [&](cudaStream_t s) {
        fastvlm::gpu::launch("read_kernel", read_kernel, dim3(unsigned(sms * 8)), dim3(256), 0, s, buffer.get(),
                             buffer.count(), sink.get());
    });
    return double(bytes) / us / 1e3;
}

// cuBLASLt's plan for y = x W^T + bias (optionally GELU, tanh form) with fp16 operands and
// output, fp32 accumulation, the bias and GELU in the epilogue. tokens = 1 is the decode GEMV.
fastvlm::gpu::LtMatmulShape lt_linear_f16(int in, int out, bool bias, int tokens = 1, bool gelu = false) {
    fastvlm::gpu::LtMatmulShape shape;
    shape.tokens = tokens;
    shape.in = in;
    shape.out = out;
    shape.bias = bias;
    shape.gelu_tanh = gelu;
    return shape;
}

float max_abs_difference(const __half* a, const __half* b, size_t n) {
    std::vector<uint16_t> ha(n), hb(n);
    FASTVLM_CUDA_CHECK(cudaMemcpy(ha.data(), a, n * 2, cudaMemcpyDeviceToHost));
    FASTVLM_CUDA_CHECK(cudaMemcpy(hb.data(), b, n * 2, cudaMemcpyDeviceToHost));
    float worst = 0.0f;
    for (size_t i = 0; i < n; ++i)
        worst = std::max(worst, std::fabs(fastvlm::fp16_to_float(ha[i]) - fastvlm::fp16_to_float(hb[i])));
    return worst;
}

void print_row(const std::string& kernel, const std::string& shape, double bytes, double us, double bandwidth,
               double lt_us = -1.0, float difference = -1.0f) {
    std::printf("%-18s %-24s %9.2f %8.1f %5.0f%%", kernel.c_str(), shape.c_str(), us, bytes / us / 1e3,
                100.0 * bytes / us / 1e3 / bandwidth);
    if (lt_us > 0)
        std::printf(" %9.2f %8.1f %5.0f%% %9.2g\n", lt_us, bytes / lt_us / 1e3, 100.0 * bytes / lt_us / 1e3 / bandwidth,
                    double(difference));
    else
        std::printf(" %9s %8s %6s %9s\n", "-", "-", "-", "-");
}


// ---------------------------------------------------------------- linear layers, every mode

// Deterministic pseudo-random bits of element i (a 64-bit mix, one per element).
__device__ __forceinline__ uint32_t hash_bits(uint64_t i, uint32_t seed) {
    uint64_t z = i * 0x9e3779b97f4a7c15ull + seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return uint32_t(z >> 32);
}

__global__ void fill_bytes_kernel(uint8_t* p, size_t n, uint32_t seed) {
    for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        p[i] = uint8_t(hash_bits(i, seed));
}

// Values uniform in [low, high).
__global__ void fill_float_kernel(float* p, size_t n, float low, float high, uint32_t seed) {
    for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        p[i] = low + (high - low) * float(hash_bits(i, seed) >> 8) * (1.0f / 16777216.0f);
}

__global__ void fill_half_kernel(__half* p, size_t n, float low, float high, uint32_t seed) {
    for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
        p[i] = __float2half_rn(low + (high - low) * float(hash_bits(i, seed) >> 8) * (1.0f / 16777216.0f));
}

const dim3 kFillGrid(1024), kFillBlock(256);

void fill_random(uint8_t* p, size_t n, uint32_t seed) {
    fastvlm::gpu::launch("fill_bytes", fill_bytes_kernel, kFillGrid, kFillBlock, 0, nullptr, p, n, seed);
}
void fill_random(int8_t* p, size_t n, uint32_t seed) { fill_random(reinterpret_cast<uint8_t*>(p), n, seed); }
void fill_random(float* p, size_t n, float low, float high, uint32_t seed) {
    fastvlm::gpu::launch("fill_float", fill_float_kernel, kFillGrid, kFillBlock, 0, nullptr, p, n, low, high, seed);
}
void fill_random(__half* p, size_t n, float low, float high, uint32_t seed) {
    fastvlm::gpu::launch("fill_half", fill_half_kernel, kFillGrid, kFillBlock, 0, nullptr, p, n, low, high, seed);
}

// `copies` copies of one operand of `per_copy` elements, each starting 256-byte aligned (the
// kernels' vector paths need 16); call i uses copy i % copies.
template <typename T>
class Rotating {
public:
    Rotating(size_t per_copy, int copies)
        : per_copy_((per_copy * sizeof(T) + 255) / 256 * 256 / sizeof(T)), copies_(copies),
          data_(per_copy_ * size_t(copies)) {}
    T* at(int call) const { return data_.get() + size_t(call % copies_) * per_copy_; }
    T* all() const { return data_.get(); }
    size_t count() const { return data_.count(); }

private:
    size_t per_copy_;
    int copies_;
    DeviceArray<T> data_;
};

// Copies of a weight of `bytes` that together span twice the L2 cache (at least one). A graph
// then captures at least that many calls, so no replay finds the previous one's weights in L2.
int rotation_copies(double bytes, size_t l2_bytes) {
    return std::max(1, std::min(4096, int(std::ceil(2.0 * double(l2_bytes) / bytes))));
}

// cuBLASLt's plan for y = W x with int8 operands, int32 accumulation and output (the "TN"
// layout int8 needs). Unavailable when no algorithm takes the shape.
fastvlm::gpu::LtMatmulShape lt_gemv_int8(int in, int out) {
    fastvlm::gpu::LtMatmulShape shape;
    shape.in = in;
    shape.out = out;
    shape.weight_type = CUDA_R_8I;
    shape.output_type = CUDA_R_32I;
    shape.compute = CUBLAS_COMPUTE_32I;
    return shape;
}

struct LinearShape {
    const char* layer;
    int out, in;
    bool bias;
};

std::string format_or_dash(double value, const char* format) {
    if (value < 0) return "-";
    char text[32];
    std::snprintf(text, sizeof text, format, value);
    return text;
}

// One row of the linear-layer table; negative times and differences print as "-".
void print_linear_row(const char* mode, const LinearShape& g, double bytes, double us, double bandwidth,
                      double lt_f16_us, double lt_i8_us = -1.0, float difference = -1.0f) {
    const double gbs = bytes / us / 1e3, roofline_us = bytes / bandwidth / 1e3;
    const std::string shape = std::to_string(g.out) + "x" + std::to_string(g.in);
    std::printf("%-9s %-14s %-11s %8.2f %9.2f %8.1f %5.0f%% %9.2f %9s %6s %9s %9s\n", mode, g.layer, shape.c_str(),
                bytes / 1e6, us, gbs, 100.0 * gbs / bandwidth, roofline_us, format_or_dash(lt_f16_us, "%.2f").c_str(),
                format_or_dash(lt_f16_us < 0 ? -1.0 : lt_f16_us / us, "%.2fx").c_str(),
                format_or_dash(lt_i8_us, "%.2f").c_str(), format_or_dash(double(difference), "%.3g").c_str());
}

// Every GEMV shape of the model in every weight mode against cuBLASLt and the roofline.
void run_linear_table(cudaStream_t stream, int repeats, double bandwidth, size_t l2_bytes, cublasLtHandle_t lt,
                      void* lt_workspace, size_t lt_workspace_bytes) {
    const int hidden = 896, inter = 4864, vocab = 151936;
    const LinearShape shapes[] = {{"q_proj", hidden, hidden, true},  {"k_proj/v_proj", 128, hidden, true},
                                  {"o_proj", hidden, hidden, false}, {"gate/up_proj", inter, hidden, false},
                                  {"down_proj", hidden, inter, false}, {"lm_head", vocab, hidden, false}};
    std::printf("\nlinear layers, batch 1 (MB: bytes per call; roofline: MB at the measured bandwidth; "
                "x Lt: cuBLASLt fp16 time / ours)\n");
    std::printf("%-9s %-14s %-11s %8s %9s %8s %6s %9s %9s %6s %9s %9s\n", "mode", "layer", "shape", "MB", "us", "GB/s",
                "%bw", "roofline", "Lt fp16", "x Lt", "Lt int8", "max|diff|");

    // Operands that do not rotate: the activation row (with four outlier columns for LLM.int8),
    // the bias, the outputs, the NF4 second-level tables and the activation workspaces.
    DeviceArray<__half> x(static_cast<size_t>(inter)), bias(static_cast<size_t>(vocab)), y(static_cast<size_t>(vocab)),
        y_lt(static_cast<size_t>(vocab));
    DeviceArray<int32_t> y_i32(static_cast<size_t>(vocab));
    DeviceArray<float> x32(static_cast<size_t>(inter)), bias32(static_cast<size_t>(vocab)), y32(static_cast<size_t>(vocab));
    fill_random(x.get(), x.count(), -1.0f, 1.0f, 11);
    fill_random(bias.get(), bias.count(), -0.1f, 0.1f, 12);
    fill_random(x32.get(), x32.count(), -1.0f, 1.0f, 15);  // W4A32's activations
    fill_random(bias32.get(), bias32.count(), -0.1f, 0.1f, 16);
    const __half outlier = __float2half_rn(8.0f);
    for (int k : {17, 301, 555, 890}) FASTVLM_CUDA_CHECK(cudaMemcpy(x.get() + k, &outlier, 2, cudaMemcpyHostToDevice));
    DeviceArray<unsigned char> int8_workspace(fastvlm::gpu::int8_activation_workspace_bytes(inter)),
        int4_workspace(fastvlm::gpu::int4_activation_workspace_bytes(inter));
    const size_t max_blocks = size_t(vocab) * hidden / 64;
    DeviceArray<float> nested_absmax((max_blocks + 255) / 256), dynamic_map(256);
    fill_random(nested_absmax.get(), nested_absmax.count(), 0.01f, 0.05f, 13);
    fill_random(dynamic_map.get(), dynamic_map.count(), -1.0f, 1.0f, 14);

    for (const LinearShape& g : shapes) {
        const size_t n = size_t(g.out), k = size_t(g.in), nk = n * k;
        const __half* b = g.bias ? bias.get() : nullptr;
        const float* b32 = g.bias ? bias32.get() : nullptr;
        const double io_bytes = 2.0 * double(k) + 2.0 * double(n) + (g.bias ? 2.0 * double(n) : 0.0);

        // fp16 (W16A16), and cuBLASLt fp16 on the same weights: the baseline of every mode.
        double lt_f16_us = -1.0;
        {
            const double bytes = 2.0 * double(nk) + io_bytes;
            const int copies = rotation_copies(2.0 * double(nk), l2_bytes), calls = std::max(repeats, copies);
            Rotating<__half> w(nk, copies);
            fill_random(w.all(), w.count(), -0.05f, 0.05f, 21);
            int call = 0;
            const double us = time_us(stream, calls, [&](cudaStream_t s) {
                fastvlm::gpu::gemv_fp16(w.at(call++), b, x.get(), y.get(), g.in, g.out, s);
            });
            const fastvlm::gpu::LtMatmul reference(lt, lt_linear_f16(g.in, g.out, b != nullptr), lt_workspace,
                                                   lt_workspace_bytes);
            float difference = -1.0f;
            if (reference.available()) {
                int lt_call = 0;  // the same number of calls, so both end on the same copy
                lt_f16_us = time_us(stream, calls, [&](cudaStream_t s) {
                    reference.run(w.at(lt_call++), x.get(), y_lt.get(), s, b);
                });
                difference = max_abs_difference(y.get(), y_lt.get(), n);
            }
            print_linear_row("fp16", g, bytes, us, bandwidth, lt_f16_us, -1.0, difference);
        }

        // LLM.int8 (W8A8 + fp16 outliers): activation quantization + int8 GEMV.
        {
            const double bytes = double(nk) + 4.0 * double(n) + io_bytes;
            const int copies = rotation_copies(double(nk), l2_bytes), calls = std::max(repeats, copies);
            Rotating<int8_t> codes(nk, copies);
            Rotating<float> row_scale(n, copies);
            fill_random(codes.all(), codes.count(), 31);
            fill_random(row_scale.all(), row_scale.count(), 0.01f, 0.1f, 32);
            const fastvlm::gpu::Int8Activation a = fastvlm::gpu::int8_activation(int8_workspace.get(), g.in);
            int call = 0;
            const double us = time_us(stream, calls, [&](cudaStream_t s) {
                const int c = call++;
                fastvlm::gpu::quantize_activation_int8(x.get(), 6.0f, a, s);
                fastvlm::gpu::gemv_int8({codes.at(c), row_scale.at(c), g.out, g.in}, b, x.get(), a, y.get(), s);
            });
            const fastvlm::gpu::LtMatmul reference(lt, lt_gemv_int8(g.in, g.out), lt_workspace, lt_workspace_bytes);
            double lt_i8_us = -1.0;
            if (reference.available()) {
                int lt_call = 0;
                lt_i8_us = time_us(stream, calls, [&](cudaStream_t s) {
                    reference.run(codes.at(lt_call++), a.codes, y_i32.get(), s);
                });
            }
            print_linear_row("int8", g, bytes, us, bandwidth, lt_f16_us, lt_i8_us);
        }

        // NF4 with double-quantized scales, dequantized in fp32 (W4A32) and in fp16 (W4A16).
        {
            const size_t blocks = (nk + 63) / 64;
            const double bytes = double(nk) / 2.0 + double(blocks) + 4.0 * double((blocks + 255) / 256) + 1024.0 + io_bytes;
            const int copies = rotation_copies(double(nk) / 2.0, l2_bytes), calls = std::max(repeats, copies);
            Rotating<uint8_t> codes((nk + 1) / 2, copies), absmax_codes(blocks, copies);
            fill_random(codes.all(), codes.count(), 41);
            fill_random(absmax_codes.all(), absmax_codes.count(), 42);
            for (const bool w4a16 : {false, true}) {
                int call = 0;
                const double us = time_us(stream, calls, [&](cudaStream_t s) {
                    const int c = call++;
                    const fastvlm::gpu::NF4Weight w{codes.at(c), absmax_codes.at(c), nested_absmax.get(),
                                                    dynamic_map.get(), 0.03f, g.out, g.in};
                    if (w4a16) fastvlm::gpu::gemv_nf4_w4a16(w, b, x.get(), y.get(), 1, s);
                    else fastvlm::gpu::gemv_nf4_w4a32(w, b32, x32.get(), y32.get(), 1, s);
                });
                // W4A32 moves fp32 activations: twice the fp16 ones counted in io_bytes.
                print_linear_row(w4a16 ? "nf4-fp16" : "nf4-fp32", g, w4a16 ? bytes : bytes + io_bytes, us, bandwidth,
                                 lt_f16_us);
            }
        }

        // W4A4: activation quantization + int4 x int4 GEMV.
        {
            const size_t groups = (k + 63) / 64;
            const double bytes = double(nk) / 2.0 + 2.0 * double(n * groups) + io_bytes;
            const int copies = rotation_copies(double(nk) / 2.0, l2_bytes), calls = std::max(repeats, copies);
            Rotating<uint8_t> codes((nk + 1) / 2, copies);
            Rotating<__half> scales(n * groups, copies);
            fill_random(codes.all(), codes.count(), 51);
            fill_random(scales.all(), scales.count(), 0.001f, 0.01f, 52);
            const fastvlm::gpu::Int4Activation a = fastvlm::gpu::int4_activation(int4_workspace.get(), g.in);
            int call = 0;
            const double us = time_us(stream, calls, [&](cudaStream_t s) {
                const int c = call++;
                fastvlm::gpu::quantize_activation_int4(x.get(), a, s);
                fastvlm::gpu::gemv_w4a4({codes.at(c), scales.at(c), g.out, g.in}, b, a, y.get(), s);
            });
            print_linear_row("w4a4", g, bytes, us, bandwidth, lt_f16_us);
        }
    }
    std::printf("\n");
}

// ---------------------------------------------------------------- GEMM and vision kernels

// Largest |a - b| over n fp32 values a and fp16 values b, relative to the largest |a|.
float max_relative_difference(const float* a, const __half* b, size_t n) {
    std::vector<float> ha(n);
    std::vector<uint16_t> hb(n);
    FASTVLM_CUDA_CHECK(cudaMemcpy(ha.data(), a, n * 4, cudaMemcpyDeviceToHost));
    FASTVLM_CUDA_CHECK(cudaMemcpy(hb.data(), b, n * 2, cudaMemcpyDeviceToHost));
    float worst = 0.0f, largest = 0.0f;
    for (size_t i = 0; i < n; ++i) {
        worst = std::max(worst, std::fabs(ha[i] - fastvlm::fp16_to_float(hb[i])));
        largest = std::max(largest, std::fabs(ha[i]));
    }
    return largest > 0.0f ? worst / largest : worst;
}

void print_compute_row(const std::string& kernel, const std::string& shape, double flops, double us,
                       double lt_us = -1.0, float difference = -1.0f) {
    std::printf("%-30s %-32s %8.3f %9.2f %8.2f %9s %8s %7s %9s\n", kernel.c_str(), shape.c_str(), flops / 1e9, us,
                flops / us / 1e6, format_or_dash(lt_us, "%.2f").c_str(),
                format_or_dash(lt_us < 0 ? -1.0 : flops / lt_us / 1e6, "%.2f").c_str(),
                format_or_dash(lt_us < 0 ? -1.0 : lt_us / us, "%.2fx").c_str(),
                format_or_dash(double(difference), "%.2g").c_str());
}

// The compute-bound kernels on the model's shapes (the CPU table's shapes, plus the stem conv):
// the prefill GEMMs and the vision 1x1 conv by gpu::matmul (fp32 activations, fp16 weights) and
// by matmul_f16 on tensor cores ("[tc]", fp16 activations) beside cuBLASLt fp16 with fp32 accumulation (fp16 activations and output, bias and GELU in
// its epilogue; its GELU is the tanh form); the convolutions and attention have no cuBLASLt
// counterpart. Operands stay put between calls: these shapes are compute-bound, and their
// weights (at most 8.7 MB) sit in L2 in a prefill too.
void run_compute_table(cudaStream_t stream, int repeats, cublasLtHandle_t lt, void* lt_workspace,
                       size_t lt_workspace_bytes) {
    using fastvlm::Activation;
    using fastvlm::DType;
    std::printf("GEMM and vision kernels (TFLOP/s: multiply-adds count two; x Lt: cuBLASLt time / ours; "
                "rel diff: max|ours - cuBLASLt| / max|ours|)\n");
    std::printf("%-30s %-32s %8s %9s %8s %9s %8s %7s %9s\n", "kernel", "shape", "GFLOP", "us", "TFLOP/s", "Lt us",
                "TFLOP/s", "x Lt", "rel diff");

    // Activations in fp32 for our kernels and the same values in fp16 for cuBLASLt (one seed).
    // x holds the largest input (the stage-3 qkv [1024, 2304]), y the largest output (the stem's
    // [512, 512, 96]), y16 the largest GEMM output ([4096, 1536]).
    const size_t largest_input = size_t(1024) * 2304, largest_output = size_t(512) * 512 * 96;
    DeviceArray<float> x(largest_input), bias(6144), y(largest_output);
    DeviceArray<__half> x16(largest_input), bias16(6144), y16(size_t(4096) * 1536), w(size_t(4864) * 896);
    fill_random(x.get(), x.count(), -1.0f, 1.0f, 61);
    fill_random(x16.get(), x16.count(), -1.0f, 1.0f, 61);
    fill_random(bias.get(), bias.count(), -0.1f, 0.1f, 62);
    fill_random(bias16.get(), bias16.count(), -0.1f, 0.1f, 62);
    fill_random(w.get(), w.count(), -0.05f, 0.05f, 63);
    FASTVLM_CUDA_CHECK(cudaDeviceSynchronize());

    struct GemmShape {
        const char* name;
        const char* shape;
        int m, n, k;
        bool bias, gelu;
    };
    // Qwen2-0.5B prefill at 296 tokens; FastViTHD stage 2 ConvFFN fc1 (1x1 conv at 64x64).
    const GemmShape gemms[] = {{"matmul fp16 q_proj", "296x896x896 (MxNxK)", 296, 896, 896, true, false},
                               {"matmul fp16 gate_proj", "296x4864x896 (MxNxK)", 296, 4864, 896, false, false},
                               {"matmul fp16 down_proj", "296x896x4864 (MxNxK)", 296, 896, 4864, false, false},
                               {"conv1x1 fp16 s2 ConvFFN fc1", "4096 tok, 384->1536, GELU", 4096, 1536, 384, true, true}};
    for (const GemmShape& g : gemms) {
        const double flops = 2.0 * g.m * g.n * g.k;
        const Activation act = g.gelu ? Activation::GELU : Activation::None;
        const double us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::matmul(x.get(), w.get(), DType::F16, g.bias ? bias.get() : nullptr, y.get(), g.m, g.n, g.k,
                                 act, s);
        });
        const fastvlm::gpu::LtMatmul reference(lt, lt_linear_f16(g.k, g.n, g.bias, g.m, g.gelu), lt_workspace,
                                               lt_workspace_bytes);
        double lt_us = -1.0;
        float difference = -1.0f;
        if (reference.available()) {
            lt_us = time_us(stream, repeats, [&](cudaStream_t s) { reference.run(w.get(), x16.get(), y16.get(), s, bias16.get()); });
            difference = max_relative_difference(y.get(), y16.get(), size_t(g.m) * size_t(g.n));
        }
        print_compute_row(g.name, g.shape, flops, us, lt_us, difference);

        // The same product on tensor cores (matmul_f16: fp16 x, as cuBLASLt gets it).
        const double tc_us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::matmul_f16(x16.get(), w.get(), g.bias ? bias.get() : nullptr, y.get(), g.m, g.n, g.k, act, s);
        });
        const float tc_difference =
            reference.available() ? max_relative_difference(y.get(), y16.get(), size_t(g.m) * size_t(g.n)) : -1.0f;
        print_compute_row(std::string(g.name) + " [tc]", g.shape, flops, tc_us, lt_us, tc_difference);
    }

    // FastViTHD stage 2 ConvFFN depthwise 7x7 (64x64x384, pad 3) and the stem's dense 3x3
    // stride-2 conv (1024x1024x3 -> 512x512x96).
    {
        DeviceArray<__half> dw_weight(size_t(384) * 49), stem_weight(size_t(96) * 3 * 9);
        DeviceArray<float> image(size_t(1024) * 1024 * 3);
        fill_random(dw_weight.get(), dw_weight.count(), -0.2f, 0.2f, 64);
        fill_random(stem_weight.get(), stem_weight.count(), -0.2f, 0.2f, 65);
        fill_random(image.get(), image.count(), -1.0f, 1.0f, 66);
        const double dw_us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::depthwise_conv2d(x.get(), dw_weight.get(), DType::F16, nullptr, y.get(), 64, 64, 384, 384, 7,
                                           1, 3, Activation::None, s);
        });
        print_compute_row("depthwise_conv2d 7x7 s2 ConvFFN", "64x64x384, pad 3", 2.0 * 49 * 4096 * 384, dw_us);
        const double stem_us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::conv2d(image.get(), stem_weight.get(), DType::F16, bias.get(), y.get(), 1024, 1024, 3, 96, 3, 2,
                                 1, Activation::GELU, s);
        });
        print_compute_row("conv2d 3x3 s2 stem", "1024x1024x3 -> 512x512x96", 2.0 * 512 * 512 * 96 * 27, stem_us);
    }

    // FastViTHD stage 3 attention: 1024 tokens, 24 heads x 32, qkv [1024, 3 * 768] fp32.
    {
        const int tokens = 1024, heads = 24, head_dim = 32, width = heads * head_dim;
        const double us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::attention(x.get(), 3 * width, x.get() + width, x.get() + 2 * width, 3 * width, DType::F32,
                                    y.get(), width, tokens, tokens, heads, heads, head_dim, -1,
                                    1.0f / std::sqrt(float(head_dim)), s);
        });
        print_compute_row("attention s3 (vision)", "1024 tok, 24 heads x 32", 4.0 * tokens * tokens * width, us);
    }

    // Qwen2-0.5B prefill attention: 296 tokens from position 0, 14 heads over 2 KV heads of 64,
    // fp16 cache [296, 128], causal.
    {
        const int tokens = 296, heads = 14, kv_heads = 2, head_dim = 64;
        DeviceArray<__half> k_cache(size_t(tokens) * kv_heads * head_dim), v_cache(size_t(tokens) * kv_heads * head_dim);
        fill_random(k_cache.get(), k_cache.count(), -1.0f, 1.0f, 67);
        fill_random(v_cache.get(), v_cache.count(), -1.0f, 1.0f, 68);
        const double us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::attention(x.get(), heads * head_dim, k_cache.get(), v_cache.get(), kv_heads * head_dim,
                                    DType::F16, y.get(), heads * head_dim, tokens, tokens, heads, kv_heads, head_dim, 0,
                                    0.125f, s);
        });
        print_compute_row("attention prefill fp16 cache", "296 tok, 14/2 heads x 64, causal",
                          4.0 * heads * head_dim * (double(tokens) * (tokens + 1) / 2.0), us);
    }
    std::printf("(attention counts q k^T and scores . v, not the softmax; the causal count is the keys each query reads)\n\n");
}

}  // namespace

int run_gpu_kernels(int repeats) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0) {
        std::printf("kernels (GPU): skipped: no CUDA device (%s)\n",
                    status == cudaSuccess ? "none found" : cudaGetErrorString(status));
        return 0;
    }
    try {
        cudaDeviceProp props;
        FASTVLM_CUDA_CHECK(cudaGetDeviceProperties(&props, 0));
        cudaStream_t stream;
        FASTVLM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
        const double bandwidth = measure_bandwidth(stream, props.multiProcessorCount);
        std::printf("kernels (GPU): %s, read bandwidth %.0f GB/s measured with a streaming-read kernel\n", props.name,
                    bandwidth);
        cublasLtHandle_t lt;
        FASTVLM_CUBLASLT_CHECK(cublasLtCreate(&lt));
        const size_t workspace_bytes = static_cast<size_t>(32) << 20;
        DeviceArray<unsigned char> workspace(workspace_bytes);
        run_compute_table(stream, repeats, lt, workspace.get(), workspace_bytes);
        run_linear_table(stream, repeats, bandwidth, size_t(props.l2CacheSize), lt, workspace.get(), workspace_bytes);

        std::printf("%-18s %-24s %9s %8s %6s %9s %8s %6s %9s\n", "kernel", "shape", "us", "GB/s", "%bw", "cuBLASLt",
                    "GB/s", "%bw", "max|diff|");
        const int hidden = 896, inter = 4864, heads = 14, kv_heads = 2, head_dim = 64;
        DeviceArray<__half> weights(static_cast<size_t>(hidden));  // the RMSNorm weight
        fill_fp16(weights.get(), weights.count(), 0.1f);

        DeviceArray<__half> act(static_cast<size_t>(256) * hidden), act_out(static_cast<size_t>(256) * hidden);
        fill_fp16(act.get(), act.count(), 2.0f);
        for (int tokens : {1, 256}) {
            const double us = time_us(stream, repeats, [&](cudaStream_t s) {
                fastvlm::gpu::rmsnorm(act.get(), weights.get(), act_out.get(), tokens, hidden, 1e-6f, s);
            });
            print_row("rmsnorm", std::to_string(tokens) + "x896", 4.0 * tokens * hidden + 2.0 * hidden, us, bandwidth);
        }

        DeviceArray<__half> q(static_cast<size_t>(heads) * head_dim), k(static_cast<size_t>(kv_heads) * head_dim);
        fill_fp16(q.get(), q.count(), 1.0f);
        fill_fp16(k.get(), k.count(), 1.0f);
        DeviceArray<int> position(1);
        const int pos = 1000;
        FASTVLM_CUDA_CHECK(cudaMemcpy(position.get(), &pos, sizeof pos, cudaMemcpyHostToDevice));
        const double rope_us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::rope(q.get(), k.get(), position.get(), 1, heads, kv_heads, head_dim, 1e6f, s);
        });
        print_row("rope", "q 14x64, k 2x64", 4.0 * (heads + kv_heads) * head_dim + 4.0, rope_us, bandwidth);

        DeviceArray<__half> gate(static_cast<size_t>(inter)), up(static_cast<size_t>(inter)), gated(static_cast<size_t>(inter));
        fill_fp16(gate.get(), gate.count(), 4.0f);
        fill_fp16(up.get(), up.count(), 4.0f);
        const double silu_us = time_us(stream, repeats, [&](cudaStream_t s) {
            fastvlm::gpu::silu_gate(gate.get(), up.get(), gated.get(), static_cast<size_t>(inter), s);
        });
        print_row("silu_gate", "4864", 6.0 * inter, silu_us, bandwidth);

        const int max_kv = 32768;
        DeviceArray<__half> k_cache(static_cast<size_t>(max_kv) * kv_heads * head_dim), v_cache(static_cast<size_t>(max_kv) * kv_heads * head_dim),
            attn_out(static_cast<size_t>(heads) * head_dim);
        fill_fp16(k_cache.get(), k_cache.count(), 1.0f);
        fill_fp16(v_cache.get(), v_cache.count(), 1.0f);
        DeviceArray<float> attn_workspace(fastvlm::gpu::attention_decode_workspace_floats(heads, head_dim));
        for (int kv_len : {256, 4096, 32768}) {
            const double us = time_us(stream, repeats, [&](cudaStream_t s) {
                fastvlm::gpu::attention_decode(q.get(), k_cache.get(), v_cache.get(), attn_out.get(),
                                               attn_workspace.get(), kv_len, heads, kv_heads, head_dim, 0.125f, s);
            });
            print_row("attention_decode", "kv " + std::to_string(kv_len) + ", 14/2 heads",
                      4.0 * kv_len * kv_heads * head_dim + 4.0 * heads * head_dim, us, bandwidth);
        }
        cublasLtDestroy(lt);
        cudaStreamDestroy(stream);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kernels (GPU): %s\n", e.what());
        return 1;
    }
    return 0;
}

}  // namespace bench

// The GPU half of `./bench kernels`: times each CUDA decode kernel, and cuBLASLt where it has
// an equivalent (the GEMVs, as an m x 1 matmul with the bias epilogue), against the read
// bandwidth of the device measured on the spot with a streaming-read kernel.
//
// Each measurement captures `repeats` back-to-back calls in a CUDA graph and reports the best
// of five replays divided by `repeats`, so launch overhead (which a decode loop also removes
// with graphs) does not hide kernel time. GB/s counts every operand byte once.
#include "benchmarks/bench_kernels_gpu.h"

#include <cublasLt.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cuda/attention_decode.cuh"
#include "cuda/gemv_fp16.cuh"
#include "cuda/rmsnorm.cuh"
#include "cuda/rope.cuh"
#include "cuda/silu_gate.cuh"
#include "runtime/half.h"

namespace bench {
namespace {

using fastvlm::fail;

void check_cublas(cublasStatus_t status, const char* call) {
    if (status != CUBLAS_STATUS_SUCCESS) fail("cublasLt", call, " failed: status ", int(status));
}
#define BENCH_CUBLAS(call) check_cublas((call), #call)

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

// y = W x + bias through cuBLASLt: W [out, in] row-major is the column-major [in, out] matrix
// A, used transposed; x and y are single columns; the bias is the matmul's epilogue.
class LtGemv {
public:
    LtGemv(cublasLtHandle_t handle, int in, int out, const __half* bias, void* workspace, size_t workspace_bytes)
        : handle_(handle), workspace_(workspace), workspace_bytes_(workspace_bytes) {
        BENCH_CUBLAS(cublasLtMatmulDescCreate(&op_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
        BENCH_CUBLAS(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose));
        BENCH_CUBLAS(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep));
        if (bias) {
            const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
            const cudaDataType_t bias_type = CUDA_R_16F;
            BENCH_CUBLAS(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
            BENCH_CUBLAS(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
            BENCH_CUBLAS(
                cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
        }
        BENCH_CUBLAS(cublasLtMatrixLayoutCreate(&a_, CUDA_R_16F, uint64_t(in), uint64_t(out), int64_t(in)));
        BENCH_CUBLAS(cublasLtMatrixLayoutCreate(&b_, CUDA_R_16F, uint64_t(in), 1, int64_t(in)));
        BENCH_CUBLAS(cublasLtMatrixLayoutCreate(&c_, CUDA_R_16F, uint64_t(out), 1, int64_t(out)));
        cublasLtMatmulPreference_t preference;
        BENCH_CUBLAS(cublasLtMatmulPreferenceCreate(&preference));
        BENCH_CUBLAS(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                          &workspace_bytes_, sizeof workspace_bytes_));
        int found = 0;
        BENCH_CUBLAS(cublasLtMatmulAlgoGetHeuristic(handle_, op_, a_, b_, c_, c_, preference, 1, &heuristic_, &found));
        cublasLtMatmulPreferenceDestroy(preference);
        available_ = found > 0;
    }
    ~LtGemv() {
        cublasLtMatrixLayoutDestroy(c_);
        cublasLtMatrixLayoutDestroy(b_);
        cublasLtMatrixLayoutDestroy(a_);
        cublasLtMatmulDescDestroy(op_);
    }
    LtGemv(const LtGemv&) = delete;
    LtGemv& operator=(const LtGemv&) = delete;

    bool available() const { return available_; }
    void run(const __half* w, const __half* x, __half* y, cudaStream_t stream) const {
        const float alpha = 1.0f, beta = 0.0f;
        BENCH_CUBLAS(cublasLtMatmul(handle_, op_, &alpha, w, a_, x, b_, &beta, y, c_, y, c_, &heuristic_.algo,
                                    workspace_, workspace_bytes_, stream));
    }

private:
    cublasLtHandle_t handle_;
    cublasLtMatmulDesc_t op_ = nullptr;
    cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
    cublasLtMatmulHeuristicResult_t heuristic_{};
    void* workspace_;
    size_t workspace_bytes_;
    bool available_ = false;
};

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
        std::printf("%-18s %-24s %9s %8s %6s %9s %8s %6s %9s\n", "kernel", "shape", "us", "GB/s", "%bw", "cuBLASLt",
                    "GB/s", "%bw", "max|diff|");

        const int hidden = 896, inter = 4864, heads = 14, kv_heads = 2, head_dim = 64, vocab = 151936;
        DeviceArray<__half> weights(static_cast<size_t>(vocab) * hidden), bias(static_cast<size_t>(vocab)), x(static_cast<size_t>(inter)),
            y(static_cast<size_t>(vocab)), y_lt(static_cast<size_t>(vocab));
        fill_fp16(weights.get(), weights.count(), 0.1f);
        fill_fp16(bias.get(), bias.count(), 0.1f);
        fill_fp16(x.get(), x.count(), 1.0f);
        cublasLtHandle_t lt;
        BENCH_CUBLAS(cublasLtCreate(&lt));
        const size_t workspace_bytes = static_cast<size_t>(32) << 20;
        DeviceArray<unsigned char> workspace(workspace_bytes);
        struct Gemv {
            const char* name;
            int in, out;
            bool bias;
        };
        for (const Gemv g : {Gemv{"q_proj", hidden, hidden, true}, Gemv{"k_proj/v_proj", hidden, kv_heads * head_dim, true},
                             Gemv{"gate/up_proj", hidden, inter, false}, Gemv{"down_proj", inter, hidden, false},
                             Gemv{"lm_head", hidden, vocab, false}}) {
            const __half* b = g.bias ? bias.get() : nullptr;
            const double bytes = 2.0 * g.in * g.out + 2.0 * g.in + 2.0 * g.out + (g.bias ? 2.0 * g.out : 0.0);
            const double us = time_us(stream, repeats, [&](cudaStream_t s) {
                fastvlm::gpu::gemv_fp16(weights.get(), b, x.get(), y.get(), g.in, g.out, s);
            });
            LtGemv reference(lt, g.in, g.out, b, workspace.get(), workspace_bytes);
            double lt_us = -1.0;
            float difference = -1.0f;
            if (reference.available()) {
                lt_us = time_us(stream, repeats, [&](cudaStream_t s) { reference.run(weights.get(), x.get(), y_lt.get(), s); });
                difference = max_abs_difference(y.get(), y_lt.get(), static_cast<size_t>(g.out));
            }
            print_row(std::string("gemv_fp16 ") + g.name, std::to_string(g.out) + "x" + std::to_string(g.in), bytes, us,
                      bandwidth, lt_us, difference);
        }

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

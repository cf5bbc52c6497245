// The CUDA backend: every Backend operation (runtime/backend.h) as kernels from cuda/, on one
// device and its default stream. v1 keeps the interface's fp32 activations and computes in fp32
// on CUDA cores (tensor cores are the next step); weights are copied to the device in their
// stored dtype (or quantized form) and widened by the kernels that read them.
//
// With GemmEngine::CublasLt the dense GEMMs (matmul, and linear layers kept in 16 bits) go to
// cuBLASLt instead, as the measured baseline: it needs both operands in one type, so x is
// narrowed to the weight's dtype first (W16A16; the fp16 weight modes round x to fp16 anyway).
//
// The same source runs on the CPU under the SIMT fiber runtime (cuda/simt/), which is how the
// test suite checks it op by op and end to end against the CPU backend on a machine without GPU.
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "runtime/backend.h"
#include "runtime/block_cache.h"

namespace fastvlm::gpu {

class CublasLtGemm;  // runtime/cuda/cublaslt_matmul.h (not in the SIMT build)

class CudaBackend final : public Backend {
public:
    // Throws when no device is usable (or cuBLASLt is asked for under the SIMT runtime).
    explicit CudaBackend(const BackendOptions& options = {});
    ~CudaBackend() override;
    std::string name() const override { return "cuda"; }
    std::string device_name() const override { return device_name_; }

    Tensor alloc(DType dtype, const Shape& shape) override;
    Tensor weight(const TensorView& view) override;
    Tensor upload(const std::vector<float>& values, const Shape& shape) override;
    Tensor upload_bytes(DType dtype, const Shape& shape, const void* bytes) override;
    void write(const Tensor& dst, const float* src) override;
    std::vector<float> read(const Tensor& src) override;
    MemoryStats memory() const override;
    void synchronize() override;
    double measure_bandwidth_gbps() override;  // device-to-device copy of 1 GiB: (read + write) / time

    void matmul(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias,
                Activation act = Activation::None) override;
    void linear(const Tensor& y, const Tensor& x, const LinearWeight& w, Activation act = Activation::None) override;

    void activate(const Tensor& x, Activation act) override;
    void add(const Tensor& y, const Tensor& x) override;
    void copy(const Tensor& dst, const Tensor& src) override;
    void transpose(const Tensor& y, const Tensor& x) override;

    void conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, int stride, int pad,
                Activation act) override;
    void depthwise_conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
                          int pad, Activation act) override;
    void layernorm(const Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) override;
    void add_scaled(const Tensor& y, const Tensor& x, const Tensor& scale) override;
    void mean_rows(const Tensor& y, const Tensor& x) override;
    void scale_channels(const Tensor& x, const Tensor& s) override;
    void self_attention(const Tensor& out, const Tensor& qkv, int heads, int head_dim) override;

    void embedding(const Tensor& y, const Tensor& table, const std::vector<int>& ids) override;
    void rmsnorm(const Tensor& y, const Tensor& x, const Tensor& weight, float eps) override;
    void rope(const Tensor& x, int heads, int head_dim, const std::vector<int>& positions, float theta) override;
    void silu_gate(const Tensor& out, const Tensor& gate, const Tensor& up) override;
    void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v, int pos) override;
    void attention_cached(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, int pos,
                          int heads, int kv_heads, int head_dim) override;

private:
    Tensor device_ints(const std::vector<int>& values);  // int32 copy on the device
    void linear_quantized(const Tensor& y, const Tensor& x, const LinearWeight& w);
    void linear_nf4(const Tensor& y, const Tensor& x, const LinearWeight& w);
    void linear_int8(const Tensor& y, const Tensor& x, const LinearWeight& w);
    void linear_w4a4(const Tensor& y, const Tensor& x, const LinearWeight& w);
    void matmul_cublaslt(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias_f32, Activation act);

    std::shared_ptr<BlockCache> memory_;  // freed device blocks are reused: cudaMalloc/cudaFree synchronize
    Tensor cublaslt_workspace_;
    std::shared_ptr<CublasLtGemm> cublaslt_;  // set with GemmEngine::CublasLt
    std::string device_name_;
    std::atomic<size_t> weight_bytes_{0};
};

// True when the CUDA runtime sees at least one device (always true under SIMT).
bool cuda_device_available();
// Registers "cuda" with make_backend (runtime/backend.h); binaries built with CUDA call it first.
void register_cuda_backend();

}  // namespace fastvlm::gpu

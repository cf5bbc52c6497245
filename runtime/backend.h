// The compute interface the model code is written against, once, for every backend.
//
// A backend owns memory (tensors it allocates or wraps) and runs the operations FastVLM needs.
// Activations are always fp32. Weights keep the dtype they are stored in (F32, F16 or BF16) and
// are widened by the operation that reads them. Every operation checks the shapes it is given
// and throws fastvlm::Error naming the operation and the offending shape.
//
// Layouts:
//   vision feature maps   [H, W, C]         channels innermost (a 1x1 convolution is a matmul)
//   token activations     [T, D]            one row per token
//   linear / conv weights the PyTorch layout: [N, K] or [N, K, 1, 1], [Cout, Cin/groups, k, k]
//   KV cache (one layer)  [capacity, n_kv_heads * head_dim], position-major
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "loader/safetensors.h"
#include "runtime/activation.h"
#include "runtime/linear_weight.h"
#include "runtime/tensor.h"

namespace fastvlm {


struct MemoryStats {
    size_t current_bytes = 0;   // allocated by the backend and alive now
    size_t peak_bytes = 0;      // most ever alive at once
    size_t mapped_bytes = 0;    // weights read in place from mapped checkpoint files
    size_t weight_bytes = 0;    // weights copied into backend memory (part of current / peak)
    size_t driver_used_bytes = 0;  // CUDA: the driver's reading of used device memory (0 elsewhere)
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;
    // The hardware it runs on, when the backend knows it better than the host does (GPU name).
    virtual std::string device_name() const { return std::string(); }

    // ------------------------------------------------------------------ memory
    // Uninitialised storage.
    virtual Tensor alloc(DType dtype, const Shape& shape) = 0;
    // A checkpoint tensor in its stored dtype. A backend that can read host memory directly
    // may alias the view's bytes: keep the checkpoint open while the tensor is in use.
    virtual Tensor weight(const TensorView& view) = 0;
    // fp32 values from the host, e.g. weights folded at load time.
    virtual Tensor upload(const std::vector<float>& values, const Shape& shape) = 0;
    // Raw bytes from the host as a weight tensor of any dtype (quantized weights made at load);
    // counted as weight memory.
    virtual Tensor upload_bytes(DType dtype, const Shape& shape, const void* bytes) = 0;
    // Copies numel() floats from the host into an F32 tensor.
    virtual void write(const Tensor& dst, const float* src) = 0;
    // Copies a tensor to the host, widened to fp32.
    virtual std::vector<float> read(const Tensor& src) = 0;
    virtual MemoryStats memory() const = 0;
    // Waits for queued work (a no-op for synchronous backends).
    virtual void synchronize() {}
    // Device memory read bandwidth measured on the spot, GB/s (0 when the backend has no own
    // measurement: the CPU's is taken by the caller over its thread pool).
    virtual double measure_bandwidth_gbps() { return 0.0; }

    // ------------------------------------------------------------------ dense algebra
    // y[m, n] = act(sum_k x[m, k] * w[n, k] + bias[n])
    //   x [M, K] f32, w [N, K] or [N, K, 1, 1], bias [N] or empty, y [M, N] f32
    virtual void matmul(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias,
                        Activation act = Activation::None) = 0;

    // The same product with a weight in any stored form (runtime/linear_weight.h): dense
    // weights go to matmul; quantized ones to the kernels of their format.
    //   x [T, in_features] f32, y [T, out_features] f32
    virtual void linear(const Tensor& y, const Tensor& x, const LinearWeight& w, Activation act = Activation::None) = 0;

    // ------------------------------------------------------------------ elementwise
    virtual void activate(const Tensor& x, Activation act) = 0;               // in place
    virtual void add(const Tensor& y, const Tensor& x) = 0;                   // y += x
    virtual void copy(const Tensor& dst, const Tensor& src) = 0;              // same numel, f32
    virtual void transpose(const Tensor& y, const Tensor& x) = 0;             // [R, C] -> [C, R]

    // ------------------------------------------------------------------ vision
    // Dense convolution (groups = 1), zero padding, for the few-channel stem.
    //   x [H, W, Cin], w [Cout, Cin, k, k], bias [Cout], y [Ho, Wo, Cout]
    virtual void conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias,
                        int stride, int pad, Activation act = Activation::None) = 0;
    // Depthwise convolution with a channel multiplier m = Cout / Cin (groups = Cin): output
    // channel o reads input channel o / m, as PyTorch's grouped convolution does.
    //   x [H, W, Cin], w [Cout, 1, k, k], bias [Cout] or empty, y [Ho, Wo, Cout]
    virtual void depthwise_conv2d(const Tensor& y, const Tensor& x, const Tensor& w,
                                  const Tensor& bias, int stride, int pad,
                                  Activation act = Activation::None) = 0;
    // Per-row layer norm (biased variance, eps inside the square root).
    //   x, y [N, C], weight and bias [C]
    virtual void layernorm(const Tensor& y, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, float eps) = 0;
    // y += scale[c] * x[n, c]   (layer scale on a residual branch), y and x [N, C], scale [C]
    virtual void add_scaled(const Tensor& y, const Tensor& x, const Tensor& scale) = 0;
    // y[c] = mean_n x[n, c]   x [N, C], y [1, C]
    virtual void mean_rows(const Tensor& y, const Tensor& x) = 0;
    // x[n, c] *= s[c]   x [N, C], s [1, C] or [C]
    virtual void scale_channels(const Tensor& x, const Tensor& s) = 0;
    // Bidirectional multi-head attention, scale head_dim^-0.5.
    //   qkv [N, 3 * heads * head_dim] laid out [q | k | v], each head contiguous
    //   out [N, heads * head_dim]
    virtual void self_attention(const Tensor& out, const Tensor& qkv, int heads, int head_dim) = 0;

    // ------------------------------------------------------------------ language model
    // y[t] = table[ids[t]]   table [V, D] any float dtype, y [T, D] f32
    virtual void embedding(const Tensor& y, const Tensor& table, const std::vector<int>& ids) = 0;
    // y = x / sqrt(mean(x^2) + eps) * weight, per row; y may be x.   x, y [T, D], weight [D]
    virtual void rmsnorm(const Tensor& y, const Tensor& x, const Tensor& weight, float eps) = 0;
    // Rotary embedding (rotate_half pairs i, i + head_dim/2) in place.   x [T, heads * head_dim]
    virtual void rope(const Tensor& x, int heads, int head_dim, const std::vector<int>& positions,
                      float theta) = 0;
    // out = silu(gate) * up   (out may alias gate)
    virtual void silu_gate(const Tensor& out, const Tensor& gate, const Tensor& up) = 0;
    // Writes k and v [T, kv_heads * head_dim] into one layer's cache rows [pos, pos + T).
    //   k_cache, v_cache [capacity, kv_heads * head_dim] (F16 or F32)
    virtual void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                          const Tensor& v, int pos) = 0;
    // Causal attention of T query tokens at positions [pos, pos + T) over the cache: token t
    // attends cached positions [0, pos + t]. Query head h reads KV head h / (heads / kv_heads).
    //   q [T, heads * head_dim], out [T, heads * head_dim]
    virtual void attention_cached(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                                  const Tensor& v_cache, int pos, int heads, int kv_heads,
                                  int head_dim) = 0;
};

// Who computes the dense (unquantized) GEMMs: our kernels, or cuBLASLt as the measured
// baseline (CUDA backend only; quantized layers always run our kernels).
enum class GemmEngine { Own, CublasLt };

struct BackendOptions {
    int threads = 0;            // CPU threads (0: one per core)
    bool copy_weights = true;   // CPU: copy large weights into backend memory (faster decoding)
                                // instead of reading them in place from the mapped checkpoint
    GemmEngine gemm = GemmEngine::Own;
};

// Makes a backend by name ("cpu", and "cuda" once registered); throws listing the known names.
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options = {});

// Backends living in other libraries (the CUDA one) add themselves by name.
using BackendFactory = std::unique_ptr<Backend> (*)(const BackendOptions& options);
void register_backend(const std::string& name, BackendFactory factory);
bool backend_registered(const std::string& name);

}  // namespace fastvlm

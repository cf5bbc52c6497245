// CUDA backend (runtime/cuda/backend_cuda.h): memory, shape checks (runtime/backend_checks.h,
// shared with the CPU backend) and the dispatch of each operation to its kernel in cuda/.
#include "runtime/cuda/backend_cuda.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda/attention.cuh"
#include "cuda/common.cuh"
#include "cuda/conv.cuh"
#include "cuda/elementwise.cuh"
#include "cuda/embedding.cuh"
#include "cuda/gemv_int8.cuh"
#include "cuda/gemv_nf4.cuh"
#include "cuda/gemv_w4a4.cuh"
#include "cuda/kv_cache.cuh"
#include "cuda/layernorm.cuh"
#include "cuda/matmul.cuh"
#include "cuda/matmul_f16.cuh"
#include "cuda/matmul_int8.cuh"
#include "cuda/rmsnorm.cuh"
#include "cuda/rope.cuh"
#include "cuda/silu_gate.cuh"
#include "runtime/backend_checks.h"
#include "runtime/error.h"
#include "runtime/half.h"
#if !defined(FASTVLM_SIMT)
#include "runtime/cuda/cublaslt_matmul.h"
#endif

namespace fastvlm::gpu {

namespace {

constexpr cudaStream_t kStream = nullptr;  // v1: everything on the default stream
constexpr int kGemvMaxTokens = 4;          // matmul's GEMV path; more rows go to a GEMM

const float* f32(const Tensor& t) { return t.empty() ? nullptr : t.as<float>(); }

// An fp32 tensor's values rounded to fp16 (nearest even), in a new fp16 tensor.
Tensor narrowed_to_f16(Backend& backend, const Tensor& t) {
    Tensor half = backend.alloc(DType::F16, t.shape());
    f32_to_f16(t.as<float>(), half.as<__half>(), size_t(t.numel()), kStream);
    return half;
}

// Kernels take fp32 biases and norm parameters; the few stored in 16 bits are small and widened
// per call, on the device.
Tensor widened(Backend& backend, const Tensor& t) {
    if (t.empty() || t.dtype() == DType::F32) return t;
    Tensor wide = backend.alloc(DType::F32, t.shape());
    widen_to_f32(t.data(), t.dtype(), wide.as<float>(), size_t(t.numel()), kStream);
    return wide;
}

}  // namespace

namespace {
void* device_allocate(size_t bytes) {
    void* ptr = nullptr;
    if (cudaMalloc(&ptr, bytes) != cudaSuccess) {
        cudaGetLastError();  // clear it: the caller reports out of memory with the shape
        return nullptr;
    }
    return ptr;
}
void device_free(void* ptr) { cudaFree(ptr); }
}  // namespace

CudaBackend::CudaBackend(const BackendOptions& options)
    : memory_(BlockCache::make(device_allocate, device_free, /*granule=*/256, /*max_cached=*/SIZE_MAX)) {
#if defined(FASTVLM_SIMT)
    device_name_ = "SIMT fiber runtime (CPU)";
    if (options.gemm == GemmEngine::CublasLt)
        fail("cuda backend", "cuBLASLt GEMMs need a GPU: under the SIMT fiber runtime only our own kernels run");
#else
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        cudaGetLastError();
        fail("cuda backend", "no CUDA device is available");
    }
    cudaDeviceProp properties{};
    FASTVLM_CUDA_CHECK(cudaGetDeviceProperties(&properties, 0));
    device_name_ = properties.name;
    if (options.gemm == GemmEngine::CublasLt) {
        constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // what cuBLASLt's heuristics may use
        cublaslt_workspace_ = alloc(DType::U8, {int64_t(kWorkspaceBytes)});
        cublaslt_ = std::make_shared<CublasLtGemm>(cublaslt_workspace_.data(), kWorkspaceBytes);
    }
#endif
}

CudaBackend::~CudaBackend() {
    cudaDeviceSynchronize();
    cublaslt_.reset();  // before its workspace goes back to the cache
}

// ---------------------------------------------------------------------- memory

Tensor CudaBackend::alloc(DType dtype, const Shape& shape) {
    const int64_t numel = shape_numel(shape);
    if (numel < 0) fail("cuda alloc", "negative shape ", shape_string(shape));
    const size_t bytes = size_t(numel) * dtype_size(dtype);
    std::shared_ptr<TensorBlock> block = memory_->take(bytes);
    if (!block)
        fail("cuda alloc", "out of GPU memory allocating ", bytes, " bytes for ", shape_string(shape), " (",
             memory_->current(), " bytes in use by this backend)");
    return Tensor(std::move(block), 0, dtype, shape);
}

Tensor CudaBackend::weight(const TensorView& view) {
    if (!checks::is_float(view.dtype))
        fail(view.file, "tensor '", view.name, "' has dtype ", dtype_name(view.dtype), " (expected F32, F16 or BF16)");
    return upload_bytes(view.dtype, Shape(view.shape.begin(), view.shape.end()), view.data);
}

Tensor CudaBackend::upload(const std::vector<float>& values, const Shape& shape) {
    if (int64_t(values.size()) != shape_numel(shape))
        fail("cuda upload", values.size(), " values for shape ", shape_string(shape));
    Tensor t = alloc(DType::F32, shape);
    if (!values.empty()) FASTVLM_CUDA_CHECK(cudaMemcpy(t.data(), values.data(), t.nbytes(), cudaMemcpyHostToDevice));
    return t;
}

Tensor CudaBackend::upload_bytes(DType dtype, const Shape& shape, const void* bytes) {
    Tensor t = alloc(dtype, shape);
    if (t.nbytes()) FASTVLM_CUDA_CHECK(cudaMemcpy(t.data(), bytes, t.nbytes(), cudaMemcpyHostToDevice));
    weight_bytes_ += t.nbytes();
    return t;
}

void CudaBackend::write(const Tensor& dst, const float* src) {
    checks::expect_f32(dst, "cuda write", "destination");
    if (dst.numel()) FASTVLM_CUDA_CHECK(cudaMemcpy(dst.data(), src, dst.nbytes(), cudaMemcpyHostToDevice));
}

std::vector<float> CudaBackend::read(const Tensor& src) {
    checks::expect_float(src, "cuda read", "source");
    std::vector<uint8_t> raw(src.nbytes());
    if (!raw.empty()) FASTVLM_CUDA_CHECK(cudaMemcpy(raw.data(), src.data(), raw.size(), cudaMemcpyDeviceToHost));
    std::vector<float> out(size_t(src.numel()));
    for (size_t i = 0; i < out.size(); ++i) {
        if (src.dtype() == DType::F32) std::memcpy(&out[i], raw.data() + 4 * i, 4);
        else {
            uint16_t h;
            std::memcpy(&h, raw.data() + 2 * i, 2);
            out[i] = src.dtype() == DType::F16 ? fp16_to_float(h) : bf16_to_float(h);
        }
    }
    return out;
}

MemoryStats CudaBackend::memory() const {
    MemoryStats m;
    m.current_bytes = memory_->current();
    m.peak_bytes = memory_->peak();
    m.weight_bytes = weight_bytes_.load();
#if !defined(FASTVLM_SIMT)
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) m.driver_used_bytes = total_bytes - free_bytes;
    else cudaGetLastError();
#endif
    return m;
}

void CudaBackend::synchronize() { FASTVLM_CUDA_CHECK(cudaDeviceSynchronize()); }

double CudaBackend::measure_bandwidth_gbps() {
#if defined(FASTVLM_SIMT)
    return 0.0;  // host memory under SIMT: nothing to measure
#else
    const size_t bytes = size_t(1) << 30;
    void *a = nullptr, *b = nullptr;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
        cudaGetLastError();
        cudaFree(a);
        return 0.0;
    }
    cudaEvent_t start, stop;
    FASTVLM_CUDA_CHECK(cudaEventCreate(&start));
    FASTVLM_CUDA_CHECK(cudaEventCreate(&stop));
    FASTVLM_CUDA_CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));  // warm-up
    float best_ms = 1e30f;
    for (int rep = 0; rep < 5; ++rep) {
        FASTVLM_CUDA_CHECK(cudaEventRecord(start));
        FASTVLM_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
        FASTVLM_CUDA_CHECK(cudaEventRecord(stop));
        FASTVLM_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0.0f;
        FASTVLM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        best_ms = std::min(best_ms, ms);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    cudaFree(a);
    cudaFree(b);
    return 2.0 * double(bytes) / (double(best_ms) * 1e-3) / 1e9;
#endif
}

Tensor CudaBackend::device_ints(const std::vector<int>& values) {
    Tensor t = alloc(DType::I32, {int64_t(values.size())});
    if (!values.empty())
        FASTVLM_CUDA_CHECK(cudaMemcpy(t.data(), values.data(), values.size() * sizeof(int), cudaMemcpyHostToDevice));
    return t;
}

// ---------------------------------------------------------------------- dense algebra

void CudaBackend::matmul(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, Activation act) {
    const checks::MatmulSize s = checks::matmul(y, x, w, bias);
    const Tensor bias_f32 = widened(*this, bias);
    if (cublaslt_) {
        matmul_cublaslt(y, x, w, bias_f32, act);
        return;
    }
    gpu::matmul(x.as<float>(), w.data(), w.dtype(), f32(bias_f32), y.as<float>(), int(s.m), int(s.n), int(s.k), act,
                kStream);
}

// y = x W^T + bias on cuBLASLt: x narrowed to the weight's dtype, fp32 accumulation and output,
// the bias in cuBLASLt's epilogue, the activation (erf GELU, which cuBLASLt lacks) after it.
void CudaBackend::matmul_cublaslt(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias_f32,
                                  Activation act) {
#if defined(FASTVLM_SIMT)
    (void)y, (void)x, (void)w, (void)bias_f32, (void)act;
#else
    const int tokens = int(x.rows()), in = int(x.cols()), out = int(w.rows());
    const void* input = x.data();
    Tensor narrowed;
    cudaDataType_t type = CUDA_R_32F;
    if (w.dtype() == DType::F16) {
        type = CUDA_R_16F;
        narrowed = narrowed_to_f16(*this, x);
        input = narrowed.data();
    } else if (w.dtype() == DType::BF16) {
        type = CUDA_R_16BF;
        narrowed = alloc(DType::BF16, x.shape());
        f32_to_bf16(x.as<float>(), narrowed.as<uint16_t>(), size_t(x.numel()), kStream);
        input = narrowed.data();
    }
    cublaslt_->linear(y.as<float>(), input, w.data(), type, f32(bias_f32), tokens, in, out, kStream);
    if (act != Activation::None) gpu::activate(y.as<float>(), size_t(y.numel()), act, kStream);
#endif
}

void CudaBackend::linear(const Tensor& y, const Tensor& x, const LinearWeight& w, Activation act) {
    checks::linear(y, x, w);
    if (w.format == LinearFormat::Dense) {
        if (!w.f16_activations) {
            matmul(y, x, w.weight, w.bias, act);
            return;
        }
        // The 16-bit activation modes: the input rounded to fp16 before, the output after. The
        // fp16 rows go straight to cuBLASLt when it is the GEMM engine, a prompt's rows to the
        // tensor cores (the fp16 values are exactly what they multiply), a decode step's few rows
        // to matmul's GEMV.
        const int tokens = int(x.rows()), in = int(w.in_features), out = int(w.out_features);
        const Tensor x_half = narrowed_to_f16(*this, x);
        const bool f16_weight = w.weight.dtype() == DType::F16;
        if (cublaslt_ && f16_weight) {
#if !defined(FASTVLM_SIMT)
            cublaslt_->linear(y.as<float>(), x_half.data(), w.weight.data(), CUDA_R_16F, f32(w.bias), tokens, in, out,
                              kStream);
#endif
        } else if (tokens > kGemvMaxTokens && f16_weight && matmul_f16_supported(x_half.data(), w.weight.data(), in)) {
            matmul_f16(x_half.as<__half>(), w.weight.as<__half>(), f32(w.bias), y.as<float>(), tokens, out, in,
                       Activation::None, kStream);
        } else {
            Tensor x16 = alloc(DType::F32, x.shape());
            f16_to_f32(x_half.as<__half>(), x16.as<float>(), size_t(x.numel()), kStream);
            matmul(y, x16, w.weight, w.bias, Activation::None);
        }
    } else {
        linear_quantized(y, x, w);
        if (w.format == LinearFormat::NF4 && !w.f16_activations) {  // W4A32 keeps fp32 outputs
            if (act != Activation::None) gpu::activate(y.as<float>(), size_t(y.numel()), act, kStream);
            return;
        }
    }
    gpu::round_to_fp16(y.as<float>(), size_t(y.numel()), kStream);
    if (act != Activation::None) {
        gpu::activate(y.as<float>(), size_t(y.numel()), act, kStream);
        gpu::round_to_fp16(y.as<float>(), size_t(y.numel()), kStream);
    }
}

namespace {
// The fp16 side of a quantized layer whose kernel reads and writes fp16 rows: the input and the
// bias narrowed on entry (round to nearest even), the output widened back by store().
struct Fp16Rows {
    Tensor x, y, bias;
    Fp16Rows(Backend& backend, const Tensor& x32, const Tensor& y32, const Tensor& bias32)
        : x(narrowed_to_f16(backend, x32)), y(backend.alloc(DType::F16, y32.shape())) {
        if (!bias32.empty()) bias = narrowed_to_f16(backend, bias32);
    }
    const __half* bias_or_null() const { return bias.empty() ? nullptr : bias.as<__half>(); }
    void store(const Tensor& y32) const { f16_to_f32(y.as<__half>(), y32.as<float>(), size_t(y32.numel()), kStream); }
};
}  // namespace

// The quantized formats take every token of a call in one launch (decode: one; prefill: the
// prompt), so the weight is read from DRAM once per call.
//
// NF4: fp32 rows as they are in W4A32, fp16 rows in W4A16 (a prompt's on the tensor cores).
void CudaBackend::linear_nf4(const Tensor& y, const Tensor& x, const LinearWeight& w) {
    const int n = int(w.out_features), k = int(w.in_features), tokens = int(x.rows());
    NF4Weight weight;
    weight.codes = w.codes.as<uint8_t>();
    weight.absmax_codes = w.absmax_codes.as<uint8_t>();
    weight.nested_absmax = w.nested_absmax.as<float>();
    weight.dynamic_map = w.dynamic_map.as<float>();
    weight.offset = w.nested_offset;
    weight.out_features = n;
    weight.in_features = k;
    if (!w.f16_activations) {
        gemv_nf4_w4a32(weight, f32(w.bias), x.as<float>(), y.as<float>(), tokens, kStream);
        return;
    }
    if (tokens > kGemvMaxTokens && k % 8 == 0) {
        // A prompt: slabs of rows dequantized to the fp16 values the GEMV would form, then the
        // tensor cores on the fp16 input (the same exact products; the bias is fp16-valued).
        const Tensor x_half = narrowed_to_f16(*this, x);
        const int slab_rows = std::min(n, std::max(64, int((size_t(16) << 20) / size_t(k))));  // <= 32 MB
        Tensor slab = alloc(DType::F16, {slab_rows, k});
        for (int r0 = 0; r0 < n; r0 += slab_rows) {
            const int rows = std::min(slab_rows, n - r0);
            dequantize_nf4_f16(weight, r0, r0 + rows, slab.as<__half>(), kStream);
            matmul_f16(x_half.as<__half>(), slab.as<__half>(), w.bias.empty() ? nullptr : w.bias.as<float>() + r0,
                       y.as<float>() + r0, tokens, rows, k, Activation::None, kStream, n);
        }
        return;  // linear() rounds the output to fp16
    }
    const Fp16Rows rows(*this, x, y, w.bias);
    gemv_nf4_w4a16(weight, rows.bias_or_null(), rows.x.as<__half>(), rows.y.as<__half>(), tokens, kStream);
    rows.store(y);
}

// LLM.int8: every token's row rounded to fp16 and quantized together (the outlier columns are
// those of any token, as in bitsandbytes), one GEMV launch over all tokens, widened back.
void CudaBackend::linear_int8(const Tensor& y, const Tensor& x, const LinearWeight& w) {
    const int n = int(w.out_features), k = int(w.in_features), tokens = int(x.rows());
    Int8Weight weight;
    weight.codes = w.codes.as<int8_t>();
    weight.row_scale = w.row_scale.as<float>();
    weight.out_features = n;
    weight.in_features = k;
    const Fp16Rows rows(*this, x, y, w.bias);
    const Tensor workspace = alloc(DType::U8, {int64_t(int8_activation_workspace_bytes(k, tokens))});
    const Int8Activation a = int8_activation(workspace.data(), k, tokens);
    // A threshold of 0 means "no decomposition" in bitsandbytes: no column is an outlier.
    const float threshold = w.outlier_threshold > 0.0f ? w.outlier_threshold : INFINITY;
    quantize_activation_int8(rows.x.as<__half>(), threshold, a, kStream);
    if (tokens > kGemvMaxTokens && matmul_int8_supported(weight))  // a prompt: the same bits on tensor cores
        matmul_int8(weight, rows.bias_or_null(), rows.x.as<__half>(), a, rows.y.as<__half>(), kStream);
    else
        gemv_int8(weight, rows.bias_or_null(), rows.x.as<__half>(), a, rows.y.as<__half>(), kStream);
    rows.store(y);
}

// W4A4: every token's row rounded to fp16 and quantized (each on its own), one GEMV launch over
// all tokens, widened back.
void CudaBackend::linear_w4a4(const Tensor& y, const Tensor& x, const LinearWeight& w) {
    const int n = int(w.out_features), k = int(w.in_features), tokens = int(x.rows());
    Int4Weight weight;
    weight.codes = w.codes.as<uint8_t>();
    weight.scales = w.group_scale.as<__half>();
    weight.out_features = n;
    weight.in_features = k;
    const Fp16Rows rows(*this, x, y, w.bias);
    const Tensor workspace = alloc(DType::U8, {int64_t(int4_activation_workspace_bytes(k, tokens))});
    const Int4Activation a = int4_activation(workspace.data(), k, tokens);
    quantize_activation_int4(rows.x.as<__half>(), a, kStream);
    gemv_w4a4(weight, rows.bias_or_null(), a, rows.y.as<__half>(), kStream);
    rows.store(y);
}

void CudaBackend::linear_quantized(const Tensor& y, const Tensor& x, const LinearWeight& w) {
    switch (w.format) {
        case LinearFormat::Int8: linear_int8(y, x, w); return;
        case LinearFormat::NF4: linear_nf4(y, x, w); return;
        case LinearFormat::Int4: linear_w4a4(y, x, w); return;
        case LinearFormat::Dense: break;
    }
    fail("cuda linear", "not a quantized format");
}

// ---------------------------------------------------------------------- elementwise

void CudaBackend::activate(const Tensor& x, Activation act) {
    checks::expect_f32(x, "activate", "tensor");
    gpu::activate(x.as<float>(), size_t(x.numel()), act, kStream);
}

void CudaBackend::add(const Tensor& y, const Tensor& x) {
    checks::elementwise(y, x, "add");
    gpu::add(y.as<float>(), x.as<float>(), size_t(y.numel()), kStream);
}

void CudaBackend::copy(const Tensor& dst, const Tensor& src) {
    checks::elementwise(dst, src, "copy");
    gpu::copy(dst.as<float>(), src.as<float>(), size_t(dst.numel()), kStream);
}

void CudaBackend::transpose(const Tensor& y, const Tensor& x) {
    checks::transpose(y, x);
    gpu::transpose(y.as<float>(), x.as<float>(), int(x.rows()), int(x.cols()), kStream);
}

// ---------------------------------------------------------------------- vision

void CudaBackend::conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, int stride, int pad,
                         Activation act) {
    const checks::ConvSize s = checks::conv2d(y, x, w, bias);
    const Tensor b = widened(*this, bias);
    gpu::conv2d(x.as<float>(), w.data(), w.dtype(), f32(b), y.as<float>(), int(s.in_h), int(s.in_w), int(s.in_c),
                int(s.out_c), s.kernel, stride, pad, act, kStream);
}

void CudaBackend::depthwise_conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
                                   int pad, Activation act) {
    const checks::ConvSize s = checks::depthwise_conv2d(y, x, w, bias);
    const Tensor b = widened(*this, bias);
    gpu::depthwise_conv2d(x.as<float>(), w.data(), w.dtype(), f32(b), y.as<float>(), int(s.in_h), int(s.in_w),
                          int(s.in_c), int(s.out_c), s.kernel, stride, pad, act, kStream);
}

void CudaBackend::layernorm(const Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    checks::layernorm(y, x, weight, bias);
    Tensor w = weight, b = bias;
    if (weight.dtype() != bias.dtype()) {  // the kernel takes one dtype for both
        w = widened(*this, weight);
        b = widened(*this, bias);
    }
    gpu::layernorm(x.as<float>(), w.data(), b.data(), w.dtype(), y.as<float>(), int(x.rows()), int(x.cols()), eps,
                   kStream);
}

void CudaBackend::add_scaled(const Tensor& y, const Tensor& x, const Tensor& scale) {
    checks::add_scaled(y, x, scale);
    gpu::add_scaled(y.as<float>(), x.as<float>(), scale.data(), scale.dtype(), int(y.rows()), int(y.cols()), kStream);
}

void CudaBackend::mean_rows(const Tensor& y, const Tensor& x) {
    checks::mean_rows(y, x);
    gpu::mean_rows(y.as<float>(), x.as<float>(), int(x.rows()), int(x.cols()), kStream);
}

void CudaBackend::scale_channels(const Tensor& x, const Tensor& s) {
    checks::scale_channels(x, s);
    gpu::scale_channels(x.as<float>(), s.as<float>(), int(x.rows()), int(x.cols()), kStream);
}

void CudaBackend::self_attention(const Tensor& out, const Tensor& qkv, int heads, int head_dim) {
    checks::self_attention(out, qkv, heads, head_dim);
    const int width = heads * head_dim;
    const float* base = qkv.as<float>();
    gpu::attention(base, 3 * width, base + width, base + 2 * width, 3 * width, DType::F32, out.as<float>(), width,
                   int(qkv.rows()), int(qkv.rows()), heads, heads, head_dim, -1, 1.0f / std::sqrt(float(head_dim)),
                   kStream);
}

// ---------------------------------------------------------------------- language model

void CudaBackend::embedding(const Tensor& y, const Tensor& table, const std::vector<int>& ids) {
    checks::embedding(y, table, ids.data(), int64_t(ids.size()));
    if (ids.empty()) return;
    const Tensor device_ids = device_ints(ids);
    gpu::embedding(table.data(), table.dtype(), device_ids.as<int>(), y.as<float>(), int(ids.size()),
                   int(table.dim(1)), kStream);
}

void CudaBackend::rmsnorm(const Tensor& y, const Tensor& x, const Tensor& weight, float eps) {
    checks::rmsnorm(y, x, weight);
    rmsnorm_f32(x.as<float>(), weight.data(), weight.dtype(), y.as<float>(), int(x.rows()), int(x.cols()), eps,
                kStream);
}

void CudaBackend::rope(const Tensor& x, int heads, int head_dim, const std::vector<int>& positions, float theta) {
    checks::rope(x, heads, head_dim, int64_t(positions.size()));
    if (positions.empty()) return;
    bool consecutive = true;  // a prompt or a decode step: nothing to upload
    for (size_t i = 1; i < positions.size() && consecutive; ++i) consecutive = positions[i] == positions[0] + int(i);
    if (consecutive) {
        rope_f32_consecutive(x.as<float>(), positions[0], int(positions.size()), heads, head_dim, theta, kStream);
        return;
    }
    const Tensor device_positions = device_ints(positions);
    rope_f32(x.as<float>(), device_positions.as<int>(), int(positions.size()), heads, head_dim, theta, kStream);
}

void CudaBackend::silu_gate(const Tensor& out, const Tensor& gate, const Tensor& up) {
    checks::silu_gate(out, gate, up);
    silu_gate_f32(gate.as<float>(), up.as<float>(), out.as<float>(), size_t(out.numel()), kStream);
}

void CudaBackend::kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v, int pos) {
    checks::kv_store(k_cache, v_cache, k, v, pos);
    gpu::kv_store(k_cache.data(), v_cache.data(), k_cache.dtype(), k.as<float>(), v.as<float>(), int(k.rows()),
                  int(k_cache.dim(1)), pos, kStream);
}

void CudaBackend::attention_cached(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                   int pos, int heads, int kv_heads, int head_dim) {
    checks::attention_cached(out, q, k_cache, v_cache, pos, heads, kv_heads, head_dim);
    const int width = heads * head_dim, kv_width = kv_heads * head_dim, tokens = int(q.rows());
    gpu::attention(q.as<float>(), width, k_cache.data(), v_cache.data(), kv_width, k_cache.dtype(), out.as<float>(),
                   width, tokens, pos + tokens, heads, kv_heads, head_dim, pos, 1.0f / std::sqrt(float(head_dim)),
                   kStream);
}

// ---------------------------------------------------------------------- registration

bool cuda_device_available() {
#if defined(FASTVLM_SIMT)
    return true;
#else
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    return count > 0;
#endif
}

namespace {
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
    return std::make_unique<CudaBackend>(options);
}
}  // namespace

void register_cuda_backend() { register_backend("cuda", make_cuda_backend); }

}  // namespace fastvlm::gpu

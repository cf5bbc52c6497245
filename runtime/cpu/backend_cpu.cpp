// CPU backend: memory accounting, shape checks, and the dispatch of each operation to its
// kernel (blocked GEMM, direct convolutions, the fp16 GEMV / RMSNorm / RoPE / SwiGLU / decode
// attention twins of the CUDA kernels, and the small loops below).
#include "runtime/cpu/backend_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>

#include "runtime/backend_checks.h"
#include "runtime/cpu/attention_decode.h"
#include "runtime/cpu/attention_prefill.h"
#include "runtime/cpu/conv.h"
#include "runtime/cpu/gemv_fp16.h"
#include "runtime/cpu/matmul.h"
#include "runtime/cpu/rmsnorm.h"
#include "runtime/cpu/rope.h"
#include "runtime/cpu/self_attention.h"
#include "runtime/cpu/silu_gate.h"
#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"
#include "runtime/half.h"

namespace fastvlm::cpu {

namespace {

using checks::expect_f32;
using checks::expect_float;
using checks::is_float;

// An fp32 copy of a small float tensor (biases, norm weights, conv kernels), or a direct
// pointer when it is already fp32.
struct Floats {
    std::vector<float> storage;
    const float* ptr = nullptr;
    explicit Floats(const Tensor& t) {
        if (t.empty()) return;
        if (t.dtype() == DType::F32) {
            ptr = t.as<float>();
        } else {
            storage.resize(size_t(t.numel()));
            widen_to_f32(t.data(), t.dtype(), storage.data(), t.numel());
            ptr = storage.data();
        }
    }
};

ConvShape conv_shape(const checks::ConvSize& c, int stride, int pad) {
    ConvShape s;
    s.in_h = c.in_h; s.in_w = c.in_w; s.in_c = c.in_c;
    s.out_h = c.out_h; s.out_w = c.out_w; s.out_c = c.out_c;
    s.kernel = c.kernel; s.stride = stride; s.pad = pad;
    return s;
}

}  // namespace

namespace {
void* host_allocate(size_t bytes) { return std::aligned_alloc(64, bytes); }
void host_free(void* ptr) { std::free(ptr); }
}  // namespace

CpuBackend::CpuBackend(int threads, bool copy_weights)
    : pool_(threads),
      memory_(BlockCache::make(host_allocate, host_free, /*granule=*/64, /*max_cached=*/size_t(1) << 30)),
      copy_weights_(copy_weights) {}

// ---------------------------------------------------------------------- threads

// Runs body over [0, n) on the pool, or inline when the whole job (n items of about `cost`
// elementary steps each) is too small to pay for waking the other threads.
void CpuBackend::split(int64_t n, int64_t cost, const std::function<void(int64_t, int64_t, int)>& body) {
    if (n * cost < 32768) {
        if (n > 0) body(0, n, 0);
        return;
    }
    pool_.split(n, body);
}

// Runs body over row ranges of [0, n) handed out a chunk at a time: a thread slowed down by
// another process on its core takes fewer chunks instead of holding up the rest.
void CpuBackend::rows_in_chunks(int64_t n, int64_t cost, const std::function<void(int64_t, int64_t)>& body) {
    if (n * cost < 32768 || pool_.size() == 1) {
        if (n > 0) body(0, n);
        return;
    }
    const int64_t chunks = std::min<int64_t>(16 * pool_.size(), std::max<int64_t>(1, n / 64));
    pool_.run(chunks, [&](int64_t c, int) { body(n * c / chunks, n * (c + 1) / chunks); });
}

// ---------------------------------------------------------------------- memory

Tensor CpuBackend::alloc(DType dtype, const Shape& shape) {
    const int64_t numel = shape_numel(shape);
    if (numel < 0) fail("cpu alloc", "negative shape ", shape_string(shape));
    const size_t bytes = size_t(numel) * dtype_size(dtype);
    std::shared_ptr<TensorBlock> block = memory_->take(bytes);
    if (!block) fail("cpu alloc", "out of memory allocating ", bytes, " bytes for ", shape_string(shape));
    return Tensor(std::move(block), 0, dtype, shape);
}

// Weights are read in place from the mapped file, or copied into backend memory: decoding
// streams every weight once per token, and on this kind of machine it streams about an eighth
// faster from freshly allocated memory than from the file's page-cache pages (measured with
// ./bench model --mmap-weights). Small tensors stay mapped either way.
Tensor CpuBackend::weight(const TensorView& view) {
    if (!is_float(view.dtype))
        fail(view.file, "tensor '", view.name, "' has dtype ", dtype_name(view.dtype),
             " (expected F32, F16 or BF16)");
    const Shape shape(view.shape.begin(), view.shape.end());
    if (copy_weights_ && view.nbytes >= (size_t(64) << 10)) {
        Tensor t = alloc(view.dtype, shape);
        uint8_t* dst = static_cast<uint8_t*>(t.data());
        const int64_t pages = int64_t((view.nbytes + 4095) / 4096);
        split(pages, 4096, [&](int64_t begin, int64_t end, int) {
            const size_t from = size_t(begin) * 4096, to = std::min(view.nbytes, size_t(end) * 4096);
            std::memcpy(dst + from, view.data + from, to - from);
        });
        copied_bytes_ += view.nbytes;
        return t;
    }
    auto block = std::make_shared<TensorBlock>();
    block->bytes = view.nbytes;
    block->ptr = const_cast<uint8_t*>(view.data);  // read only: weights are never written
    mapped_bytes_ += view.nbytes;
    return Tensor(std::move(block), 0, view.dtype, shape);
}

Tensor CpuBackend::upload(const std::vector<float>& values, const Shape& shape) {
    if (int64_t(values.size()) != shape_numel(shape))
        fail("cpu upload", values.size(), " values for shape ", shape_string(shape));
    Tensor t = alloc(DType::F32, shape);
    if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * 4);
    return t;
}

void CpuBackend::write(const Tensor& dst, const float* src) {
    expect_f32(dst, "cpu write", "destination");
    if (dst.numel()) std::memcpy(dst.data(), src, dst.nbytes());
}

std::vector<float> CpuBackend::read(const Tensor& src) {
    expect_float(src, "cpu read", "source");
    std::vector<float> out(static_cast<size_t>(src.numel()));
    widen_to_f32(src.data(), src.dtype(), out.data(), src.numel());
    return out;
}

MemoryStats CpuBackend::memory() const {
    MemoryStats m;
    m.current_bytes = memory_->current();
    m.peak_bytes = memory_->peak();
    m.mapped_bytes = mapped_bytes_.load();
    m.weight_bytes = copied_bytes_.load();
    return m;
}

// ---------------------------------------------------------------------- dense algebra

void CpuBackend::matmul(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias,
                        Activation act) {
    const checks::MatmulSize size = checks::matmul(y, x, w, bias);
    const int64_t n = size.n, k = size.k, m = size.m;

    if (m == 1 && w.dtype() == DType::F16) {
        // Decode: one token, bandwidth bound; rows split across the threads.
        const bool fp16_bias = !bias.empty() && bias.dtype() == DType::F16;
        rows_in_chunks(n, k, [&](int64_t begin, int64_t end) {
            gemv_fp16(w.as<uint16_t>(), fp16_bias ? bias.as<uint16_t>() : nullptr, x.as<float>(),
                      y.as<float>(), 1, int(k), int(n), int(begin), int(end));
        });
        if ((!bias.empty() && !fp16_bias) || act != Activation::None) {
            Floats b(fp16_bias ? Tensor() : bias);
            float* out = y.as<float>();
            if (b.ptr)
                for (int64_t j = 0; j < n; ++j) out[j] += b.ptr[j];
            activate_span(out, size_t(n), act);
        }
        return;
    }
    if (m == 1) {
        Floats b(bias);
        rows_in_chunks(n, k, [&](int64_t begin, int64_t end) {
            gemv_widen(w.data(), w.dtype(), x.as<float>(), y.as<float>(), k, begin, end);
        });
        float* out = y.as<float>();
        if (b.ptr)
            for (int64_t j = 0; j < n; ++j) out[j] += b.ptr[j];
        activate_span(out, size_t(n), act);
        return;
    }
    Floats b(bias);
    GemmArgs g;
    g.m = m; g.n = n; g.k = k;
    g.a = x.as<float>(); g.lda = k;
    g.b = w.data(); g.b_dtype = w.dtype(); g.ldb = k;
    g.bias = b.ptr;
    g.c = y.as<float>(); g.ldc = n;
    g.act = act;
    gemm(pool_, g);
}

// ---------------------------------------------------------------------- elementwise

void CpuBackend::activate(const Tensor& x, Activation act) {
    expect_f32(x, "activate", "tensor");
    float* p = x.as<float>();
    split(x.numel(), 4, [&](int64_t begin, int64_t end, int) {
        activate_span(p + begin, size_t(end - begin), act);
    });
}

void CpuBackend::add(const Tensor& y, const Tensor& x) {
    checks::elementwise(y, x, "add");
    float* a = y.as<float>();
    const float* b = x.as<float>();
    split(y.numel(), 1, [&](int64_t begin, int64_t end, int) {
        for (int64_t i = begin; i < end; ++i) a[i] += b[i];
    });
}

void CpuBackend::copy(const Tensor& dst, const Tensor& src) {
    checks::elementwise(dst, src, "copy");
    if (dst.numel()) std::memmove(dst.data(), src.data(), dst.nbytes());
}

void CpuBackend::transpose(const Tensor& y, const Tensor& x) {
    checks::transpose(y, x);
    const int64_t r = x.rows(), c = x.cols();
    const float* in = x.as<float>();
    float* out = y.as<float>();
    constexpr int64_t B = 32;  // square blocks keep both sides in cache
    const int64_t blocks_r = (r + B - 1) / B;
    split(blocks_r, B * c, [&](int64_t begin, int64_t end, int) {
        for (int64_t br = begin; br < end; ++br)
            for (int64_t c0 = 0; c0 < c; c0 += B)
                for (int64_t i = br * B; i < std::min(r, br * B + B); ++i)
                    for (int64_t j = c0; j < std::min(c, c0 + B); ++j) out[j * r + i] = in[i * c + j];
    });
}

// ---------------------------------------------------------------------- vision

void CpuBackend::conv2d(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias,
                        int stride, int pad, Activation act) {
    const ConvShape s = conv_shape(checks::conv2d(y, x, w, bias), stride, pad);
    Floats wf(w), bf(bias);
    conv2d_hwc(pool_, s, x.as<float>(), wf.ptr, bf.ptr, y.as<float>(), act);
}

void CpuBackend::depthwise_conv2d(const Tensor& y, const Tensor& x, const Tensor& w,
                                  const Tensor& bias, int stride, int pad, Activation act) {
    const ConvShape s = conv_shape(checks::depthwise_conv2d(y, x, w, bias), stride, pad);
    Floats wf(w), bf(bias);
    depthwise_conv2d_hwc(pool_, s, x.as<float>(), wf.ptr, bf.ptr, y.as<float>(), act);
}

void CpuBackend::layernorm(const Tensor& y, const Tensor& x, const Tensor& weight,
                           const Tensor& bias, float eps) {
    checks::layernorm(y, x, weight, bias);
    const int64_t rows = x.rows(), c = x.cols();
    Floats wf(weight), bf(bias);
    const float* in = x.as<float>();
    float* out = y.as<float>();
    split(rows, c, [&](int64_t begin, int64_t end, int) {
        for (int64_t r = begin; r < end; ++r) {
            const float* xr = in + r * c;
            float* yr = out + r * c;
            float mean = 0.0f;
            for (int64_t i = 0; i < c; ++i) mean += xr[i];
            mean /= float(c);
            float var = 0.0f;
            for (int64_t i = 0; i < c; ++i) var += (xr[i] - mean) * (xr[i] - mean);
            var /= float(c);
            const float inv = 1.0f / std::sqrt(var + eps);
            for (int64_t i = 0; i < c; ++i) yr[i] = (xr[i] - mean) * inv * wf.ptr[i] + bf.ptr[i];
        }
    });
}

void CpuBackend::add_scaled(const Tensor& y, const Tensor& x, const Tensor& scale) {
    checks::add_scaled(y, x, scale);
    const int64_t c = y.cols();
    Floats s(scale);
    float* out = y.as<float>();
    const float* in = x.as<float>();
    split(y.rows(), c, [&](int64_t begin, int64_t end, int) {
        for (int64_t r = begin; r < end; ++r)
            for (int64_t i = 0; i < c; ++i) out[r * c + i] += s.ptr[i] * in[r * c + i];
    });
}

void CpuBackend::mean_rows(const Tensor& y, const Tensor& x) {
    checks::mean_rows(y, x);
    const int64_t rows = x.rows(), c = x.cols();
    const float* in = x.as<float>();
    float* out = y.as<float>();
    split(c, rows, [&](int64_t begin, int64_t end, int) {
        for (int64_t i = begin; i < end; ++i) out[i] = 0.0f;
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = begin; i < end; ++i) out[i] += in[r * c + i];
        for (int64_t i = begin; i < end; ++i) out[i] /= float(rows);
    });
}

void CpuBackend::scale_channels(const Tensor& x, const Tensor& s) {
    checks::scale_channels(x, s);
    const int64_t c = x.cols();
    float* p = x.as<float>();
    const float* sp = s.as<float>();
    split(x.rows(), c, [&](int64_t begin, int64_t end, int) {
        for (int64_t r = begin; r < end; ++r)
            for (int64_t i = 0; i < c; ++i) p[r * c + i] *= sp[i];
    });
}

void CpuBackend::self_attention(const Tensor& out, const Tensor& qkv, int heads, int head_dim) {
    checks::self_attention(out, qkv, heads, head_dim);
    cpu::self_attention(pool_, qkv.as<float>(), out.as<float>(), qkv.rows(), heads, head_dim,
                        1.0f / std::sqrt(float(head_dim)));
}

// ---------------------------------------------------------------------- language model

void CpuBackend::embedding(const Tensor& y, const Tensor& table, const std::vector<int>& ids) {
    checks::embedding(y, table, ids.data(), int64_t(ids.size()));
    const int64_t d = table.dim(1);
    for (size_t t = 0; t < ids.size(); ++t) {
        const uint8_t* row = static_cast<const uint8_t*>(table.data()) + size_t(ids[t]) * size_t(d) * dtype_size(table.dtype());
        widen_to_f32(row, table.dtype(), y.as<float>() + int64_t(t) * d, d);
    }
}

void CpuBackend::rmsnorm(const Tensor& y, const Tensor& x, const Tensor& weight, float eps) {
    checks::rmsnorm(y, x, weight);
    const int64_t d = x.cols(), rows = x.rows();
    if (weight.dtype() == DType::F16) {
        split(rows, d, [&](int64_t begin, int64_t end, int) {
            cpu::rmsnorm(x.as<float>() + begin * d, weight.as<uint16_t>(), y.as<float>() + begin * d,
                         int(end - begin), int(d), eps);
        });
        return;
    }
    // Same arithmetic as the fp16-weight kernel, for fp32 and bf16 weights.
    Floats w(weight);
    const float* in = x.as<float>();
    float* out = y.as<float>();
    split(rows, d, [&](int64_t begin, int64_t end, int) {
        for (int64_t r = begin; r < end; ++r) {
            double sum_sq = 0.0;
            for (int64_t i = 0; i < d; ++i) sum_sq += double(in[r * d + i]) * double(in[r * d + i]);
            const float inv_rms = 1.0f / std::sqrt(float(sum_sq / double(d)) + eps);
            for (int64_t i = 0; i < d; ++i) out[r * d + i] = in[r * d + i] * inv_rms * w.ptr[i];
        }
    });
}

void CpuBackend::rope(const Tensor& x, int heads, int head_dim, const std::vector<int>& positions,
                      float theta) {
    checks::rope(x, heads, head_dim, int64_t(positions.size()));
    cpu::rope(x.as<float>(), positions.data(), int(positions.size()), heads, head_dim, theta);
}

void CpuBackend::silu_gate(const Tensor& out, const Tensor& gate, const Tensor& up) {
    checks::silu_gate(out, gate, up);
    split(out.numel(), 8, [&](int64_t begin, int64_t end, int) {
        cpu::silu_gate(gate.as<float>() + begin, up.as<float>() + begin, out.as<float>() + begin,
                       size_t(end - begin));
    });
}

void CpuBackend::kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                          const Tensor& v, int pos) {
    checks::kv_store(k_cache, v_cache, k, v, pos);
    const int64_t width = k_cache.dim(1), t = k.rows();
    const size_t n = size_t(t * width), offset = size_t(pos) * size_t(width);
    if (k_cache.dtype() == DType::F32) {
        std::memcpy(k_cache.as<float>() + offset, k.data(), n * 4);
        std::memcpy(v_cache.as<float>() + offset, v.data(), n * 4);
        return;
    }
    uint16_t* kc = k_cache.as<uint16_t>() + offset;
    uint16_t* vc = v_cache.as<uint16_t>() + offset;
    for (size_t i = 0; i < n; ++i) {
        kc[i] = float_to_fp16(k.as<float>()[i]);
        vc[i] = float_to_fp16(v.as<float>()[i]);
    }
}

void CpuBackend::attention_cached(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                                  const Tensor& v_cache, int pos, int heads, int kv_heads, int head_dim) {
    checks::attention_cached(out, q, k_cache, v_cache, pos, heads, kv_heads, head_dim);
    const int64_t t = q.rows(), width = int64_t(heads) * head_dim;
    const float scale = 1.0f / std::sqrt(float(head_dim));
    if (t > 1) {  // a block of tokens (prefill): GEMMs per head
        attention_prefill(pool_, q.as<float>(), k_cache.data(), v_cache.data(), k_cache.dtype(), out.as<float>(), t,
                          pos, heads, kv_heads, head_dim, scale);
        return;
    }
    // One task per (token, head): token i attends cached positions [0, pos + i].
    auto task = [&](int64_t task, int) {
        const int64_t i = task / heads;
        const int h = int(task % heads);
        const float* qi = q.as<float>() + i * width;
        float* oi = out.as<float>() + i * width;
        const int kv_len = int(pos + i + 1);
        if (k_cache.dtype() == DType::F16)
            attention_decode(qi, k_cache.as<uint16_t>(), v_cache.as<uint16_t>(), oi, kv_len, heads, kv_heads,
                             head_dim, scale, h, h + 1);
        else if (k_cache.dtype() == DType::F32)
            attention_decode_f32(qi, k_cache.as<float>(), v_cache.as<float>(), oi, kv_len, heads, kv_heads,
                                 head_dim, scale, h, h + 1);
        else
            fail("attention_cached", "cache dtype ", dtype_name(k_cache.dtype()), " (expected F16 or F32)");
    };
    if (t * heads * (pos + t) * head_dim < 32768) {  // too little work to wake the pool
        for (int64_t i = 0; i < t * heads; ++i) task(i, 0);
        return;
    }
    pool_.run(t * heads, task);
}

}  // namespace fastvlm::cpu

// CPU backend: Backend::linear, the dispatch of a linear layer to the kernels of its weight
// format (runtime/linear_weight.h). Dense weights take the fp32 path of matmul; the 16-bit
// activation modes round the layer's input and output to fp16; quantized formats quantize
// their activations once per call, then split the output rows across the threads.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/backend_checks.h"
#include "runtime/cpu/backend_cpu.h"
#include "runtime/cpu/fp16_round.h"
#include "runtime/cpu/gemv_int8.h"
#include "runtime/cpu/gemv_nf4.h"
#include "runtime/cpu/gemv_w4a4.h"
#include "runtime/cpu/matmul.h"
#include "runtime/cpu/vec_math.h"
#include "runtime/error.h"

namespace fastvlm::cpu {

namespace {

// NF4 prefill: rows of the weight are dequantized this many at a time (a few MB of fp32) and
// multiplied by the blocked GEMM, so even a quantized lm_head never expands whole.
constexpr int64_t kNF4DequantRows = 512;

}  // namespace

Tensor CpuBackend::upload_bytes(DType dtype, const Shape& shape, const void* bytes) {
    Tensor t = alloc(dtype, shape);
    if (t.nbytes()) std::memcpy(t.data(), bytes, t.nbytes());
    copied_bytes_ += t.nbytes();
    return t;
}

void CpuBackend::linear(const Tensor& y, const Tensor& x, const LinearWeight& w, Activation act) {
    const checks::MatmulSize size = checks::linear(y, x, w);
    const int64_t n = size.n, k = size.k, t = size.m;
    const float* bias = w.bias.empty() ? nullptr : w.bias.as<float>();
    float* out = y.as<float>();
    const int rows = int(n);

    switch (w.format) {
        case LinearFormat::Dense: {
            if (!w.f16_activations) {
                matmul(y, x, w.weight, w.bias, act);
                return;
            }
            if (t == 1) {  // decode: the rounded row, the GEMV, then the rounding passes below
                Tensor x16 = alloc(DType::F32, x.shape());
                round_to_fp16_span(x.as<float>(), x16.as<float>(), size_t(x.numel()));
                matmul(y, x16, w.weight, w.bias, Activation::None);
                break;
            }
            GemmArgs g;  // many rows: the GEMM rounds x as it packs it, and its epilogue the output
            g.m = t; g.n = n; g.k = k;
            g.a = x.as<float>(); g.lda = k;
            g.round_a_to_fp16 = true;
            g.b = w.weight.data(); g.b_dtype = w.weight.dtype(); g.ldb = k;
            g.bias = bias;
            g.c = out; g.ldc = n;
            g.act = act;
            g.round_c_to_fp16 = true;
            gemm(pool_, g);
            return;
        }
        case LinearFormat::Int8: {
            Int8Activations a;
            // A threshold of 0 means "no decomposition" in bitsandbytes: no column is an outlier.
            const float threshold = w.outlier_threshold > 0.0f ? w.outlier_threshold : INFINITY;
            quantize_activations_int8(x.as<float>(), int(t), int(k), threshold, a);
            const Int8WeightView view{w.codes.as<int8_t>(), w.row_scale.as<float>(), rows, int(k)};
            rows_in_chunks(n, k * t, [&](int64_t begin, int64_t end) {
                gemv_int8(view, bias, a, out, int(begin), int(end));
            });
            break;
        }
        case LinearFormat::NF4: {
            const NF4WeightView view{w.codes.as<uint8_t>(), w.absmax_codes.as<uint8_t>(), w.nested_absmax.as<float>(),
                                     w.dynamic_map.as<float>(), w.nested_offset, rows, int(k)};
            const NF4Compute compute = w.f16_activations ? NF4Compute::F16 : NF4Compute::F32;
            if (t < 12) {  // decoding in registers wins below ~12 tokens (measured), then dequantize + GEMM
                rows_in_chunks(n, k * t, [&](int64_t begin, int64_t end) {
                    gemv_nf4(view, compute, bias, x.as<float>(), out, int(t), int(begin), int(end));
                });
                break;
            }
            // Many tokens: dequantize a slab of rows, multiply it with the blocked GEMM.
            Tensor a = x;
            if (w.f16_activations) {
                a = alloc(DType::F32, x.shape());
                round_to_fp16_span(x.as<float>(), a.as<float>(), size_t(x.numel()));
            }
            Tensor slab = alloc(DType::F32, {std::min<int64_t>(n, kNF4DequantRows), k});
            for (int64_t r0 = 0; r0 < n; r0 += kNF4DequantRows) {
                const int64_t r1 = std::min(n, r0 + kNF4DequantRows);
                float* dst = slab.as<float>();
                rows_in_chunks(r1 - r0, k, [&](int64_t begin, int64_t end) {
                    dequantize_nf4_rows(view, compute, int(r0 + begin), int(r0 + end), dst + begin * k);
                });
                GemmArgs g;
                g.m = t; g.n = r1 - r0; g.k = k;
                g.a = a.as<float>(); g.lda = k;
                g.b = dst; g.b_dtype = DType::F32; g.ldb = k;
                g.bias = bias ? bias + r0 : nullptr;
                g.c = out + r0; g.ldc = n;
                gemm(pool_, g);
            }
            if (!w.f16_activations) {
                if (act != Activation::None) activate(y, act);
                return;
            }
            break;
        }
        case LinearFormat::Int4: {
            Int4Activations a;
            quantize_activations_int4(x.as<float>(), int(t), int(k), a);
            const Int4WeightView view{w.codes.as<uint8_t>(), w.group_scale.as<uint16_t>(), rows, int(k)};
            rows_in_chunks(n, k * t, [&](int64_t begin, int64_t end) {
                gemv_w4a4(view, bias, a, out, int(begin), int(end));
            });
            break;
        }
    }
    // 16-bit outputs: the kernels rounded the product; the activation's result is rounded too.
    if (w.format == LinearFormat::Dense || (w.format == LinearFormat::NF4 && w.f16_activations))
        round_to_fp16_span(out, out, size_t(y.numel()));
    if (act != Activation::None) {
        activate(y, act);
        round_to_fp16_span(out, out, size_t(y.numel()));
    }
}

}  // namespace fastvlm::cpu

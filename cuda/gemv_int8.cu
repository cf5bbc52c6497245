// LLM.int8 GEMV, bit-compatible with bitsandbytes' Linear8bitLt and with the CPU twin
// (runtime/cpu/gemv_int8.cpp): one token in decode, every prompt token in one call for prefill.
//
// Stage 1 quantizes the fp16 activation rows x [T, K]. A column is an outlier (kept in fp16 for
//   every token) when some token has |x| >= threshold there; the list is compacted in ascending
//   order with ballots and per-warp counts, so it is the same on every run. Each token's scale
//   (SCA) is the absmax of its values below the threshold (bitsandbytes masks outlier elements,
//   not columns, before the row absmax); codes are 0 in outlier columns and in the padding up to
//   a multiple of 16 (the GEMV's vector loads stay inside the buffer).
//   T = 1: quantize_int8_kernel, one block of 256 threads, reads the row twice (outliers and
//     absmax, then codes). Bytes: 4 K read + K + 4 * outliers written; latency-bound.
//   T > 1: int8_outlier_columns_kernel (one block: the columns, any token) then
//     quantize_int8_rows_kernel (one block per token: its absmax and codes).
//
// gemv_int8_kernel: one warp per output row, four rows per 128-thread block, blockIdx.y the
//   token. Each lane streams its share of the int8 weight row as 128-bit loads (16 codes,
//   evict-first in decode: read once) and multiplies them with the same 16 activation codes by
//   four dp4a, accumulating in int32 (at most K * 127^2 < 2^31 for K < 133,000). The warp sums
//   the integers (exact, so the order does not matter) and every lane applies the dequant
//   epilogue (int8_dequantize_output, bias fused, rounded to fp16). Outlier columns: lane i takes
//   outlier i (x[k] * the fp16 weight rebuilt from its code), and every lane adds the terms in
//   ascending column order through shuffles, the order the CPU twin uses, so the result is the
//   same bits. Rows whose length is not a multiple of 16, or an unaligned weight, take a scalar
//   loop.
//   Bytes per decode call: N * K (weights) + 4 N (SCB) + K (codes) + 2 N (y) (+ 2 N bias), 2 N K
//   int ops: bound by memory bandwidth (gate_proj 4864 x 896: 4.4 MB, 1.3 us at 3.35 TB/s).
#include "cuda/gemv_int8.cuh"

#include <algorithm>

#include "cuda/ptx.cuh"
#include "cuda/quant_int8.cuh"
#include "cuda/reduce.cuh"

namespace fastvlm::gpu {
namespace {

using quant::abs_f;

constexpr int kQuantizeThreads = 256;
constexpr int kQuantizeWarps = kQuantizeThreads / 32;
constexpr int kRowsPerBlock = 4;
constexpr int kThreads = 32 * kRowsPerBlock;
constexpr int kCodesPerLoad = 16;

inline size_t padded_codes(int in_features) {
    return (size_t(in_features) + kCodesPerLoad - 1) / kCodesPerLoad * kCodesPerLoad;
}

// Pass 1, one block: the outlier columns of x [tokens, K] in ascending order into
// outlier_columns (and flags, when given); returns their count in every thread. With one token it
// also takes the absmax of the other values of the row into *absmax (this thread's share).
__device__ int find_outlier_columns(const __half* __restrict__ x, int tokens, int in_features, float threshold,
                                    int* __restrict__ outlier_columns, uint8_t* __restrict__ flags,
                                    int* warp_outliers, float* absmax) {
    const int tid = int(threadIdx.x), lane = tid % 32, warp = tid / 32;
    int found = 0;  // outliers in the steps before this one (the same in every thread)
    // Every thread runs the same number of steps, so the ballots and barriers see all.
    for (int base = 0; base < in_features; base += kQuantizeThreads) {
        const int k = base + tid;
        bool outlier = false;
        if (k < in_features) {
            for (int t = 0; t < tokens; ++t)
                outlier = outlier || abs_f(__half2float(x[int64_t(t) * in_features + k])) >= threshold;
            if (tokens == 1 && !outlier) *absmax = fmaxf(*absmax, abs_f(__half2float(x[k])));
            if (flags) flags[k] = outlier ? 1 : 0;
        }
        const unsigned ballot = __ballot_sync(0xffffffffu, outlier);
        if (lane == 0) warp_outliers[warp] = __popc(ballot);
        __syncthreads();
        int position = found + __popc(ballot & ((1u << lane) - 1u));
        for (int w = 0; w < kQuantizeWarps; ++w) {
            if (w < warp) position += warp_outliers[w];
            found += warp_outliers[w];
        }
        if (outlier) outlier_columns[position] = k;
        __syncthreads();  // warp_outliers is rewritten by the next step
    }
    return found;
}

// The block's maximum of every thread's v (v >= 0), in every thread.
__device__ float block_max(float v, float* warp_max_values) {
    const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32;
    v = warp_max(v);
    if (lane == 0) warp_max_values[warp] = v;
    __syncthreads();
    for (int w = 0; w < kQuantizeWarps; ++w) v = fmaxf(v, warp_max_values[w]);
    return v;
}

// Pass 2, one block: the codes of one row x [K], 0 for outliers and padding. is_outlier(k, v).
template <typename IsOutlier>
__device__ void write_codes(const __half* __restrict__ x, float absmax, int8_t* __restrict__ codes, int in_features,
                            int padded, IsOutlier is_outlier) {
    for (int k = int(threadIdx.x); k < padded; k += kQuantizeThreads) {
        int8_t code = 0;
        if (k < in_features) {
            const float v = __half2float(x[k]);
            if (!is_outlier(k, v)) code = quant::int8_quantize(v, absmax);
        }
        codes[k] = code;
    }
}

// One token: both passes in one block.
__global__ void __launch_bounds__(kQuantizeThreads)
    quantize_int8_kernel(const __half* __restrict__ x, float threshold, int8_t* __restrict__ codes,
                         float* __restrict__ scale, int* __restrict__ outlier_count,
                         int* __restrict__ outlier_columns, int in_features, int padded) {
    __shared__ int warp_outliers[kQuantizeWarps];
    __shared__ float warp_absmax[kQuantizeWarps];
    float absmax = 0.0f;
    const int found =
        find_outlier_columns(x, 1, in_features, threshold, outlier_columns, nullptr, warp_outliers, &absmax);
    absmax = block_max(absmax, warp_absmax);
    if (threadIdx.x == 0) {
        *scale = absmax;
        *outlier_count = found;
    }
    write_codes(x, absmax, codes, in_features, padded, [threshold](int, float v) { return abs_f(v) >= threshold; });
}

// Several tokens, pass 1: the outlier columns over all of them (one block).
__global__ void __launch_bounds__(kQuantizeThreads)
    int8_outlier_columns_kernel(const __half* __restrict__ x, int tokens, float threshold,
                                int* __restrict__ outlier_count, int* __restrict__ outlier_columns,
                                uint8_t* __restrict__ flags, int in_features) {
    __shared__ int warp_outliers[kQuantizeWarps];
    float unused = 0.0f;
    const int found =
        find_outlier_columns(x, tokens, in_features, threshold, outlier_columns, flags, warp_outliers, &unused);
    if (threadIdx.x == 0) *outlier_count = found;
}

// Several tokens, pass 2: token blockIdx.x's scale and codes. As bitsandbytes, the scale is the
// absmax of the token's values below the threshold (only outlier elements are masked, so a small
// value in another token's outlier column counts), while the codes are 0 in every outlier column.
__global__ void __launch_bounds__(kQuantizeThreads)
    quantize_int8_rows_kernel(const __half* __restrict__ x, float threshold, const uint8_t* __restrict__ flags,
                              int8_t* __restrict__ codes, float* __restrict__ scales, int in_features, int padded) {
    __shared__ float warp_absmax[kQuantizeWarps];
    const int t = int(blockIdx.x);
    x += int64_t(t) * in_features;
    float absmax = 0.0f;
    for (int k = int(threadIdx.x); k < in_features; k += kQuantizeThreads) {
        const float v = abs_f(__half2float(x[k]));
        if (!(v >= threshold)) absmax = fmaxf(absmax, v);
    }
    absmax = block_max(absmax, warp_absmax);
    if (threadIdx.x == 0) scales[t] = absmax;
    write_codes(x, absmax, codes + int64_t(t) * padded, in_features, padded,
                [flags](int k, float) { return flags[k] != 0; });
}

__device__ __forceinline__ int dot16(const uint4& w, const uint4& a, int acc) {
    acc = ptx::dp4a(int(w.x), int(a.x), acc);
    acc = ptx::dp4a(int(w.y), int(a.y), acc);
    acc = ptx::dp4a(int(w.z), int(a.z), acc);
    return ptx::dp4a(int(w.w), int(a.w), acc);
}

template <bool Vectorized>
__global__ void __launch_bounds__(kThreads)
    gemv_int8_kernel(const int8_t* __restrict__ w, const float* __restrict__ row_scale,
                     const __half* __restrict__ bias, const __half* __restrict__ x,
                     const int8_t* __restrict__ a_codes, const float* __restrict__ a_scale,
                     const int* __restrict__ outlier_count, const int* __restrict__ outlier_columns,
                     __half* __restrict__ y, int in_features, int out_features, int padded) {
    const int lane = int(threadIdx.x) % 32;
    const int row = int(blockIdx.x) * kRowsPerBlock + int(threadIdx.x) / 32;
    if (row >= out_features) return;  // whole warps leave together
    const int8_t* w_row = w + size_t(row) * size_t(in_features);
    const int t = int(blockIdx.y);  // the token: its activation row, scale and output row
    x += int64_t(t) * in_features;
    a_codes += int64_t(t) * padded;
    y += int64_t(t) * out_features;

    int acc = 0;
    if (Vectorized) {
        const uint4* w16 = reinterpret_cast<const uint4*>(w_row);
        const uint4* a16 = reinterpret_cast<const uint4*>(a_codes);
        const int chunks = in_features / kCodesPerLoad;
#pragma unroll 4
        for (int c = lane; c < chunks; c += 32) acc = dot16(__ldcs(w16 + c), __ldg(a16 + c), acc);
    } else {
        for (int k = lane; k < in_features; k += 32) acc += int(w_row[k]) * int(a_codes[k]);
    }
    acc = warp_sum(acc);

    const float scb = __ldg(row_scale + row);
    const float b = bias ? __half2float(bias[row]) : 0.0f;
    float out = quant::round_to_fp16(quant::int8_dequantize_output(acc, __ldg(a_scale + t), scb, b));

    const int n_outliers = __ldg(outlier_count);
    if (n_outliers > 0) {
        float sum = 0.0f;
        for (int base = 0; base < n_outliers; base += 32) {  // the same steps in every lane
            const int i = base + lane;
            float term = 0.0f;  // exact: a product of two fp16 values
            if (i < n_outliers) {
                const int k = __ldg(outlier_columns + i);
                term = __half2float(x[k]) * quant::int8_outlier_weight(w_row[k], scb);
            }
            const int count = min(32, n_outliers - base);
            for (int j = 0; j < count; ++j) sum += __shfl_sync(0xffffffffu, term, j);
        }
        out = quant::round_to_fp16(out + sum);
    }
    if (lane == 0) y[row] = __float2half_rn(out);  // exact: out is already an fp16 value
}

}  // namespace

constexpr int kMaxTokensPerLaunch = 65535;  // gridDim.y of the GEMV

size_t int8_activation_workspace_bytes(int in_features, int tokens) {
    const size_t k = size_t(in_features > 0 ? in_features : 0), t = size_t(tokens > 0 ? tokens : 0);
    const size_t scales = (4 * t + 15) / 16 * 16;
    return t * padded_codes(in_features) + scales + 16 + 4 * k + k;  // codes, scales, {count, pad}, columns, flags
}

Int8Activation int8_activation(void* workspace, int in_features, int tokens) {
    if (in_features <= 0 || tokens <= 0)
        fail("gemv_int8", "bad shape: in_features ", in_features, ", tokens ", tokens);
    if (!workspace || !aligned_16(workspace))
        fail("gemv_int8", "the activation workspace must be a 16-byte aligned device buffer of ",
             int8_activation_workspace_bytes(in_features, tokens), " bytes");
    unsigned char* base = static_cast<unsigned char*>(workspace);
    Int8Activation a;
    a.codes = reinterpret_cast<int8_t*>(base);
    base += size_t(tokens) * padded_codes(in_features);
    a.scale = reinterpret_cast<float*>(base);
    base += (4 * size_t(tokens) + 15) / 16 * 16;
    a.outlier_count = reinterpret_cast<int*>(base);
    a.outlier_columns = reinterpret_cast<int*>(base + 16);
    a.outlier_flags = reinterpret_cast<uint8_t*>(base + 16 + 4 * size_t(in_features));
    a.in_features = in_features;
    a.tokens = tokens;
    return a;
}

void quantize_activation_int8(const __half* x, float threshold, const Int8Activation& a, cudaStream_t stream) {
    if (a.in_features <= 0 || a.tokens <= 0 || !a.codes)
        fail("quantize_activation_int8", "the activation buffers are not set up");
    if (!(threshold > 0.0f))
        fail("quantize_activation_int8", "outlier threshold ", threshold,
             " is not positive (infinity means no outlier columns)");
    const int padded = int(padded_codes(a.in_features));
    if (a.tokens == 1) {
        launch("quantize_activation_int8", quantize_int8_kernel, dim3(1), dim3(kQuantizeThreads), 0, stream, x,
               threshold, a.codes, a.scale, a.outlier_count, a.outlier_columns, a.in_features, padded);
        return;
    }
    launch("int8_outlier_columns", int8_outlier_columns_kernel, dim3(1), dim3(kQuantizeThreads), 0, stream, x,
           a.tokens, threshold, a.outlier_count, a.outlier_columns, a.outlier_flags, a.in_features);
    launch("quantize_int8_rows", quantize_int8_rows_kernel, dim3(unsigned(a.tokens)), dim3(kQuantizeThreads), 0,
           stream, x, threshold, static_cast<const uint8_t*>(a.outlier_flags), a.codes, a.scale, a.in_features,
           padded);
}

void gemv_int8(const Int8Weight& w, const __half* bias, const __half* x, const Int8Activation& a, __half* y,
               cudaStream_t stream) {
    if (w.in_features <= 0 || w.out_features <= 0)
        fail("gemv_int8", "bad shape: in_features ", w.in_features, ", out_features ", w.out_features);
    if (a.in_features != w.in_features)
        fail("gemv_int8", "the activation has ", a.in_features, " features, the weight ", w.in_features);
    const int padded = int(padded_codes(w.in_features));
    const bool vectorized = w.in_features % kCodesPerLoad == 0 && aligned_16(w.codes);
    for (int t0 = 0; t0 < a.tokens; t0 += kMaxTokensPerLaunch) {
        const int count = std::min(kMaxTokensPerLaunch, a.tokens - t0);
        const dim3 grid(ceil_div(size_t(w.out_features), kRowsPerBlock), unsigned(count)), block(kThreads);
        const __half* x_rows = x + int64_t(t0) * w.in_features;
        const int8_t* codes = a.codes + int64_t(t0) * padded;
        const float* scales = a.scale + t0;
        __half* y_rows = y + int64_t(t0) * w.out_features;
        if (vectorized)
            launch("gemv_int8", gemv_int8_kernel<true>, grid, block, 0, stream, w.codes, w.row_scale, bias, x_rows,
                   codes, scales, static_cast<const int*>(a.outlier_count), static_cast<const int*>(a.outlier_columns),
                   y_rows, w.in_features, w.out_features, padded);
        else
            launch("gemv_int8", gemv_int8_kernel<false>, grid, block, 0, stream, w.codes, w.row_scale, bias, x_rows,
                   codes, scales, static_cast<const int*>(a.outlier_count), static_cast<const int*>(a.outlier_columns),
                   y_rows, w.in_features, w.out_features, padded);
    }
}

}  // namespace fastvlm::gpu

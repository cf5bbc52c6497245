// LLM.int8 GEMV for decode (batch 1), bit-compatible with bitsandbytes' Linear8bitLt and with
// the CPU twin (runtime/cpu/gemv_int8.cpp). Two kernels:
//
// quantize_int8_kernel: one block of 256 threads reads the fp16 activation row x [K] twice. The
//   first pass finds the outlier columns (|x| >= threshold), compacts them in ascending order
//   (ballots and per-warp counts, so the list is the same on every run) and takes the absmax of
//   the other values (SCA); the second writes the int8 codes (0 in outlier columns, and in the
//   padding up to a multiple of 16 so the GEMV's vector loads stay inside the buffer).
//   Bytes: 4 K read + K + 4 * outliers written; latency-bound (one block).
//
// gemv_int8_kernel: one warp per output row, four rows per 128-thread block. Each lane streams
//   its share of the int8 weight row as 128-bit loads (16 codes, evict-first: read once) and
//   multiplies them with the same 16 activation codes by four dp4a, accumulating in int32 (at
//   most K * 127^2 < 2^31 for K < 133,000). The warp sums the integers (exact, so the order does
//   not matter) and every lane applies the dequant epilogue (int8_dequantize_output, bias fused,
//   rounded to fp16). Outlier columns: lane i takes outlier i (x[k] * the fp16 weight rebuilt
//   from its code), and every lane adds the terms in ascending column order through shuffles,
//   the order the CPU twin uses, so the result is the same bits. Rows whose length is not a
//   multiple of 16, or an unaligned weight, take a scalar loop.
//   Bytes per call: N * K (weights) + 4 N (SCB) + K (codes) + 2 N (y) (+ 2 N bias), 2 N K int
//   ops: bound by memory bandwidth (gate_proj 4864 x 896: 4.4 MB, 1.3 us at 3.35 TB/s).
#include "cuda/gemv_int8.cuh"

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

__global__ void __launch_bounds__(kQuantizeThreads)
    quantize_int8_kernel(const __half* __restrict__ x, float threshold, int8_t* __restrict__ codes,
                         float* __restrict__ scale, int* __restrict__ outlier_count,
                         int* __restrict__ outlier_columns, int in_features, int padded) {
    __shared__ int warp_outliers[kQuantizeWarps];
    __shared__ float warp_absmax[kQuantizeWarps];
    const int tid = int(threadIdx.x), lane = tid % 32, warp = tid / 32;

    // Pass 1. Every thread runs the same number of steps, so the ballots and barriers see all.
    float absmax = 0.0f;
    int found = 0;  // outliers in the steps before this one (the same in every thread)
    for (int base = 0; base < in_features; base += kQuantizeThreads) {
        const int k = base + tid;
        bool outlier = false;
        if (k < in_features) {
            const float v = abs_f(__half2float(x[k]));
            outlier = v >= threshold;
            if (!outlier) absmax = fmaxf(absmax, v);
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
    absmax = warp_max(absmax);
    if (lane == 0) warp_absmax[warp] = absmax;
    __syncthreads();
    for (int w = 0; w < kQuantizeWarps; ++w) absmax = fmaxf(absmax, warp_absmax[w]);
    if (tid == 0) {
        *scale = absmax;
        *outlier_count = found;
    }

    // Pass 2: the codes, 0 for outliers and padding.
    for (int k = tid; k < padded; k += kQuantizeThreads) {
        int8_t code = 0;
        if (k < in_features) {
            const float v = __half2float(x[k]);
            if (!(abs_f(v) >= threshold)) code = quant::int8_quantize(v, absmax);
        }
        codes[k] = code;
    }
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
                     __half* __restrict__ y, int in_features, int out_features) {
    const int lane = int(threadIdx.x) % 32;
    const int row = int(blockIdx.x) * kRowsPerBlock + int(threadIdx.x) / 32;
    if (row >= out_features) return;  // whole warps leave together
    const int8_t* w_row = w + size_t(row) * size_t(in_features);

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
    float out = quant::round_to_fp16(quant::int8_dequantize_output(acc, __ldg(a_scale), scb, b));

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

size_t int8_activation_workspace_bytes(int in_features) {
    const size_t k = size_t(in_features > 0 ? in_features : 0);
    return padded_codes(in_features) + 16 + 4 * k;  // codes, {scale, count, pad}, columns
}

Int8Activation int8_activation(void* workspace, int in_features) {
    if (in_features <= 0) fail("gemv_int8", "bad shape: in_features ", in_features);
    if (!workspace || !aligned_16(workspace))
        fail("gemv_int8", "the activation workspace must be a 16-byte aligned device buffer of ",
             int8_activation_workspace_bytes(in_features), " bytes");
    unsigned char* base = static_cast<unsigned char*>(workspace);
    Int8Activation a;
    a.codes = reinterpret_cast<int8_t*>(base);
    base += padded_codes(in_features);
    a.scale = reinterpret_cast<float*>(base);
    a.outlier_count = reinterpret_cast<int*>(base + 4);
    a.outlier_columns = reinterpret_cast<int*>(base + 16);
    a.in_features = in_features;
    return a;
}

void quantize_activation_int8(const __half* x, float threshold, const Int8Activation& a, cudaStream_t stream) {
    if (a.in_features <= 0 || !a.codes) fail("quantize_activation_int8", "the activation buffers are not set up");
    if (!(threshold > 0.0f))
        fail("quantize_activation_int8", "outlier threshold ", threshold,
             " is not positive (infinity means no outlier columns)");
    launch("quantize_activation_int8", quantize_int8_kernel, dim3(1), dim3(kQuantizeThreads), 0, stream, x, threshold,
           a.codes, a.scale, a.outlier_count, a.outlier_columns, a.in_features, int(padded_codes(a.in_features)));
}

void gemv_int8(const Int8Weight& w, const __half* bias, const __half* x, const Int8Activation& a, __half* y,
               cudaStream_t stream) {
    if (w.in_features <= 0 || w.out_features <= 0)
        fail("gemv_int8", "bad shape: in_features ", w.in_features, ", out_features ", w.out_features);
    if (a.in_features != w.in_features)
        fail("gemv_int8", "the activation has ", a.in_features, " features, the weight ", w.in_features);
    const dim3 grid(ceil_div(size_t(w.out_features), kRowsPerBlock)), block(kThreads);
    if (w.in_features % kCodesPerLoad == 0 && aligned_16(w.codes))
        launch("gemv_int8", gemv_int8_kernel<true>, grid, block, 0, stream, w.codes, w.row_scale, bias, x, a.codes,
               a.scale, a.outlier_count, a.outlier_columns, y, w.in_features, w.out_features);
    else
        launch("gemv_int8", gemv_int8_kernel<false>, grid, block, 0, stream, w.codes, w.row_scale, bias, x, a.codes,
               a.scale, a.outlier_count, a.outlier_columns, y, w.in_features, w.out_features);
}

}  // namespace fastvlm::gpu

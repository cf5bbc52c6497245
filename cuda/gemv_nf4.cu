// NF4 GEMV for decode (and, token by token in one launch, prefill): y = W x + bias with W in
// bitsandbytes' NF4 format with double-quantized block scales, fp32 accumulation. Two modes, as
// the CPU twin (runtime/cpu/gemv_nf4.cpp):
//   W4A32  w = level * scale in fp32 (bitsandbytes with compute dtype fp32); fp32 x, bias, y
//   W4A16  w = fp16(fp16(level) * fp16(scale)), two levels per __hmul2 (bitsandbytes' fused fp16
//          kernel); fp16 x and bias, products accumulated in fp32, y rounded to fp16.
//
// Layout: the weight is one flat stream of N * K 4-bit codes (row-major), two per byte, the even
// index in the high nibble; one absmax byte per 64 codes of the stream, rebuilt through the
// 256-entry dynamic map and the nested absmax of its group of 256 blocks (nf4_block_scale).
//
// One warp per output row, four rows per 128-thread block, as bitsandbytes' batch-1 kernel;
// blockIdx.y is the token (its x and y rows), so the weight is read from DRAM once per launch.
// Each lane streams 32 codes at a time (one 128-bit load, evict-first: the weight is read
// once), which lie in one 64-code block when K % 32 == 0, so one scale serves the whole load.
// The 16 levels sit in shared memory (16 distinct banks: any mix of codes is conflict-free); x is
// read through the read-only cache, where every warp of the SM reuses it. The warp sums with
// shuffles and lane 0 adds the bias and rounds to fp16. Other shapes take a scalar loop that
// calls the format functions per value.
//
// Bytes per call: N K / 2 (codes) + N K / 64 (absmax codes) + 4 N K / 16384 (nested) + 1 KB
// (map) + 2 K (x) + 2 N (y) (+ 2 N bias), the activations twice that in W4A32; 2 N K FLOPs
// plus about 2 N K dequant operations, so memory-bound on paper and close to ALU-bound on an H100 (gate_proj 4864 x 896: 2.25 MB,
// 0.67 us at 3.35 TB/s).
#include "cuda/gemv_nf4.cuh"

#include <algorithm>

#include "cuda/quant_nf4.cuh"
#include "cuda/reduce.cuh"
#include "cuda/vec.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kRowsPerBlock = 4;
constexpr int kThreads = 32 * kRowsPerBlock;
constexpr int kCodesPerLoad = 32;  // one 128-bit load of packed codes
constexpr int kMaxTokensPerLaunch = 65535;  // gridDim.y

// The 32 activations x[0, 32) as fp32, from 16-byte aligned memory.
__device__ __forceinline__ void load_x32(const __half* x, float (&xf)[kCodesPerLoad]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        float part[8];
        unpack_half8(load_half8(x + 8 * i), part);
#pragma unroll
        for (int j = 0; j < 8; ++j) xf[8 * i + j] = part[j];
    }
}
__device__ __forceinline__ void load_x32(const float* x, float (&xf)[kCodesPerLoad]) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        const float4 v = __ldg(reinterpret_cast<const float4*>(x) + i);
        xf[4 * i] = v.x;
        xf[4 * i + 1] = v.y;
        xf[4 * i + 2] = v.z;
        xf[4 * i + 3] = v.w;
    }
}

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }

// F16: the W4A16 mode (Act = __half); otherwise W4A32 (Act = float).
template <bool F16, bool Vectorized, typename Act>
__global__ void __launch_bounds__(kThreads)
    gemv_nf4_kernel(const uint8_t* __restrict__ codes, const uint8_t* __restrict__ absmax_codes,
                    const float* __restrict__ nested_absmax, const float* __restrict__ dynamic_map, float offset,
                    const Act* __restrict__ bias, const Act* __restrict__ x, Act* __restrict__ y, int in_features,
                    int out_features) {
    __shared__ float levels_f32[16];    // nf4_value(code)
    __shared__ __half levels_f16[16];   // nf4_value(code) rounded to fp16
    const int tid = int(threadIdx.x);
    if (tid < 16) {
        levels_f32[tid] = quant::nf4_value(tid);
        levels_f16[tid] = __float2half_rn(quant::nf4_value(tid));
    }
    __syncthreads();

    const int lane = tid % 32;
    const int row = int(blockIdx.x) * kRowsPerBlock + tid / 32;
    if (row >= out_features) return;  // whole warps leave together
    const int64_t row_start = int64_t(row) * in_features;  // flat index of w[row, 0]
    x += int64_t(blockIdx.y) * in_features;                 // this token's row
    y += int64_t(blockIdx.y) * out_features;

    float acc = 0.0f;
    if (Vectorized) {
        const uint4* packed = reinterpret_cast<const uint4*>(codes + row_start / 2);
        const int chunks = in_features / kCodesPerLoad;
#pragma unroll 2
        for (int c = lane; c < chunks; c += 32) {
            const uint4 q = __ldcs(packed + c);
            const int64_t block = (row_start + int64_t(c) * kCodesPerLoad) / quant::kNF4BlockSize;
            const float scale =
                quant::nf4_block_scale(__ldg(absmax_codes + block),
                                       __ldg(nested_absmax + block / quant::kNF4NestedBlockSize), offset, dynamic_map);
            const __half2 scale2 = __float2half2_rn(scale);
            float xf[kCodesPerLoad];
            load_x32(x + c * kCodesPerLoad, xf);
            const unsigned words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
            for (int i = 0; i < 16; ++i) {  // byte i holds codes 2i (high nibble) and 2i + 1
                const unsigned byte = (words[i / 4] >> (8 * (i % 4))) & 0xffu;
                const int high = int(byte >> 4), low = int(byte & 15u);
                float w0, w1;
                if (F16) {
                    const float2 w = __half22float2(__hmul2(__halves2half2(levels_f16[high], levels_f16[low]), scale2));
                    w0 = w.x;
                    w1 = w.y;
                } else {
                    w0 = levels_f32[high] * scale;
                    w1 = levels_f32[low] * scale;
                }
                acc = fmaf(w0, xf[2 * i], acc);
                acc = fmaf(w1, xf[2 * i + 1], acc);
            }
        }
    } else {
        for (int k = lane; k < in_features; k += 32) {
            const int64_t i = row_start + k;
            const int64_t block = i / quant::kNF4BlockSize;
            const float scale = quant::nf4_block_scale(
                absmax_codes[block], nested_absmax[block / quant::kNF4NestedBlockSize], offset, dynamic_map);
            const int code = quant::nf4_code_at(codes, i);
            const float w = F16 ? quant::nf4_dequantize_f16(code, scale) : quant::nf4_dequantize_f32(code, scale);
            acc = fmaf(w, to_f32(x[k]), acc);
        }
    }
    acc = warp_sum(acc);
    if (lane == 0) store(y + row, bias ? acc + to_f32(bias[row]) : acc);
}

// out[i - first] = nf4_dequantize_f16 of flat weight index i, for i in [first, last).
__global__ void __launch_bounds__(256)
    dequantize_nf4_f16_kernel(const uint8_t* __restrict__ codes, const uint8_t* __restrict__ absmax_codes,
                              const float* __restrict__ nested_absmax, const float* __restrict__ dynamic_map,
                              float offset, int64_t first, int64_t last, __half* __restrict__ out) {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t i = first + int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < last; i += stride) {
        const int64_t block = i / quant::kNF4BlockSize;
        const float scale = quant::nf4_block_scale(absmax_codes[block],
                                                   nested_absmax[block / quant::kNF4NestedBlockSize], offset,
                                                   dynamic_map);
        out[i - first] = __float2half_rn(quant::nf4_dequantize_f16(quant::nf4_code_at(codes, i), scale));
    }
}

template <bool F16, typename Act>
void launch_nf4(const NF4Weight& w, const Act* bias, const Act* x, Act* y, int tokens, cudaStream_t stream) {
    if (w.in_features <= 0 || w.out_features <= 0 || tokens < 0)
        fail("gemv_nf4", "bad shape: in_features ", w.in_features, ", out_features ", w.out_features, ", tokens ",
             tokens);
    if (!w.codes || !w.absmax_codes || !w.nested_absmax || !w.dynamic_map)
        fail("gemv_nf4", "the weight is missing its codes, absmax codes, nested absmax or dynamic map");
    const bool vectorized = w.in_features % kCodesPerLoad == 0 && aligned_16(w.codes) && aligned_16(x);
    for (int t0 = 0; t0 < tokens; t0 += kMaxTokensPerLaunch) {
        const int count = std::min(kMaxTokensPerLaunch, tokens - t0);
        const Act* x_rows = x + int64_t(t0) * w.in_features;
        Act* y_rows = y + int64_t(t0) * w.out_features;
        const dim3 grid(ceil_div(size_t(w.out_features), kRowsPerBlock), unsigned(count)), block(kThreads);
        if (vectorized)
            launch("gemv_nf4", gemv_nf4_kernel<F16, true, Act>, grid, block, 0, stream, w.codes, w.absmax_codes,
                   w.nested_absmax, w.dynamic_map, w.offset, bias, x_rows, y_rows, w.in_features, w.out_features);
        else
            launch("gemv_nf4", gemv_nf4_kernel<F16, false, Act>, grid, block, 0, stream, w.codes, w.absmax_codes,
                   w.nested_absmax, w.dynamic_map, w.offset, bias, x_rows, y_rows, w.in_features, w.out_features);
    }
}

}  // namespace

void dequantize_nf4_f16(const NF4Weight& w, int row_begin, int row_end, __half* out, cudaStream_t stream) {
    if (w.in_features <= 0 || w.out_features <= 0 || row_begin < 0 || row_end > w.out_features || row_begin > row_end)
        fail("dequantize_nf4_f16", "bad rows [", row_begin, ", ", row_end, ") of ", w.out_features, " (in_features ",
             w.in_features, ")");
    if (!w.codes || !w.absmax_codes || !w.nested_absmax || !w.dynamic_map)
        fail("dequantize_nf4_f16", "the weight is missing its codes, absmax codes, nested absmax or dynamic map");
    const int64_t first = int64_t(row_begin) * w.in_features, last = int64_t(row_end) * w.in_features;
    if (first == last) return;
    const unsigned blocks = unsigned(std::min<int64_t>((last - first + 255) / 256, 4096));
    launch("dequantize_nf4_f16", dequantize_nf4_f16_kernel, dim3(blocks), dim3(256), 0, stream, w.codes,
           w.absmax_codes, w.nested_absmax, w.dynamic_map, w.offset, first, last, out);
}

void gemv_nf4_w4a32(const NF4Weight& w, const float* bias, const float* x, float* y, int tokens, cudaStream_t stream) {
    launch_nf4<false>(w, bias, x, y, tokens, stream);
}

void gemv_nf4_w4a16(const NF4Weight& w, const __half* bias, const __half* x, __half* y, int tokens,
                    cudaStream_t stream) {
    launch_nf4<true>(w, bias, x, y, tokens, stream);
}

}  // namespace fastvlm::gpu

// fp16 GEMV for decode (batch 1): y = W x + bias, fp32 accumulation, bias fused.
//
// One warp per output row, four rows per 128-thread block. Each lane streams its share of the
// row as 128-bit loads (eight halves), multiplies with the same slice of x (read through the
// read-only cache; every warp of the SM reuses it) and the warp sums with shuffles. Rows
// whose length is not a multiple of eight, or unaligned pointers, take a scalar loop.
//
// Roofline: bytes per call = 2 * out * in (weights) + 2 * in + 4 * out; 2 * out * in FLOPs,
// so the kernel is bound by memory bandwidth (e.g. 4864 x 896: 8.7 MB, 2.6 us at 3.35 TB/s).
#include "cuda/gemv_fp16.cuh"

#include "cuda/reduce.cuh"
#include "cuda/vec.cuh"

namespace fastvlm::gpu {
namespace {

constexpr int kRowsPerBlock = 4;
constexpr int kThreads = 32 * kRowsPerBlock;

template <bool Vectorized>
__global__ void __launch_bounds__(kThreads)
    gemv_fp16_kernel(const __half* __restrict__ w, const __half* __restrict__ bias, const __half* __restrict__ x,
                     __half* __restrict__ y, int in_features, int out_features) {
    const int lane = int(threadIdx.x) % 32;
    const int row = int(blockIdx.x) * kRowsPerBlock + int(threadIdx.x) / 32;
    if (row >= out_features) return;  // whole warps leave together
    const __half* w_row = w + size_t(row) * size_t(in_features);
    float sum = 0.0f;
    if (Vectorized) {
        const int chunks = in_features / 8;
#pragma unroll 4
        for (int c = lane; c < chunks; c += 32) {
            float wf[8], xf[8];
            unpack_half8(load_half8(w_row + 8 * c), wf);
            unpack_half8(load_half8(x + 8 * c), xf);
#pragma unroll
            for (int i = 0; i < 8; ++i) sum = fmaf(wf[i], xf[i], sum);
        }
    } else {
        for (int k = lane; k < in_features; k += 32) sum = fmaf(__half2float(w_row[k]), __half2float(x[k]), sum);
    }
    sum = warp_sum(sum);
    if (lane == 0) y[row] = __float2half_rn(bias ? sum + __half2float(bias[row]) : sum);
}

}  // namespace

void gemv_fp16(const __half* w, const __half* bias, const __half* x, __half* y, int in_features, int out_features,
               cudaStream_t stream) {
    if (in_features <= 0 || out_features <= 0)
        fail("gemv_fp16", "bad shape: in_features ", in_features, ", out_features ", out_features);
    const dim3 grid(ceil_div(size_t(out_features), kRowsPerBlock)), block(kThreads);
    if (in_features % 8 == 0 && aligned_16(w) && aligned_16(x))
        launch("gemv_fp16", gemv_fp16_kernel<true>, grid, block, 0, stream, w, bias, x, y, in_features, out_features);
    else
        launch("gemv_fp16", gemv_fp16_kernel<false>, grid, block, 0, stream, w, bias, x, y, in_features,
               out_features);
}

}  // namespace fastvlm::gpu

// Sums and maxima across a warp (shuffles) and across a block (shuffles, then one shared
// array of per-warp partials).
#pragma once
#include "cuda/common.cuh"

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// Integer sums are exact, so every lane gets the same value whatever the order.
__device__ __forceinline__ int warp_sum(int v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Sum over a block whose blockDim.x is a multiple of 32 (y = z = 1); every thread gets it.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float warp_partials[32];
    const int lane = int(threadIdx.x) % 32, warp = int(threadIdx.x) / 32, warps = int(blockDim.x) / 32;
    v = warp_sum(v);
    if (lane == 0) warp_partials[warp] = v;
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < warps; ++w) total += warp_partials[w];
    __syncthreads();  // warp_partials is reused by the next call
    return total;
}

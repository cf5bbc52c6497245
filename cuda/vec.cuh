// 128-bit access to fp16 data: eight halves per load or store, unpacked to fp32 for the math.
// Callers check 16-byte alignment (fastvlm::gpu::aligned_16) before taking these paths.
#pragma once
#include "cuda/common.cuh"

// Eight halves from 16-byte aligned memory, through the read-only data path.
__device__ __forceinline__ uint4 load_half8(const __half* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

__device__ __forceinline__ void unpack_half8(const uint4& v, float (&f)[8]) {
    const __half2* h = reinterpret_cast<const __half2*>(&v);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 pair = __half22float2(h[i]);
        f[2 * i] = pair.x;
        f[2 * i + 1] = pair.y;
    }
}

__device__ __forceinline__ uint4 pack_half8(const float (&f)[8]) {
    uint4 v;
    __half2* h = reinterpret_cast<__half2*>(&v);
#pragma unroll
    for (int i = 0; i < 4; ++i) h[i] = __floats2half2_rn(f[2 * i], f[2 * i + 1]);
    return v;
}

__device__ __forceinline__ void store_half8(__half* p, const float (&f)[8]) {
    *reinterpret_cast<uint4*>(p) = pack_half8(f);
}

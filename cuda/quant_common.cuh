// What the quantization headers (cuda/quant_*.cuh) share: the qualifier that makes one function
// serve the loader, the CPU backend, the SIMT build and the device, and fp16 rounding that gives
// the same bits on every side.
#pragma once
#include <cstdint>

#include <cmath>

#include "runtime/half.h"  // the host side of the fp16 rounding

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define FASTVLM_HD __host__ __device__ __forceinline__
#else
#define FASTVLM_HD inline
#endif

namespace fastvlm::quant {

// x rounded to the nearest fp16 value (ties to even), returned as fp32.
FASTVLM_HD float round_to_fp16(float x) {
#if defined(__CUDA_ARCH__)
    return __half2float(__float2half_rn(x));
#else
    return fastvlm::fp16_to_float(fastvlm::float_to_fp16(x));
#endif
}

// Round to nearest, ties to even (torch.round, CUDA __float2int_rn), for |x| well inside int range.
FASTVLM_HD int round_to_int(float x) {
#if defined(__CUDA_ARCH__)
    return __float2int_rn(x);
#else
    return int(std::nearbyint(x));  // the default rounding mode: to nearest, ties to even
#endif
}

FASTVLM_HD float abs_f(float x) { return x < 0.0f ? -x : x; }

}  // namespace fastvlm::quant

// The activations of runtime/activation.h on the device, in fp32: GELU in its exact erf form
// (erff), as PyTorch's nn.GELU() computes it.
#pragma once
#include "cuda/common.cuh"
#include "runtime/activation.h"

namespace fastvlm::gpu {

__device__ __forceinline__ float apply_activation(float v, Activation act) {
    switch (act) {
        case Activation::GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        case Activation::ReLU: return v > 0.0f ? v : 0.0f;
        case Activation::Sigmoid: return 1.0f / (1.0f + expf(-v));
        default: return v;
    }
}

}  // namespace fastvlm::gpu

// The activations fused into matmuls and convolutions (kept apart from runtime/backend.h so
// that kernels can name them without the whole backend interface).
#pragma once

namespace fastvlm {

enum class Activation { None, GELU, ReLU, Sigmoid };  // GELU is the exact erf form

}  // namespace fastvlm

// Loading a linear layer in a weight mode: the checkpoint's weight [N, K] (and bias [N]) become
// a LinearWeight on the backend, quantized at load when the mode asks for it.
#pragma once
#include "loader/safetensors.h"
#include "runtime/backend.h"
#include "runtime/weight_mode.h"

namespace fastvlm {

// `bias` may be null. Throws naming the tensor when its shape is not [N, K] (or [N, K, 1, 1]).
LinearWeight load_linear(Backend& backend, const TensorView& weight, const TensorView* bias, WeightMode mode);

}  // namespace fastvlm

// Float tensors stored as F32, F16 or BF16 (weights, norm parameters, scales), widened to
// fp32 where a kernel reads them. Kernels template on the DType; launchers pick the
// instantiation from the run-time dtype with with_float_dtype.
#pragma once
#include <type_traits>

#include "cuda/common.cuh"
#include "runtime/dtype.h"

namespace fastvlm::gpu {

// Element i of a float tensor of dtype D, as fp32 (bf16 is the top half of an fp32).
template <DType D>
__device__ __forceinline__ float widen(const void* p, size_t i) {
    if (D == DType::F32) return static_cast<const float*>(p)[i];
    if (D == DType::F16) return __half2float(static_cast<const __half*>(p)[i]);
    return __uint_as_float(unsigned(static_cast<const unsigned short*>(p)[i]) << 16);
}

// Calls body(std::integral_constant<DType, D>()) for the dtype D of a float tensor; other
// dtypes fail, naming the operation and the tensor.
template <typename Body>
void with_float_dtype(DType dtype, const char* op, const char* what, Body&& body) {
    switch (dtype) {
        case DType::F32: body(std::integral_constant<DType, DType::F32>()); return;
        case DType::F16: body(std::integral_constant<DType, DType::F16>()); return;
        case DType::BF16: body(std::integral_constant<DType, DType::BF16>()); return;
        default: fail(op, what, " has dtype ", dtype_name(dtype), " (expected F32, F16 or BF16)");
    }
}

}  // namespace fastvlm::gpu

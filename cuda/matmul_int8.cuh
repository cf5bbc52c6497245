// LLM.int8's stage 2 for a prompt on tensor cores (cuda/matmul_int8.cu): the int8 x int8 products
// by mma.sync m16n8k32 with int32 accumulators, then the same dequant epilogue and fp16 outlier
// columns as gemv_int8, so the outputs are the same bits as gemv_int8's and the CPU twin's.
#pragma once
#include "cuda/gemv_int8.cuh"

namespace fastvlm::gpu {

// y[t, r] for every token of `a` (stage 1, quantize_activation_int8, as for gemv_int8).
//   bias [out_features] fp16 or nullptr; x [tokens, in_features] fp16 (the outlier columns read
//   it); y [tokens, out_features] fp16
// Needs in_features % 16 == 0 and a 16-byte aligned weight (matmul_int8_supported).
void matmul_int8(const Int8Weight& w, const __half* bias, const __half* x, const Int8Activation& a, __half* y,
                 cudaStream_t stream);

bool matmul_int8_supported(const Int8Weight& w);

}  // namespace fastvlm::gpu

// SwiGLU gate of the Qwen2 MLP: out = silu(gate) * up (cuda/silu_gate.cu).
#pragma once
#include "cuda/common.cuh"

namespace fastvlm::gpu {

// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i], in fp32, for 0 <= i < n
//   gate, up, out [n] fp16 (out may be gate or up)
void silu_gate(const __half* gate, const __half* up, __half* out, size_t n, cudaStream_t stream);

// The same on fp32 tensors (the backend's silu_gate), with the accurate expf:
//   gate, up, out [n] f32 (out may be gate or up)
void silu_gate_f32(const float* gate, const float* up, float* out, size_t n, cudaStream_t stream);

}  // namespace fastvlm::gpu

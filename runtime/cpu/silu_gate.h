// SwiGLU gate of the Qwen2 MLP: out = silu(gate) * up, the CPU twin of cuda/silu_gate.cu.
#pragma once
#include <cstddef>

namespace fastvlm::cpu {

// out[i] = gate[i] / (1 + exp(-gate[i])) * up[i]   for 0 <= i < n
//   gate, up, out [n] fp32 (e.g. [n_tokens, intermediate] flattened); out may be gate or up
void silu_gate(const float* gate, const float* up, float* out, size_t n);

}  // namespace fastvlm::cpu

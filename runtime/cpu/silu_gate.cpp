// SwiGLU gate, elementwise in fp32.
#include "runtime/cpu/silu_gate.h"

#include <cmath>

namespace fastvlm::cpu {

void silu_gate(const float* gate, const float* up, float* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

}  // namespace fastvlm::cpu

// cuda/silu_gate.cu run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/silu_gate_f32_cases.h"

// cuda/silu_gate.cu on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/silu_gate_f32_cases.h"

// cuda/silu_gate.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/silu_gate_cases.h"

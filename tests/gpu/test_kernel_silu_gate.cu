// cuda/silu_gate.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/silu_gate_cases.h"

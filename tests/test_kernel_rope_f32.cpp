// cuda/rope.cu run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/rope_f32_cases.h"

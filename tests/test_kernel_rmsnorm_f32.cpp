// cuda/rmsnorm.cu run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/rmsnorm_f32_cases.h"

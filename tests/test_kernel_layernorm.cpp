// cuda/layernorm.cu run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/layernorm_cases.h"

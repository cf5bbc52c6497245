// cuda/matmul_f16.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/matmul_f16_cases.h"

// cuda/gemv_fp16.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/gemv_fp16_cases.h"

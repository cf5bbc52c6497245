// cuda/gemv_int8.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/gemv_int8_cases.h"

// cuda/gemv_w4a4.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/gemv_w4a4_cases.h"

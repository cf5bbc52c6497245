// cuda/gemv_nf4.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/gemv_nf4_cases.h"

// cuda/rmsnorm.cu run through the SIMT runtime against its CPU twin (cases shared with the GPU suite).
#include "tests/kernels/rmsnorm_cases.h"

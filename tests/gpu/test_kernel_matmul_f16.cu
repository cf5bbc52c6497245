// cuda/matmul_f16.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/matmul_f16_cases.h"

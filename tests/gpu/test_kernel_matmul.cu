// cuda/matmul.cu on the device against its CPU twins (cases shared with the SIMT suite).
#include "tests/kernels/matmul_cases.h"

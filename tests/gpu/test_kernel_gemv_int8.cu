// cuda/gemv_int8.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/gemv_int8_cases.h"

// cuda/gemv_w4a4.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/gemv_w4a4_cases.h"

// cuda/gemv_fp16.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/gemv_fp16_cases.h"

// cuda/gemv_nf4.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/gemv_nf4_cases.h"

// cuda/rmsnorm.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/rmsnorm_cases.h"

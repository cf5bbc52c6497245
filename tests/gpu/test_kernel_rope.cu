// cuda/rope.cu on the device against its CPU twin (cases shared with the SIMT suite).
#include "tests/kernels/rope_cases.h"

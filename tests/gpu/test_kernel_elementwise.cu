// cuda/elementwise.cu on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/elementwise_cases.h"

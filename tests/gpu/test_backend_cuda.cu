// The CUDA backend on the device against the CPU backend (cases shared with the SIMT suite).
#include "tests/kernels/backend_cuda_cases.h"

// The CUDA backend run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/backend_cuda_cases.h"

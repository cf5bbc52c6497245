// cuda/attention.cu run through the SIMT runtime against the CPU backend (cases shared with the GPU suite).
#include "tests/kernels/attention_cases.h"
